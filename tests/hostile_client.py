"""A hostile registry client, run as its own process by tests/test_registry_hardening.py.

``python tests/hostile_client.py REGISTRY SCENARIO [ARG]`` talks raw msgpack over a DEALER
socket (as any local process could) and prints one JSON object with the replies it got.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import msgpack
import zmq


class Raw:
    def __init__(self, address: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)
        self.ids = 0

    def ask(self, req: dict[str, Any], timeout_s: float = 3.0) -> dict[str, Any] | None:
        self.ids += 1
        self.sock.send(msgpack.packb({**req, "id": self.ids}))
        deadline = time.monotonic() + timeout_s
        while self.sock.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            reply = msgpack.unpackb(self.sock.recv(), raw=False)
            if reply.get("id") == self.ids:
                return reply
        return None


def bad_endpoints(raw: Raw, topic: str) -> dict[str, Any]:
    raw.ask({"op": "hello", "node": "hostile", "host": "h", "pid": 1})
    out = {}
    for name, endpoint in (("garbage", "garbage"), ("integer", 42),
                           ("udp", "udp://127.0.0.1:9"), ("huge", "tcp://" + "a" * 5000 + ":1")):
        reply = raw.ask({"op": "advertise", "topic": topic, "type": "Text",
                         "endpoint": endpoint, "pub_id": uuid.uuid4().hex[:12]})
        out[name] = reply
    return out


def steal(raw: Raw, pub_id: str, sub_id: str) -> dict[str, Any]:
    raw.ask({"op": "hello", "node": "hostile", "host": "h", "pid": 1})
    return {"unadvertise": raw.ask({"op": "unadvertise", "pub_id": pub_id}),
            "unsubscribe": raw.ask({"op": "unsubscribe", "sub_id": sub_id}),
            "advertise_same_id": raw.ask({"op": "advertise", "topic": "/x", "type": "Text",
                                          "endpoint": "ipc:///tmp/x", "pub_id": pub_id})}


def fake_subscribers(raw: Raw, topic: str, count: int) -> dict[str, Any]:
    """Announce subscribers that will never connect, one every 20 ms."""
    raw.ask({"op": "hello", "node": "hostile", "host": "h", "pid": 1})
    ok = 0
    for _ in range(count):
        reply = raw.ask({"op": "subscribe", "topic": topic, "sub_id": uuid.uuid4().hex})
        ok += bool(reply and reply.get("ok"))
        time.sleep(0.02)
    return {"announced": ok}


def caps(raw: Raw) -> dict[str, Any]:
    raw.ask({"op": "hello", "node": "hostile", "host": "h", "pid": 1})
    refused_entries = None
    for i in range(300):
        reply = raw.ask({"op": "subscribe", "topic": f"/t{i}", "sub_id": f"cap{i}"})
        if reply is None or not reply.get("ok"):
            refused_entries = {"at": i, "reply": reply}
            break
    time.sleep(1.0)  # refill the rate bucket
    for _ in range(1000):  # a burst well over the rate cap, replies read afterwards
        raw.ids += 1
        raw.sock.send(msgpack.packb({"op": "ping", "id": raw.ids}))
    errors: dict[str, int] = {}
    deadline = time.monotonic() + 5.0
    got = 0
    while got < 1000 and raw.sock.poll(max(1, int((deadline - time.monotonic()) * 1000))):
        reply = msgpack.unpackb(raw.sock.recv(), raw=False)
        got += 1
        key = "ok" if reply.get("ok") else str(reply.get("error"))
        errors[key] = errors.get(key, 0) + 1
    return {"entries": refused_entries, "burst": errors}


def main() -> int:
    address, scenario, *args = sys.argv[1:]
    raw = Raw(address)
    if scenario == "bad_endpoints":
        result = bad_endpoints(raw, args[0])
    elif scenario == "steal":
        result = steal(raw, args[0], args[1])
    elif scenario == "fake_subscribers":
        result = fake_subscribers(raw, args[0], int(args[1]))
    elif scenario == "caps":
        result = caps(raw)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
