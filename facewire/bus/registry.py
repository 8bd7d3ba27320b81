"""The discovery registry: who publishes and who subscribes to which topic.

It is never on the data path. Nodes talk to it over one ROUTER socket (one address,
on one host or across hosts): requests get replies, and the registry pushes events to
the clients concerned (a new publisher to a topic's subscribers, a new subscriber to its
publishers). Clients that stop sending heartbeats are forgotten with their topics, so
a node killed with SIGKILL does not leave stale endpoints behind.

Any local process can reach the registry, so it trusts nobody: every field is checked
before it is stored (:mod:`facewire.bus.validate`), only the client that made an entry may
remove it, each client has a cap on entries and a request rate, and a client the registry
does not know (it restarted) is asked to register again.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from facewire.bus import validate as v
from facewire.bus.addresses import registry_address
from facewire.bus.curve import CurveConfig

log = logging.getLogger("facewire.registry")

CLIENT_TIMEOUT_S = 5.0
MAX_CLIENTS = 1024
MAX_ENTRIES_PER_CLIENT = 256  # publishers and subscriptions, each
RATE_PER_S = 200.0  # requests per client and second, with a burst of RATE_BURST
RATE_BURST = 400.0
REREGISTER_EVERY_S = 1.0
MAX_REQUEST_BYTES = 256 * 1024


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
    tokens: float = RATE_BURST
    asked_to_register: float = -1e9


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
        self.refused: Counter[str] = Counter()

    def handle(self, identity: bytes, req: dict[str, Any]) -> dict[str, Any] | None:
        """One request; a refused one gets ``ok: False`` and a one-line reason."""
        now = time.monotonic()
        client = self.clients.get(identity)
        if client is None:
            if len(self.clients) >= MAX_CLIENTS:
                return self._refuse("clients", f"too many clients (at most {MAX_CLIENTS})")
            client = self.clients[identity] = _Client(identity)
        client.tokens = min(RATE_BURST, client.tokens + (now - client.last_seen) * RATE_PER_S)
        client.last_seen = now
        if client.tokens < 1.0:
            reply = self._refuse("rate", f"more than {RATE_PER_S:.0f} requests/s")
            return reply if "id" in req else None  # no reply floods for fire-and-forget
        client.tokens -= 1.0
        op = req.get("op")
        handler = getattr(self, f"_op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return self._refuse("unknown_op", f"unknown registry operation {str(op)[:40]!r}")
        if op in ("status", "ping") and not client.node and "id" not in req:
            # heartbeats from a client that never said hello: this registry restarted
            # under a running node, which is asked to register again
            if now - client.asked_to_register >= REREGISTER_EVERY_S:
                client.asked_to_register = now
                self.outbox.append((identity, {"ev": "register"}))
        try:
            return handler(client, req)
        except v.BadEntry as exc:
            return self._refuse(f"bad_{op}", f"{op}: {exc}")

    def _refuse(self, cause: str, text: str) -> dict[str, Any]:
        if cause not in self.refused:
            log.warning("refused a request (%s); further ones of this kind are only counted",
                        text)
        self.refused[cause] += 1
        return {"ok": False, "error": text}

    def _check_entries(self, client: _Client, table: dict[str, Any], key: str,
                       what: str) -> None:
        """Refuse an id another client owns, and more entries than the per-client cap."""
        entry = table.get(key)
        if entry is not None and entry.client != client.identity:
            raise v.BadEntry(f"{what} id {key!r} belongs to another client")
        if not client.node:
            raise v.BadEntry("say hello first (RegistryClient does)")
        if entry is None and sum(e.client == client.identity for e in table.values()
                                 ) >= MAX_ENTRIES_PER_CLIENT:
            raise v.BadEntry(f"more than {MAX_ENTRIES_PER_CLIENT} {what}s from one client")

    # -- operations -------------------------------------------------------------------
    def _op_hello(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        node = v.text(req, "node", v.MAX_NAME)
        host = v.text(req, "host", v.MAX_NAME, empty=True) if "host" in req else ""
        client.pid = v.integer(req, "pid", 0, v.MAX_PID, 0)
        client.node, client.host = node, host
        return {"ok": True}

    def _op_advertise(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        pub = _Pub(client.identity, v.text(req, "pub_id", v.MAX_ID), v.topic(req),
                   v.text(req, "type", v.MAX_NAME), v.endpoint(req), client.node)
        self._check_entries(client, self.pubs, pub.pub_id, "publisher")
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
        sub = _Sub(client.identity, v.text(req, "sub_id", v.MAX_ID), v.topic(req), client.node)
        self._check_entries(client, self.subs, sub.sub_id, "subscription")
        self.subs[sub.sub_id] = sub
        event = {"ev": "subscriber", "topic": sub.topic, "sub_id": sub.sub_id}
        for ident in {p.client for p in self.pubs.values() if p.topic == sub.topic}:
            self.outbox.append((ident, event))
        pubs = [self._pub_info(p) for p in self.pubs.values() if p.topic == sub.topic]
        return {"ok": True, "publishers": pubs}

    def _op_unadvertise(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        pub_id = v.text(req, "pub_id", v.MAX_ID)
        pub = self.pubs.get(pub_id)
        if pub is not None and pub.client != client.identity:
            raise v.BadEntry(f"publisher {pub_id!r} belongs to another client")
        self.pubs.pop(pub_id, None)
        return {"ok": True}

    def _op_unsubscribe(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        sub_id = v.text(req, "sub_id", v.MAX_ID)
        sub = self.subs.get(sub_id)
        if sub is not None and sub.client != client.identity:
            raise v.BadEntry(f"subscription {sub_id!r} belongs to another client")
        if self.subs.pop(sub_id, None) is not None:
            self._notify_sub_gone(sub)
        return {"ok": True}

    def _op_watch(self, client: _Client, req: dict[str, Any]) -> dict[str, Any]:
        """Receive every publisher event (recorders of 'all topics')."""
        client.watch_id = v.text(req, "watch_id", 64, empty=True) if "watch_id" in req else ""
        client.watches_all = True
        return {"ok": True, "publishers": [self._pub_info(p) for p in self.pubs.values()]}

    def _op_status(self, client: _Client, req: dict[str, Any]) -> None:
        status = req.get("status")
        if status is not None and (not isinstance(status, bytes)
                                   or len(status) > v.MAX_STATUS_BYTES):
            self._refuse("bad_status", f"status must be at most {v.MAX_STATUS_BYTES} bytes")
            return None
        client.status = status
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
    try:
        curve = CurveConfig.from_env(ctx)  # with CURVE, clients must prove their key here too
    except (OSError, ValueError) as exc:
        log.error("registry cannot start: %s", exc)
        return 1
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)  # larger ones cost the sender its link
    curve.apply_server(sock)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        log.error("registry cannot bind %s: %s (is another registry running there?)", address, exc)
        curve.close()
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
    curve.close()
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
