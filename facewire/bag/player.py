"""Play a bag back into a live graph.

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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import zmq

from facewire.bag._bus import Heartbeat, StopFlag
from facewire.bag.reader import BagError, BagReader
from facewire.bus.transport import Bus, Publisher
from facewire.messages.base import lookup

log = logging.getLogger("facewire.bag")

SLEEP_SLICE_S = 0.05
LINGER_MS = 30_000  # on exit, what subscribers have not taken yet still goes out


class Player:
    """Publishes a bag's messages on their topics; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        topics: Iterable[str] | None = None,
        rate: float = 1.0,
        loop: bool = False,
        start_s: float = 0.0,
        fast: bool = False,
        wait_subscribers: int = 0,
        wait_timeout_s: float = 10.0,
        registry: str | None = None,
        name: str = "bag_play",
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if start_s < 0:
            raise ValueError(f"start must be >= 0 seconds, got {start_s}")
        self.reader = BagReader(path)
        self.info = self.reader.info()
        if self.info.truncated:
            log.warning("%s is truncated (%s); playing the %d recovered messages",
                        path, self.info.problem, self.info.messages)
        known = {t.topic: t.type for t in self.info.topics.values()}
        wanted = list(known) if topics is None else list(topics)
        missing = [t for t in wanted if t not in known]
        if missing:
            raise BagError(f"{path} has no topic {missing[0]!r} (topics: "
                           f"{', '.join(sorted(known)) or 'none'})")
        self.rate = rate
        self.loop = loop
        self.fast = fast
        self.start_ns = self.info.start_ns + int(start_s * 1e9)
        self.wait_subscribers = wait_subscribers
        self.wait_timeout_s = wait_timeout_s
        self.bus = Bus(name, registry=registry)
        self.pubs: dict[str, Publisher] = {}
        for topic in wanted:
            cls = lookup(known[topic])
            if cls is None:
                log.warning("%s: type %s is unknown to this facewire; not playing it",
                            topic, known[topic])
                continue
            pub = self.bus.publisher(topic, cls)
            pub.sock.setsockopt(zmq.LINGER, LINGER_MS)
            if fast:  # block rather than drop when a subscriber's queue is full
                pub.sock.setsockopt(zmq.XPUB_NODROP, 1)
            self.pubs[topic] = pub
        self.played = 0
        self._stop = StopFlag()
        self._heartbeat = Heartbeat(self.bus, lambda: {"played": self.played},
                                    lambda: {t: t for t in self.pubs})
        self._heartbeat.outputs = True

    def stop(self) -> None:
        self._stop.stopped = True

    def _connected(self) -> int:
        self.bus.process_events()
        return sum(pub.subscriber_count for pub in self.pubs.values())

    def _wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self.wait_timeout_s
        while self._connected() < self.wait_subscribers and not self._stop.stopped:
            if time.monotonic() > deadline:
                log.warning("only %d of %d subscribers connected after %.0f s; playing anyway",
                            self._connected(), self.wait_subscribers, self.wait_timeout_s)
                return
            self._heartbeat.beat()
            time.sleep(0.01)
        for pub in self.pubs.values():
            pub.wait_for_subscribers()

    def _sleep_until(self, t: float) -> None:
        """Sleep in slices, keeping the registry informed, until monotonic time t."""
        while not self._stop.stopped:
            left = t - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, SLEEP_SLICE_S))
            self.bus.process_events()
            self._heartbeat.beat()

    def _play_once(self) -> None:
        t0: float | None = None
        first_ns = 0
        for item in self.reader.messages(list(self.pubs), start_ns=self.start_ns):
            if self._stop.stopped:
                return
            if t0 is None:
                t0, first_ns = time.monotonic(), item.log_time_ns
            elif not self.fast:
                self._sleep_until(t0 + max(0, item.log_time_ns - first_ns) / 1e9 / self.rate)
                if self._stop.stopped:
                    return
            self.pubs[item.topic].publish(item.msg)
            self.played += 1
            self._heartbeat.beat()
        if self.reader.problem and not self.info.truncated:
            log.warning("%s: stopped early: %s", self.reader.path, self.reader.problem)

    def run(self) -> int:
        """Play (once, or until stopped with loop); returns the exit code."""
        with self._stop:
            try:
                self._heartbeat.beat(force=True)
                self._wait_for_subscribers()
                t = time.monotonic()
                while not self._stop.stopped:
                    before = self.played
                    self._play_once()
                    if not self.loop:
                        break
                    if self.played == before:
                        log.warning("nothing to play after --start; not looping")
                        break
                log.info("played %d messages in %.2f s", self.played, time.monotonic() - t)
            finally:
                self.close()
        return 0

    def close(self) -> None:
        """Leave the graph; queued messages still go out (the publishers linger)."""
        try:
            self._heartbeat.beat("stopped", force=True)
        finally:
            self.bus.close()

    def describe(self) -> dict[str, Any]:
        return {"topics": {t: p.msg_type.TYPE for t, p in self.pubs.items()},
                "messages": self.info.messages, "duration_s": self.info.duration_s}
