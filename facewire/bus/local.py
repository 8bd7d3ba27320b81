"""An in-process bus: the same Node code wired by direct calls instead of sockets.

Offline work (``facewire animate``) and unit tests run real nodes this way: a publish
calls the subscribers' handlers at once, depth first, so a file flows through the whole
graph as fast as the CPU allows, with no second implementation of any node.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from facewire.bus.addresses import resolve_topic
from facewire.messages.base import Message


class _NoRegistry:
    address = "local"

    def send(self, req: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class LocalPublisher:
    def __init__(self, bus: LocalBus, topic: str) -> None:
        self.bus, self.topic, self.seq = bus, topic, 0
        self.subs = bus.subs[topic]  # the bus's own list: later subscribers join it

    def publish(self, msg: Message) -> None:
        msg = msg.stamped(self.seq, time.time_ns())
        self.seq += 1
        for sub in self.subs:
            sub.callback(msg)

    @property
    def subscriber_count(self) -> int:
        return len(self.bus.subs[self.topic])


class LocalSubscription:
    def __init__(self, topic: str, callback: Callable[[Message], Any] | None) -> None:
        self.topic = topic
        self.drops: Counter[str] = Counter()
        self.received: list[Message] = []
        self.callback = callback or self.received.append


class LocalBus:
    """Duck-types facewire.bus.transport.Bus for in-process graphs."""

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace
        self.subs: dict[str, list[LocalSubscription]] = defaultdict(list)
        self.registry = _NoRegistry()
        self.published: dict[str, str] = {}  # topic -> message type, as a registry knows
        self.watchers: list[Callable[[dict[str, Any]], Any]] = []

    def scoped(self, namespace: str) -> LocalBus:
        """A view of the same bus under another namespace."""
        view = LocalBus.__new__(LocalBus)
        view.__dict__.update(self.__dict__)
        view.namespace = namespace
        return view

    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]
                         ) -> list[dict[str, Any]]:
        """Call ``handler`` for the first publisher of each new topic; those known now."""
        self.watchers.append(handler)
        return [{"topic": t, "type": ty, "node": "local"} for t, ty in self.published.items()]

    def watch_sub_id(self, topic: str) -> str:
        return "local:" + topic

    def resolve(self, name: str) -> str:
        return resolve_topic(name, self.namespace)

    def publisher(self, topic: str, msg_type: type[Message], depth: int = 0) -> LocalPublisher:
        pub = LocalPublisher(self, self.resolve(topic))
        if pub.topic not in self.published:
            self.published[pub.topic] = msg_type.TYPE
            for handler in list(self.watchers):
                handler({"topic": pub.topic, "type": msg_type.TYPE, "node": "local"})
        return pub

    def subscribe(self, topic: str, msg_type: type[Message] | None = None, **kwargs: Any
                  ) -> LocalSubscription:
        sub = LocalSubscription(self.resolve(topic), kwargs.get("callback"))
        self.subs[sub.topic].append(sub)
        return sub

    def process_events(self) -> None:
        pass

    def spin_once(self, timeout_ms: int = 0) -> int:
        return 0

    def close(self) -> None:
        pass
