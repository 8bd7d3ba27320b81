"""What the recorder and player share: a heartbeat that keeps them known to the registry.

They are not Nodes (their topics are only known at run time), but the registry forgets a
client that stays silent, and ``facewire node list`` should show them with counters.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from facewire.bus.addresses import hostname
from facewire.bus.transport import Bus
from facewire.messages.codec import encode_bytes
from facewire.messages.types import NodeStatus

HEARTBEAT_S = 1.0


class Heartbeat:
    """Sends a NodeStatus to the registry at most once per HEARTBEAT_S."""

    def __init__(self, bus: Bus, counters: Callable[[], dict[str, Any]],
                 topics: Callable[[], dict[str, str]]) -> None:
        self.bus = bus
        self.counters = counters
        self.topics = topics
        self.outputs = False
        self._next = 0.0

    def beat(self, state: str = "running", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + HEARTBEAT_S
        ports = self.topics()
        status = NodeStatus(
            node=self.bus.node, state=state, pid=os.getpid(), host=hostname(),
            inputs={} if self.outputs else ports, outputs=ports if self.outputs else {},
            counters=self.counters(),
        )
        self.bus.registry.send({"op": "status", "status": encode_bytes(status)})


class StopFlag:
    """Set by SIGINT/SIGTERM while installed (a clean stop writes the bag's footer)."""

    def __init__(self) -> None:
        self.stopped = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only; stop() the owner instead
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._set)
        return self

    def _set(self, *_: Any) -> None:
        self.stopped = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
