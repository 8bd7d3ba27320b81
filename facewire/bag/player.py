"""Play a bag back into a live graph: an ordinary node with an output port per topic.

Messages go out on their recorded topics with their recorded header ``media_time`` and
``capture_ns`` (the publisher re-stamps ``seq`` and ``stamp_ns``), so a graph fed from a
bag computes the same frames as it did live (DESIGN.md §3). The player is the head of the
graph and the one node that paces itself: by the recorded ``log_time`` differences divided
by ``rate``, or not at all with ``fast`` (tests, offline processing), where the publishers
block instead of dropping when a subscriber falls behind.

Before the first message it waits for ``wait_subscribers`` connected subscribers (summed
over its topics), so that a test or a pipeline started alongside it gets everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from facewire.bag.reader import BagError, BagMessage, BagReader
from facewire.bus.node import Node, Output, Param
from facewire.messages.base import lookup

log = logging.getLogger("facewire.bag")

SLEEP_SLICE_S = 0.05  # the longest the player keeps the loop (heartbeats, signals)
LINGER_S = 30.0  # on exit, what subscribers have not taken yet still goes out


class Player(Node):
    """Publishes a bag's messages on their topics; see the module docstring."""

    params = {
        "path": Param(str, "", "MCAP file to play"),
        "topics": Param(tuple, (), "topics to play (empty: all)"),
        "rate": Param(float, 1.0, "speed factor on the recorded timing"),
        "loop": Param(bool, False, "play again and again"),
        "start": Param(float, 0.0, "skip the first seconds of the bag"),
        "fast": Param(bool, False, "as fast as possible, without pacing and without drops"),
        "wait_subscribers": Param(int, 0, "subscribers to wait for before playing", min=0),
        "wait_timeout": Param(float, 10.0, "longest wait for them, seconds", min=0),
    }

    def __init__(self, name: str | None = "bag_play", namespace: str = "/",
                 params: dict[str, Any] | None = None,
                 remaps: dict[str, str] | None = None) -> None:
        """Reads the bag's summary and declares a port per topic (before joining a graph:
        a bad file is reported without one)."""
        super().__init__(name, namespace, params, remaps)
        if not self.p.rate > 0:
            raise ValueError(f"rate must be > 0, got {self.p.rate}")
        if self.p.start < 0:
            raise ValueError(f"start must be >= 0 seconds, got {self.p.start}")
        self.reader = BagReader(self.p.path)
        self.info = self.reader.info()
        if self.info.truncated:
            log.warning("%s is truncated (%s); playing the %d recovered messages",
                        self.p.path, self.info.problem, self.info.messages)
        known = {t.topic: t.type for t in self.info.topics.values()}
        wanted = list(self.p.topics) or list(known)
        missing = [t for t in wanted if t not in known]
        if missing:
            raise BagError(f"{self.p.path} has no topic {missing[0]!r} (topics: "
                           f"{', '.join(sorted(known)) or 'none'})")
        self.start_ns = self.info.start_ns + int(self.p.start * 1e9)
        for topic in wanted:
            cls = lookup(known[topic])
            if cls is None:
                log.warning("%s: type %s is unknown to this facewire; not playing it",
                            topic, known[topic])
                continue
            self.add_output(topic, Output(cls, block=self.p.fast, linger_s=LINGER_S), topic)
        self.played = 0

    def on_start(self) -> None:
        self._wait_until = time.monotonic() + self.p.wait_timeout
        self._ready = not self.p.wait_subscribers
        self._t_start = time.monotonic()
        self._new_pass()
        self.every(0.0, self._tick)

    def _new_pass(self) -> None:
        self._items: Iterator[BagMessage] = self.reader.messages(list(self.output_ports),
                                                                 start_ns=self.start_ns)
        self._item: BagMessage | None = None
        self._t0: float | None = None
        self._first_ns = 0
        self._pass_played = 0

    def _connected(self) -> int:
        return sum(self.subscriber_count(port) for port in self.output_ports)

    def _wait(self) -> bool:
        """True once enough subscribers are connected (or the wait timed out)."""
        if not self._ready:
            if self._connected() >= self.p.wait_subscribers:
                self._ready = True
            elif time.monotonic() > self._wait_until:
                log.warning("only %d of %d subscribers connected after %.0f s; playing anyway",
                            self._connected(), self.p.wait_subscribers, self.p.wait_timeout)
                self._ready = True
            else:
                time.sleep(0.01)
                return False
            self._t_start = time.monotonic()
        return True

    def _tick(self) -> None:
        """Publish what is due, sleeping for the pace, for at most SLEEP_SLICE_S."""
        if not self._wait():
            return
        until = time.monotonic() + SLEEP_SLICE_S
        while not self.stopping:
            if self._item is None:
                self._item = next(self._items, None)
                if self._item is None:
                    self._end_pass()
                    return
            item = self._item
            if self._t0 is None:
                self._t0, self._first_ns = time.monotonic(), item.log_time_ns
            elif not self.p.fast:
                due = self._t0 + max(0, item.log_time_ns - self._first_ns) / 1e9 / self.p.rate
                now = time.monotonic()
                if due > until:
                    time.sleep(max(0.0, until - now))
                    return
                if due > now:
                    time.sleep(due - now)
            self.publish(item.topic, item.msg)
            self.played += 1
            self._pass_played += 1
            self._item = None
            if time.monotonic() >= until:
                return

    def _end_pass(self) -> None:
        if self.reader.problem and not self.info.truncated:
            log.warning("%s: stopped early: %s", self.reader.path, self.reader.problem)
        if self.p.loop and self._pass_played:
            self._new_pass()
            return
        if self.p.loop:
            log.warning("nothing to play after --start; not looping")
        self.stop()

    def extra_counters(self) -> dict[str, int]:
        return {"played": self.played}

    def on_stop(self) -> None:
        log.info("played %d messages in %.2f s", self.played,
                 time.monotonic() - getattr(self, "_t_start", time.monotonic()))

    def describe(self) -> dict[str, Any]:
        return {"topics": {t: spec.type.TYPE for t, spec in self.output_ports.items()},
                "messages": self.info.messages, "duration_s": self.info.duration_s}
