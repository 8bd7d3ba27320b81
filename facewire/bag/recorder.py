"""Record topics of a live graph into a bag.

The recorder subscribes in ``queue`` delivery (a recorder wants every message, not the
newest) to the topics it is given, or to every topic: it watches the registry for
publishers and follows topics as they appear. A subscription made before a publisher
starts loses nothing (the bus waits for known subscribers); with ``--all`` the registry
tells each new publisher to wait for the recorder's subscription too, so a topic that
appears later is recorded from its first message (unless the recorder takes longer than
the publisher's bounded wait, 2 s).

The file is flushed every ``flush_s`` seconds (one chunk each time, unless chunks fill
up sooner), so a recorder killed with SIGKILL loses at most the last interval;
SIGINT/SIGTERM stop it cleanly with the summary and footer written.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facewire.bag._bus import Heartbeat, StopFlag
from facewire.bag.writer import DEFAULT_CHUNK_SIZE, BagWriter
from facewire.bus.transport import Bus, Subscription
from facewire.messages.base import Message

log = logging.getLogger("facewire.bag")

RECORD_DEPTH = 10000
DEFAULT_FLUSH_S = 0.5


class Recorder:
    """Writes every message of the chosen topics to one MCAP file."""

    def __init__(
        self,
        path: str | Path,
        topics: list[str] | None = None,
        registry: str | None = None,
        compression: str = "zstd",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        flush_s: float = DEFAULT_FLUSH_S,
        name: str = "bag_record",
    ) -> None:
        self.flush_s = flush_s
        self.bus = Bus(name, registry=registry)  # first: no file when the graph is unreachable
        try:
            self.writer = BagWriter(path, compression=compression, chunk_size=chunk_size)
        except BaseException:
            self.bus.close()
            raise
        self.subs: dict[str, Subscription] = {}
        self.written = 0
        self._stop = StopFlag()
        self._heartbeat = Heartbeat(self.bus, self._counters, self._topics)
        self._watching = not topics
        if topics:
            for topic in topics:
                self._follow(self.bus.resolve(topic))
        else:
            for pub in self.bus.watch_publishers(self._on_publisher):
                self._on_publisher(pub)

    def _on_publisher(self, pub: dict[str, Any]) -> None:
        self._follow(pub["topic"])

    def _follow(self, topic: str) -> None:
        if topic in self.subs:
            return
        sub_id = self.bus.watch_sub_id(topic) if self._watching else None
        self.subs[topic] = self.bus.subscribe(
            topic, None, delivery="queue", depth=RECORD_DEPTH, callback=self._writer_for(topic),
            sub_id=sub_id)
        log.info("recording %s", topic)

    def _writer_for(self, topic: str) -> Callable[[Message], None]:
        def write(msg: Message) -> None:
            self.writer.write(topic, msg, time.time_ns())
            self.written += 1

        return write

    def _counters(self) -> dict[str, Any]:
        counters: Counter[str] = Counter({"written": self.written})
        for topic, sub in self.subs.items():
            for cause, n in sub.drops.items():
                counters[f"drop.{topic}.{cause}"] = n
        return dict(counters)

    def _topics(self) -> dict[str, str]:
        return {topic: topic for topic in self.subs}

    def stop(self) -> None:
        self._stop.stopped = True

    def run(self, duration_s: float | None = None) -> int:
        """Record until SIGINT/SIGTERM, stop() or duration_s; always finish the file."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_flush = time.monotonic() + self.flush_s
        with self._stop:
            try:
                self._heartbeat.beat(force=True)
                while not self._stop.stopped:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    self.bus.spin_once(min(50, int(self.flush_s * 1000)))
                    if time.monotonic() >= next_flush:
                        self.writer.flush()
                        next_flush = time.monotonic() + self.flush_s
                    self._heartbeat.beat()
                while self.bus.spin_once(0):  # what already arrived still goes in
                    pass
            finally:
                self.close()
        return 0

    def close(self) -> None:
        """Write the footer and leave the graph."""
        if self.writer.closed:
            return
        self.writer.close()
        try:
            self._heartbeat.beat("stopped", force=True)
        finally:
            self.bus.close()
        drops = {k: v for k, v in self._counters().items() if k.startswith("drop.")}
        log.info("recorded %d messages on %d topics to %s%s", self.written, len(self.subs),
                 self.writer.path, f" (dropped: {drops})" if drops else "")
