"""Record topics of a live graph into a bag: an ordinary node with a port per topic.

The recorder subscribes in ``queue`` delivery (a recorder wants every message, not the
newest) to the topics it is given, or to every topic: it watches the registry for
publishers and adds an input port for each topic as it appears. A subscription made
before a publisher starts loses nothing (the bus waits for known subscribers); with every
topic, the registry tells each new publisher to wait for the recorder's subscription too,
so a topic that appears later is recorded from its first message (unless the recorder
takes longer than the publisher's bounded wait, 2 s).

The file is flushed every ``flush_s`` seconds (one chunk each time, unless chunks fill
up sooner), so a recorder killed with SIGKILL loses at most the last interval;
SIGINT/SIGTERM stop it cleanly, what has already arrived is still written, then the
summary and footer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from facewire.bag.writer import DEFAULT_CHUNK_SIZE, BagWriter
from facewire.bus.node import Input, Node, Param
from facewire.messages.base import Message

log = logging.getLogger("facewire.bag")

RECORD_DEPTH = 10000
DEFAULT_FLUSH_S = 0.5


class Recorder(Node):
    """Writes every message of the chosen topics to one MCAP file."""

    drain_on_stop = True  # what arrived before SIGINT still goes into the bag
    params = {
        "path": Param(str, "", "MCAP file to write"),
        "topics": Param(tuple, (), "topics to record (empty: every topic, following new ones)"),
        "compression": Param(str, "zstd", "chunk compression", choices=("zstd", "lz4", "none")),
        "chunk_size": Param(int, DEFAULT_CHUNK_SIZE, "largest chunk in bytes", min=1),
        "flush_s": Param(float, DEFAULT_FLUSH_S, "write the chunk in progress this often",
                         min=0.001),
        "duration": Param(float, 0.0, "stop after this many seconds (0: when stopped)", min=0),
    }

    def on_start(self) -> None:
        """Opens the file (the runner has joined the graph: no file when it is unreachable)
        and subscribes."""
        if not self.p.path:
            raise ValueError("no bag file given (parameter path)")
        self.written = 0
        self.writer = BagWriter(self.p.path, compression=self.p.compression,
                                chunk_size=self.p.chunk_size)
        self.every(self.p.flush_s, self.writer.flush)
        if self.p.duration:
            self.every(self.p.duration, self.stop)
        self._watching = not self.p.topics
        self.follow_topics(self.p.topics, self._follow)

    def _follow(self, topic: str) -> None:
        if topic in self.input_ports:
            return
        self.add_input(topic, Input(Message, delivery="queue", depth=RECORD_DEPTH), topic,
                       self._writer_for(topic), watched=self._watching)
        log.info("recording %s", topic)

    def _writer_for(self, topic: str) -> Callable[[Message], None]:
        def write(msg: Message) -> None:
            self.writer.write(topic, msg, time.time_ns())
            self.written += 1

        return write

    def extra_counters(self) -> dict[str, int]:
        return {"written": getattr(self, "written", 0)}

    def on_stop(self) -> None:
        """Write the footer (the runner then leaves the graph)."""
        writer = getattr(self, "writer", None)
        if writer is None or writer.closed:
            return
        writer.close()
        drops: dict[str, Any] = {f"{topic}.{cause}": n
                                 for topic, sub in self.subscriptions().items()
                                 for cause, n in sub.drops.items()}
        log.info("recorded %d messages on %d topics to %s%s", self.written,
                 len(self.input_ports), writer.path, f" (dropped: {drops})" if drops else "")
