"""Publishers and subscribers: one ZeroMQ hop from publisher to subscriber.

Each publisher binds its own XPUB socket (ipc:// on one host, tcp:// across hosts) and
advertises it in the registry; subscribers connect straight to every publisher of their
topic. Frames on the wire: ``[topic NUL publisher-id meta, *array buffers]``: a message
without arrays is one frame (each frame costs a syscall and Python work on both ends),
and subscribing to ``topic NUL`` makes ZeroMQ's prefix filter an exact topic match.

No slow-joiner loss: every subscription also subscribes to a private "hello" topic, which
the publisher's XPUB socket sees once the connection is up. The registry tells a publisher
which subscribers exist; before it sends, it waits (bounded) until it has seen each one's
hello. So a subscriber declared before sending starts receives everything.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import zmq

from facewire.bus import validate
from facewire.bus.addresses import (
    advertise_ip,
    choose_transport,
    new_ipc_endpoint,
    resolve_topic,
)
from facewire.bus.client import RegistryClient
from facewire.bus.curve import CurveConfig
from facewire.messages.base import Message
from facewire.messages.codec import DEFAULT_MAX_BYTES, DecodeError, decode_frames, encode_frames

log = logging.getLogger("facewire.bus")

HELLO_PREFIX = b"\x00hello\x00"
PUB_ID_LEN = 12


def wire_prefix(topic: str) -> bytes:
    """What every message on ``topic`` starts with (and what subscribers filter on)."""
    return topic.encode() + b"\x00"
SYNC_TIMEOUT_S = 2.0
# Once a publisher is streaming, a subscriber announced later is waited for only briefly,
# and all such waits together draw on a budget: announcements of subscribers that never
# connect (dead, or made up by a hostile client) cannot stall a stream for long.
LATE_SYNC_S = 0.1
LATE_BUDGET_S = 0.5  # at most this much waiting in a burst ...
LATE_REFILL = 0.05  # ... refilled at this many seconds per second (5% of the time at worst)
# A sequence number this far ahead of the last one, or behind it, starts a new stream
# (a restarted publisher, a wrapped or forged counter) instead of counting a huge gap.
MAX_SEQ_GAP = 1 << 20
MAX_SEEN = 4096  # connected subscriber ids a publisher remembers
MAX_SOURCES = 1024  # publishers whose last seq a subscription remembers
EVENT_CHECK_S = 0.05
WAIT_SLICE_MS = 50
QUEUED_S = 20e-6  # a blocking receive this fast found its message already queued
KEEPALIVE_S = 1.0  # well inside the registry's CLIENT_TIMEOUT_S
DELIVERIES = ("latest", "queue")
# Plain ints: pyzmq's enum constants cost an enum construction per `&` on the hot path.
_SNDMORE, _NOBLOCK, _RCVMORE = int(zmq.SNDMORE), int(zmq.NOBLOCK), int(zmq.RCVMORE)
# Below this an array frame is copied: pyzmq's zero-copy send (a Frame plus a release
# through its gc thread) costs more than copying until about 256 KB.
ZERO_COPY_MIN_BYTES = 256 * 1024


class Publisher:
    """Sends messages of one type on one topic."""

    def __init__(self, bus: Bus, topic: str, msg_type: type[Message], depth: int = 1000) -> None:
        self.bus = bus
        self.topic = topic
        self.msg_type = msg_type
        self.pub_id = uuid.uuid4().hex[:PUB_ID_LEN]
        self._head = wire_prefix(topic) + self.pub_id.encode()
        self.sock = bus.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, depth)
        self.sock.setsockopt(zmq.LINGER, 2000)
        bus.curve.apply_server(self.sock)
        self.endpoint = self._bind()
        self.seq = 0
        self.sent = 0
        self._expected: set[str] = set()
        self._seen: set[str] = set()
        self._waiting = False  # some expected subscriber not seen yet (checked per publish)
        self._next_event_check = 0.0
        self._late_budget = LATE_BUDGET_S
        self._late_at = time.monotonic()
        self._gave_up = 0
        self.advertise()

    def advertise(self) -> None:
        """Tell the registry about this publisher (again, after a registry restart)."""
        reply = self.bus.registry.request(
            {"op": "advertise", "topic": self.topic, "type": self.msg_type.TYPE,
             "endpoint": self.endpoint, "pub_id": self.pub_id}
        )
        subscribers = reply.get("subscribers")
        for sub_id in subscribers if isinstance(subscribers, list) else ():
            self.expect(sub_id)

    def _bind(self) -> str:
        if self.bus.transport == "ipc":
            endpoint = new_ipc_endpoint(self.topic)
            self.sock.bind(endpoint)
            return endpoint
        # bound to the interface it is advertised on, never to every interface
        ip = advertise_ip(self.bus.registry.address)
        self.sock.bind(f"tcp://{ip}:*")
        port = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode().rsplit(":", 1)[1]
        return f"tcp://{ip}:{port}"

    def publish(self, msg: Message) -> None:
        """Stamp seq and wall clock, wait for known subscribers to be connected, send."""
        now = time.monotonic()
        if now >= self._next_event_check:
            self._next_event_check = now + EVENT_CHECK_S
            self.bus.process_events()
        if self._waiting:
            self.wait_for_subscribers()
        frames = encode_frames(msg, seq=self.seq, stamp_ns=time.time_ns())
        send = self.sock.send
        last = len(frames) - 1
        send(self._head + frames[0], _SNDMORE if last else 0)
        for i in range(1, last + 1):
            frame = frames[i]
            send(frame, 0 if i == last else _SNDMORE, copy=frame.nbytes < ZERO_COPY_MIN_BYTES)
        self.seq += 1
        self.sent += 1

    def expect(self, sub_id: Any) -> None:
        if not isinstance(sub_id, str) or not 0 < len(sub_id) <= validate.MAX_ID:
            self.bus.count_bad_entry("subscriber_id")
            return
        self._expected.add(sub_id)
        if sub_id not in self._seen:
            self._waiting = True

    def forget(self, sub_id: str) -> None:
        self._expected.discard(sub_id)
        self._seen.discard(sub_id)
        self._waiting = bool(self._expected - self._seen)

    def wait_for_subscribers(self, timeout_s: float = SYNC_TIMEOUT_S) -> bool:
        """Block until every subscriber the registry announced has connected (bounded:
        before the first send by ``timeout_s``, later by the late-joiner budget)."""
        start = time.monotonic()
        if self.sent:
            self._late_budget = min(LATE_BUDGET_S, self._late_budget
                                    + (start - self._late_at) * LATE_REFILL)
            self._late_at = start
            timeout_s = min(timeout_s, LATE_SYNC_S, self._late_budget)
        try:
            return self._wait(start + timeout_s)
        finally:
            if self.sent:
                self._late_budget -= time.monotonic() - start

    def _wait(self, deadline: float) -> bool:
        while True:
            self._drain_subscriptions()
            missing = self._expected - self._seen
            if not missing:
                self._waiting = False
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                (log.debug if self._gave_up else log.warning)(
                    "%s: %d subscriber(s) never connected; sending anyway",
                    self.topic, len(missing))
                self._gave_up += 1
                self._expected -= missing
                self._waiting = False
                return False
            self.sock.poll(min(50, max(1, int(left * 1000))))
            self.bus.process_events()

    def _drain_subscriptions(self) -> None:
        while True:
            try:
                frame = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            subscribe, body = frame[:1] == b"\x01", frame[1:]
            if body.startswith(HELLO_PREFIX):
                # any peer can send any bytes here: never let them raise or pile up
                sub_id = body[len(HELLO_PREFIX):].decode(errors="replace")
                if subscribe:
                    if len(self._seen) >= MAX_SEEN:
                        self._seen &= self._expected
                    self._seen.add(sub_id)
                else:
                    self.forget(sub_id)

    @property
    def subscriber_count(self) -> int:
        self._drain_subscriptions()
        return len(self._seen)

    def close(self) -> None:
        try:
            self.bus.registry.request({"op": "unadvertise", "pub_id": self.pub_id}, timeout_s=0.5)
        except Exception:
            pass
        self.sock.close()


class Subscription:
    """Receives messages of one topic from every publisher of it.

    delivery ``queue``: every message in order, up to ``depth`` buffered.
    delivery ``latest``: only the newest message is handed over; older ones are
    dropped and counted (animation consumers want the current frame, not a backlog).
    """

    def __init__(
        self,
        bus: Bus,
        topic: str,
        msg_type: type[Message] | None = None,
        delivery: str = "queue",
        depth: int = 1000,
        callback: Callable[[Message], Any] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sub_id: str | None = None,
    ) -> None:
        if delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {DELIVERIES}, got {delivery!r}")
        self.bus = bus
        self.topic = topic
        self.msg_type = msg_type
        self.delivery = delivery
        self.callback = callback
        self.max_bytes = max_bytes
        self.sub_id = sub_id or uuid.uuid4().hex[:12]
        self._prefix = wire_prefix(topic)
        self.sock = bus.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, depth)
        self.sock.setsockopt(zmq.LINGER, 0)
        bus.curve.apply_client(self.sock)
        self.sock.setsockopt(zmq.SUBSCRIBE, self._prefix)
        self._next_event_check = 0.0
        self._rcvtimeo = -1
        self._streaming = False
        self.sock.setsockopt(zmq.SUBSCRIBE, HELLO_PREFIX + self.sub_id.encode())
        self.endpoints: set[str] = set()
        self.received = 0
        self.drops: Counter[str] = Counter()
        self.resets = 0  # sequence restarts and jumps, each taken as a new stream
        self._last_seq: dict[bytes, int] = {}
        self._logged: set[str] = set()
        self.register()

    def register(self) -> None:
        """Tell the registry about this subscription (again, after a registry restart)
        and connect to the publishers it knows."""
        reply = self.bus.registry.request(
            {"op": "subscribe", "topic": self.topic, "sub_id": self.sub_id})
        publishers = reply.get("publishers")
        if not isinstance(publishers, list):
            self._count_once("bad_registry_entry", "the registry's publisher list is not a list")
            return
        for pub in publishers:
            self.connect(pub)

    def connect(self, pub: Any) -> None:
        """Connect to a publisher the registry announced; a malformed announcement (bad
        endpoint, wrong types) is counted as ``bad_registry_entry`` and skipped."""
        try:
            pub = validate.publisher_entry(pub)
        except validate.BadEntry as exc:
            self._count_once("bad_registry_entry", f"registry entry ignored: {exc}")
            return
        if pub["endpoint"] in self.endpoints:
            return
        if self.msg_type is not None and pub["type"] != self.msg_type.TYPE:
            self._count_once("type_mismatch", f"publisher {pub['node']} sends {pub['type']} on "
                             f"{self.topic}, this subscriber expects {self.msg_type.TYPE}")
        try:
            self.sock.connect(pub["endpoint"])
        except zmq.ZMQError as exc:  # e.g. a host name that does not resolve
            self._count_once("bad_registry_entry", f"cannot connect to {pub['endpoint']}: {exc}")
            return
        self.endpoints.add(pub["endpoint"])

    def _count_once(self, cause: str, text: str) -> None:
        self.drops[cause] += 1
        if cause not in self._logged:
            self._logged.add(cause)
            log.warning("%s: dropped a message (%s); further drops of this kind are only counted",
                        self.topic, text)

    def _read_one(self, flags: int = _NOBLOCK) -> Message | None:
        """One message from the socket (raises zmq.Again when empty); None when dropped.

        The first frame is taken as a zmq.Frame, whose ``more`` flag is free (asking the
        socket for RCVMORE costs a microsecond), so a message without arrays costs one
        receive. Array frames stay zmq.Frames too: the arrays are read-only views on
        ZeroMQ's buffers (no copy; end to end this measured faster than copying at 64 KB).
        """
        sock = self.sock
        first = sock.recv(flags, copy=False)
        buffers = []
        if first.more:  # array frames, zero-copy: the array is a view on ZeroMQ's buffer
            frame = sock.recv(copy=False)
            buffers.append(frame)
            while frame.more:
                frame = sock.recv(copy=False)
                buffers.append(frame)
        head = first.bytes
        start = len(self._prefix)
        if not head.startswith(self._prefix):
            return None  # not ours (cannot happen with the exact-prefix subscription)
        if len(head) <= start + PUB_ID_LEN:
            self._count_once("truncated", "message without meta data")
            return None
        source = head[start:start + PUB_ID_LEN]
        try:
            msg = decode_frames([memoryview(head)[start + PUB_ID_LEN:], *buffers],
                                self.max_bytes)
        except DecodeError as exc:
            self._count_once(exc.cause, str(exc))
            return None
        if self.msg_type is not None and not isinstance(msg, self.msg_type):
            self._count_once("type_mismatch", f"expected {self.msg_type.TYPE}, got {msg.TYPE}")
            return None
        last = self._last_seq.get(source)
        seq = msg.header.seq
        if last is not None and seq > last + 1:
            if seq - last > MAX_SEQ_GAP:
                self.resets += 1  # a new stream, not billions of lost messages
            else:
                self.drops["seq_gap"] += seq - last - 1
        elif last is not None and seq < last:
            self.resets += 1  # a restarted publisher, or a wrapped counter
        if last is None and len(self._last_seq) >= MAX_SOURCES:
            self._last_seq.clear()  # forged publisher ids must not grow this without bound
        self._last_seq[source] = seq
        self.received += 1
        return msg

    def take(self) -> list[Message]:
        """Everything ready now, honouring the delivery mode."""
        out: list[Message] = []
        while True:
            try:
                msg = self._read_one()
            except zmq.Again:
                break
            if msg is not None:
                out.append(msg)
        if self.delivery == "latest" and len(out) > 1:
            self.drops["superseded"] += len(out) - 1
            out = out[-1:]
        return out

    def recv(self, timeout_s: float | None = 5.0) -> Message | None:
        """Blocking receive of the next message (for scripts and tests); None on timeout.

        Streaming (the last message was already queued when asked for): a non-blocking
        receive, the cheapest call pyzmq has. Otherwise the wait happens inside
        ZeroMQ's own blocking receive (one wake-up, as with a bare socket, and no failed
        attempt whose exception would take CPU from the sender on a small machine), in
        slices of at most WAIT_SLICE_MS, between which registry news is handled.
        """
        now = time.monotonic()
        if now >= self._next_event_check:
            self._next_event_check = now + EVENT_CHECK_S
            self.bus.process_events()
        if self._streaming:
            try:
                msg = self._read_one(_NOBLOCK)
                if msg is not None:
                    return msg
            except zmq.Again:
                self._streaming = False
        deadline = None if timeout_s is None else now + timeout_s
        while True:
            if self.bus.registry.events:
                self.bus.process_events()
            left = WAIT_SLICE_MS if deadline is None else int((deadline - time.monotonic()) * 1000)
            if left > 0:
                flags = 0  # returns at once with a queued message, else waits for one
                timeout = min(left, WAIT_SLICE_MS)
                if timeout != self._rcvtimeo:
                    self.sock.setsockopt(zmq.RCVTIMEO, timeout)
                    self._rcvtimeo = timeout
            else:
                flags = _NOBLOCK  # out of time: take only what is already here
            started = time.monotonic()
            try:
                msg = self._read_one(flags)
            except zmq.Again:
                if left <= 0:
                    return None
                self.bus.process_events()
                continue
            if time.monotonic() - started < QUEUED_S:
                self._streaming = True  # it was waiting for us: more probably are
            if msg is not None:
                return msg

    def close(self) -> None:
        try:
            self.bus.registry.request({"op": "unsubscribe", "sub_id": self.sub_id},
                                      timeout_s=0.5)
        except Exception:
            pass
        self.sock.close()


class Bus:
    """A process's handle on the graph: registry connection, publishers, subscriptions."""

    def __init__(
        self,
        node: str,
        registry: str | None = None,
        namespace: str = "/",
        transport: str | None = None,
        ctx: zmq.Context | None = None,
    ) -> None:
        self.ctx = ctx or zmq.Context()
        self._own_ctx = ctx is None
        self.node = node
        self.namespace = namespace
        self.curve = CurveConfig.from_env(self.ctx)
        self.registry_drops: Counter[str] = Counter()
        try:
            self.registry = RegistryClient(self.ctx, node, registry, self.curve)
        except Exception:
            self.curve.close()
            if self._own_ctx:
                self.ctx.term()
            raise
        self.transport = transport or choose_transport(self.registry.address)
        self.publishers: list[Publisher] = []
        self.subscriptions: list[Subscription] = []
        self._publisher_watchers: list[Callable[[dict[str, Any]], Any]] = []
        self._poller: zmq.Poller | None = None
        self._next_keepalive = 0.0
        self.registrations = 0  # times this bus registered again after a registry restart
        self.watch_id = uuid.uuid4().hex[:12] + ":"

    def resolve(self, name: str) -> str:
        return resolve_topic(name, self.namespace)

    def publisher(self, topic: str, msg_type: type[Message], depth: int = 1000) -> Publisher:
        pub = Publisher(self, self.resolve(topic), msg_type, depth)
        self.publishers.append(pub)
        # the registry tells other clients about this publisher, not our own subscriptions
        for sub in self.subscriptions:
            if sub.topic == pub.topic:
                sub.connect({"endpoint": pub.endpoint, "type": msg_type.TYPE, "node": self.node})
        return pub

    def subscribe(self, topic: str, msg_type: type[Message] | None = None, **kwargs: Any
                  ) -> Subscription:
        sub = Subscription(self, self.resolve(topic), msg_type, **kwargs)
        self.subscriptions.append(sub)
        self._poller = None
        return sub

    def process_events(self) -> None:
        """Apply registry news: new publishers to connect to, new subscribers to wait for.

        Also keeps this client alive in the registry: a Bus without a Node (scripts, the
        topic tools) sends no status heartbeats and would otherwise be forgotten, with
        its topics, after the registry's client timeout.
        """
        now = time.monotonic()
        if now >= self._next_keepalive:
            self._next_keepalive = now + KEEPALIVE_S
            self.registry.send({"op": "ping"})
        self.registry.pump()
        while self.registry.events:
            ev = self.registry.events.popleft()
            kind, topic = ev.get("ev"), ev.get("topic")
            if kind == "register":
                self.register_again()
                continue
            if not isinstance(topic, str) or kind not in (
                    "publisher", "subscriber", "unsubscriber"):
                self.count_bad_entry("event")
                continue
            if kind == "publisher":
                for sub in self.subscriptions:
                    if sub.topic == topic:
                        sub.connect(ev)
                try:
                    entry = validate.publisher_entry(ev)
                except validate.BadEntry:
                    self.count_bad_entry("publisher")
                    continue
                for handler in self._publisher_watchers:
                    handler(entry)
            elif kind == "subscriber":
                for pub in self.publishers:
                    if pub.topic == topic:
                        pub.expect(ev.get("sub_id"))
            elif kind == "unsubscriber":
                for pub in self.publishers:
                    if pub.topic == topic:
                        pub.forget(ev.get("sub_id"))

    def count_bad_entry(self, what: str) -> None:
        """A malformed registry entry or event: counted (node status), logged once."""
        if not self.registry_drops:
            log.warning("ignored a malformed registry %s; further ones are only counted", what)
        self.registry_drops[what] += 1

    def register_again(self) -> None:
        """The registry restarted and forgot us: hello, advertise, subscribe, watch again.

        Publisher and subscription ids stay the same, so connections that survived the
        registry's absence (the data path never goes through it) are simply kept.
        """
        from facewire.bus.client import RegistryUnreachable

        try:
            self.registry.hello()
            for pub in self.publishers:
                pub.advertise()
            for sub in self.subscriptions:
                sub.register()
            if self._publisher_watchers:
                for entry in self._watch():
                    for handler in self._publisher_watchers:
                        handler(entry)
        except (RegistryUnreachable, RuntimeError) as exc:
            log.warning("could not register again with the registry: %s", exc)
            return
        self.registrations += 1
        log.info("registered again with the restarted registry at %s", self.registry.address)

    def watch_publishers(self, handler: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        """Call ``handler`` for every publisher that appears on any topic (recorders).

        New publishers wait (bounded) for this client's subscription to their topic
        before sending, provided the handler subscribes with ``watch_sub_id(topic)``.
        """
        self._publisher_watchers.append(handler)
        return self._watch()

    def _watch(self) -> list[dict[str, Any]]:
        """Ask for every publisher event; the publishers known now, malformed ones left out."""
        reply = self.registry.request({"op": "watch", "watch_id": self.watch_id})
        entries = reply.get("publishers")
        good = []
        for entry in entries if isinstance(entries, list) else [None]:
            try:
                good.append(validate.publisher_entry(entry))
            except validate.BadEntry:
                self.count_bad_entry("publisher")
        return good

    def watch_sub_id(self, topic: str) -> str:
        """The subscription id a watcher uses for ``topic`` (publishers expect it)."""
        return self.watch_id + topic

    def spin_once(self, timeout_ms: int = 100) -> int:
        """Wait up to timeout_ms for input, then deliver it to callbacks; returns count."""
        self.process_events()
        if self._poller is None:
            self._poller = zmq.Poller()
            for sub in self.subscriptions:
                self._poller.register(sub.sock, zmq.POLLIN)
            self._poller.register(self.registry.sock, zmq.POLLIN)
        ready = dict(self._poller.poll(timeout_ms))
        delivered = 0
        for sub in self.subscriptions:
            if sub.sock in ready and sub.callback is not None:
                for msg in sub.take():
                    sub.callback(msg)
                    delivered += 1
        return delivered

    def topics(self) -> dict[str, Any]:
        return self.registry.request({"op": "list"})["topics"]

    def close(self) -> None:
        for sub in self.subscriptions:
            sub.sock.close()
        for pub in self.publishers:
            pub.sock.close()
        self.registry.close()
        self.curve.close()
        if self._own_ctx:
            # destroy, not term: a socket this handle does not know of (closed by nobody)
            # would make term() wait forever; destroy closes it with a bounded linger
            self.ctx.destroy(linger=500)
