"""Small nodes for tests, demos and checking a graph's wiring."""

from __future__ import annotations

import json
import time

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import Landmarks, Text


class Talker(Node):
    """Publishes numbered Text messages at a fixed rate (a stand-in source)."""

    outputs = {"output": Output(Text)}
    params = {
        "rate": Param(float, 10.0, "messages per second", min=0.001),
        "count": Param(int, 0, "stop after this many (0: never)", min=0),
        "text": Param(str, "hello", "message text; the number is appended"),
    }

    def on_start(self) -> None:
        self.n = 0
        self.t0 = time.monotonic()
        self.every(1.0 / self.p.rate, self.tick)

    def tick(self) -> None:
        if self.p.count and self.n >= self.p.count:
            return
        media_time = self.n / self.p.rate
        self.publish("output", Text(text=f"{self.p.text} {self.n}").with_header(
            media_time=media_time, capture_ns=time.time_ns()))
        self.n += 1


class Relay(Node):
    """Copies its input to its output, optionally prefixing the text."""

    inputs = {"input": Input(Text)}
    outputs = {"output": Output(Text)}
    params = {"prefix": Param(str, "", "text put in front")}

    def on_input(self, msg: Text) -> None:
        self.publish("output", Text(text=self.p.prefix + msg.text, header=msg.header))


class Sink(Node):
    """Appends every message it receives to a JSON-lines file (for tests)."""

    inputs = {"input": Input(Text)}
    params = {"path": Param(str, "", "JSON-lines file to append to (empty: log only)")}

    def on_input(self, msg: Text) -> None:
        line = {"text": msg.text, "seq": msg.header.seq, "media_time": msg.header.media_time}
        if self.p.path:
            with open(self.p.path, "a") as f:
                f.write(json.dumps(line) + "\n")
        else:
            self.log.info("%s", line)


class ArraySink(Node):
    """Appends a line per Landmarks message to a JSON-lines file.

    An input with a fixed-shape float array, so tests can send wrong dtypes, shapes and
    NaN to a running node.
    """

    inputs = {"input": Input(Landmarks)}
    params = {"path": Param(str, "", "JSON-lines file to append to (empty: log only)")}

    def on_input(self, msg: Landmarks) -> None:
        line = {"seq": msg.header.seq, "media_time": msg.header.media_time,
                "sum": float(msg.displacements.sum())}
        if self.p.path:
            with open(self.p.path, "a") as f:
                f.write(json.dumps(line) + "\n")
        else:
            self.log.info("%s", line)
