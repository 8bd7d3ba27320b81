"""The discovery registry: who publishes and who subscribes to which topic.

It is never on the data path. Nodes talk to it over one ROUTER socket (one address,
on one host or across hosts): requests get replies, and the registry pushes events to
the clients concerned (a new publisher to a topic's subscribers, a new subscriber to its
publishers). Clients that stop sending heartbeats are forgotten with their topics, so
a node killed with SIGKILL does not leave stale endpoints behind.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from facewire.bus.addresses import registry_address

log = logging.getLogger("facewire.registry")

CLIENT_TIMEOUT_S = 5.0


@dataclass
class _Client:
    identity: bytes
    node: str = ""
    host: str = ""
    pid: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    status: bytes | None = None  # last NodeStatus, bag form
    watches_all: bool = False
    watch_id: str = ""  # a watcher subscribes to topic T as sub_id watch_id + T


@dataclass
class _Pub:
    client: bytes
    pub_id: str
    topic: str
    type: str
    endpoint: str
    node: str


@dataclass
class _Sub:
    client: bytes
    sub_id: str
    topic: str
    node: str


class Registry:
    """The registry's state and its request handlers (socket-free, so it is testable)."""

    def __init__(self) -> None:
        self.clients: dict[bytes, _Client] = {}
        self.pubs: dict[str, _Pub] = {}
        self.subs: dict[str, _Sub] = {}
        self.outbox: list[tuple[bytes, dict[str, Any]]] = []

    def handle(self, identity: bytes, req: dict[str, Any]) -> dict[str, Any] | None:
        client = self.clients.get(identity)
        if client is None:
            client = self.clients[identity] = _Client(identity)
        client.last_seen = time.monotonic()
        op = req.get("op")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return {"ok": False, "error": f"unknown registry operation {op!r}"}
        return handler(client, req)

    # -- operations -------------------------------------------------------------------
    def _op_hello(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        client.node = str(req.get("node", ""))
        client.host = str(req.get("host", ""))
        client.pid = int(req.get("pid", 0))
        return {"ok": True}

    def _op_advertise(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        pub = _Pub(client.identity, req["pub_id"], req["topic"], req["type"], req["endpoint"],
                   client.node)
        self.pubs[pub.pub_id] = pub
        event = {"ev": "publisher", **self._pub_info(pub)}
        notified = {s.client for s in self.subs.values() if s.topic == pub.topic}
        notified |= {c.identity for c in self.clients.values() if c.watches_all}
        for ident in notified - {client.identity}:
            self.outbox.append((ident, event))
        subs = {s.sub_id for s in self.subs.values() if s.topic == pub.topic}
        # watchers (recorders of every topic) will subscribe as soon as they hear of this
        # publisher: it waits for them as for any known subscriber, so nothing is lost
        subs |= {c.watch_id + pub.topic for c in self.clients.values()
                 if c.watches_all and c.watch_id and c.identity != client.identity}
        return {"ok": True, "subscribers": sorted(subs)}

    def _op_subscribe(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        sub = _Sub(client.identity, req["sub_id"], req["topic"], client.node)
        self.subs[sub.sub_id] = sub
        event = {"ev": "subscriber", "topic": sub.topic, "sub_id": sub.sub_id}
        for ident in {p.client for p in self.pubs.values() if p.topic == sub.topic}:
            self.outbox.append((ident, event))
        pubs = [self._pub_info(p) for p in self.pubs.values() if p.topic == sub.topic]
        return {"ok": True, "publishers": pubs}

    def _op_unadvertise(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        self.pubs.pop(req["pub_id"], None)
        return {"ok": True}

    def _op_unsubscribe(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        sub = self.subs.pop(req["sub_id"], None)
        if sub is not None:
            self._notify_sub_gone(sub)
        return {"ok": True}

    def _op_watch(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        """Receive every publisher event (recorders of 'all topics')."""
        client.watches_all = True
        client.watch_id = str(req.get("watch_id", ""))
        return {"ok": True, "publishers": [self._pub_info(p) for p in self.pubs.values()]}

    def _op_status(self, client: _Client, req: dict[str, Any]) -> None:
        client.status = req.get("status")
        return None  # heartbeats get no reply

    def _op_bye(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        self._forget(client.identity)
        return {"ok": True}

    def _op_list(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        topics: dict[str, dict[str, Any]] = {}
        for p in self.pubs.values():
            t = topics.setdefault(p.topic, {"types": [], "publishers": [], "subscribers": []})
            if p.type not in t["types"]:
                t["types"].append(p.type)
            t["publishers"].append(p.node)
        for s in self.subs.values():
            t = topics.setdefault(s.topic, {"types": [], "publishers": [], "subscribers": []})
            t["subscribers"].append(s.node)
        nodes = [
            {"node": c.node, "host": c.host, "pid": c.pid,
             "age_s": round(time.monotonic() - c.last_seen, 3), "status": c.status}
            for c in self.clients.values() if c.node
        ]
        return {"ok": True, "topics": topics, "nodes": nodes}

    def _op_ping(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    # -- bookkeeping ------------------------------------------------------------------
    @staticmethod
    def _pub_info(p: _Pub) -> dict[str, Any]:
        return {"topic": p.topic, "type": p.type, "endpoint": p.endpoint, "pub_id": p.pub_id,
                "node": p.node}

    def _notify_sub_gone(self, sub: _Sub) -> None:
        event = {"ev": "unsubscriber", "topic": sub.topic, "sub_id": sub.sub_id}
        for ident in {p.client for p in self.pubs.values() if p.topic == sub.topic}:
            self.outbox.append((ident, event))

    def _forget(self, identity: bytes) -> None:
        self.clients.pop(identity, None)
        for pub_id in [k for k, p in self.pubs.items() if p.client == identity]:
            del self.pubs[pub_id]
        for sub_id in [k for k, s in self.subs.items() if s.client == identity]:
            self._notify_sub_gone(self.subs.pop(sub_id))

    def expire(self, timeout_s: float = CLIENT_TIMEOUT_S) -> list[str]:
        """Forget clients silent for longer than timeout_s; returns their node names."""
        now = time.monotonic()
        dead = [c for c in self.clients.values() if now - c.last_seen > timeout_s]
        for c in dead:
            self._forget(c.identity)
        return [c.node for c in dead]


def serve(address: str | None = None, ready: Any = None) -> int:
    """Run the registry until SIGINT/SIGTERM."""
    address = registry_address(address)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        log.error("registry cannot bind %s: %s (is another registry running there?)", address, exc)
        return 1
    state = Registry()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("registry listening on %s", address)
    if ready is not None:
        ready()
    last_expire = time.monotonic()
    while not stopping:
        if sock.poll(200):
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                _serve_one(sock, state, frames)
        for ident, event in state.outbox:
            sock.send_multipart([ident, msgpack.packb(event)])
        state.outbox.clear()
        if time.monotonic() - last_expire > 1.0:
            last_expire = time.monotonic()
            for name in state.expire():
                if name:  # unnamed clients are one-off CLI queries
                    log.warning("node %r stopped sending heartbeats; forgot its topics", name)
    sock.close(0)
    return 0


def _serve_one(sock: zmq.Socket, state: Registry, frames: list[bytes]) -> None:
    if len(frames) != 2:
        return
    ident, payload = frames
    try:
        req = msgpack.unpackb(payload, raw=False)
        if not isinstance(req, dict):
            raise ValueError("not a map")
        reply = state.handle(ident, req)
    except Exception as exc:  # a bad request must never stop discovery for everyone
        reply = {"ok": False, "error": f"bad registry request: {exc}"}
        req = {}
    if reply is not None:
        reply["id"] = req.get("id")
        sock.send_multipart([ident, msgpack.packb(reply)])
