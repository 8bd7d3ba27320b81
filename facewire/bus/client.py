"""A node's connection to the registry: blocking requests plus queued pushed events."""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from typing import Any

import msgpack
import zmq

from facewire.bus.addresses import address_problem, hostname, registry_address
from facewire.bus.curve import CurveConfig

REQUEST_TIMEOUT_S = 3.0
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # ints: enum `&` is slow


class RegistryUnreachable(RuntimeError):
    """No registry answers at the address, or the address cannot be one; the text says
    what to start or what to write instead."""


def _unpack(data: bytes) -> dict[str, Any] | None:
    """A registry message, or None for anything that is not a map (never raises)."""
    try:
        msg = msgpack.unpackb(data, raw=False)
    except Exception:  # msgpack raises several unrelated types on garbage
        return None
    return msg if isinstance(msg, dict) else None


def ask_registry(address: str, req: dict[str, Any], timeout_s: float = 1.0
                 ) -> dict[str, Any] | None:
    """One request without joining the graph as a node (supervisors, probes); None when
    nothing answers in time, the registry refuses, or the address cannot be one."""
    if address_problem(address):
        return None
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 200)  # time for the goodbye to leave
    try:
        CurveConfig.from_env(ctx, authenticate=False).apply_client(sock)
        sock.connect(address)
        sock.send(msgpack.packb({**req, "id": 1}))
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if not sock.poll(int(left * 1000) + 1):
                return None
            reply = _unpack(sock.recv())
            if reply is not None and reply.get("id") == 1:
                sock.send(msgpack.packb({"op": "bye", "id": 2}))  # be forgotten at once
                return reply if reply.get("ok") else None
        return None
    except (zmq.ZMQError, OSError, ValueError):
        return None
    finally:
        sock.close(0)


class RegistryClient:
    """One DEALER socket to the registry; events that arrive between replies are queued."""

    def __init__(self, ctx: zmq.Context, node: str, address: str | None = None,
                 curve: CurveConfig | None = None) -> None:
        self.address = registry_address(address)
        problem = address_problem(self.address)
        if problem:
            raise RegistryUnreachable(problem)
        self.node = node
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 500)
        try:
            (curve or CurveConfig.from_env(ctx, authenticate=False)).apply_client(self.sock)
        except (OSError, ValueError) as exc:
            self.sock.close(0)
            raise RegistryUnreachable(f"CURVE keys: {exc}") from None
        self.sock.connect(self.address)
        self.events: deque[dict[str, Any]] = deque()
        self._ids = itertools.count(1)
        try:
            self.hello()
        except (RegistryUnreachable, RuntimeError):
            self.sock.close(0)
            raise

    def hello(self) -> None:
        """Introduce this client (on connecting, and to a registry that restarted)."""
        self.request({"op": "hello", "node": self.node, "host": hostname(), "pid": os.getpid()})

    def request(self, req: dict[str, Any], timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        rid = next(self._ids)
        self.sock.send(msgpack.packb({**req, "id": rid}))
        deadline_ms = int(timeout_s * 1000)
        while True:
            if not self.sock.poll(deadline_ms):
                raise RegistryUnreachable(
                    f"no answer from the facewire registry at {self.address} within "
                    f"{timeout_s:.0f} s: start one with 'facewire bus --address {self.address}', "
                    "use 'facewire launch', or point FACEWIRE_BUS at a running one (with CURVE, "
                    "every process needs FACEWIRE_CURVE naming the same keys)"
                )
            reply = _unpack(self.sock.recv())
            if reply is None:
                continue  # garbage from a registry of another kind: not ours to crash on
            if "ev" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") != rid:
                continue  # a late reply to an earlier timed-out request
            if not reply.get("ok", False):
                raise RuntimeError(f"registry refused {req.get('op')}: {reply.get('error')}")
            return reply

    def send(self, req: dict[str, Any]) -> None:
        """Fire and forget (heartbeats)."""
        try:
            self.sock.send(msgpack.packb(req), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def pump(self) -> None:
        """Move pushed events from the socket to the queue without blocking."""
        sock = self.sock
        while sock.getsockopt(_EVENTS) & _POLLIN:  # cheaper than raising zmq.Again
            try:
                data = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            msg = _unpack(data)
            if msg is not None and "ev" in msg:
                self.events.append(msg)

    def close(self) -> None:
        try:
            self.request({"op": "bye"}, timeout_s=0.5)
        except (RegistryUnreachable, RuntimeError):
            pass
        self.sock.close()
