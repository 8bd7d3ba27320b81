"""A registry that hands out malformed entries, run as its own process by the tests.

``python tests/fake_registry.py ADDRESS STATUS_OUT`` answers hello/ping, replies to
subscribe with publishers whose endpoints are garbage, pushes a malformed publisher event
and garbage bytes after each subscribe, lists a node whose status is garbage, and writes
the last status heartbeat it received to STATUS_OUT (msgpack bytes). This is what a
registry of another version or a tampered one could send: consumers must survive it.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import msgpack
import zmq

BAD_PUBLISHERS: list[Any] = [
    {"topic": "/victim_in", "type": "Text", "endpoint": "garbage", "pub_id": "a" * 12,
     "node": "x"},
    {"topic": "/victim_in", "type": "Text", "endpoint": 42, "pub_id": "b" * 12, "node": "x"},
    {"topic": "/victim_in", "type": "Text", "endpoint": "udp://127.0.0.1:9", "pub_id": "c" * 12,
     "node": "x"},
    {"topic": "/victim_in"},
    "not a map",
]


def main() -> int:
    address, status_out = sys.argv[1:3]
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(address)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        if not sock.poll(100):
            continue
        ident, payload = sock.recv_multipart()
        req = msgpack.unpackb(payload, raw=False)
        op, rid = req.get("op"), req.get("id")
        reply: dict[str, Any] | None = {"ok": True, "id": rid}
        if op == "subscribe":
            reply["publishers"] = BAD_PUBLISHERS
        elif op == "advertise":
            reply["subscribers"] = [17, None, "x" * 10000]
        elif op == "list":
            reply["topics"] = {"/ok": {"types": ["Text"], "publishers": ["a"],
                                       "subscribers": []},
                               "/bad": {"types": 5, "publishers": None}}
            reply["nodes"] = [
                {"node": "broken", "host": "h", "pid": 7, "age_s": 0.1,
                 "status": b"\xff\x00 not a status"},
                {"node": "odd", "host": 3, "pid": "x", "age_s": None, "status": None},
                "not a map",
            ]
        elif op == "status":
            with open(status_out, "wb") as f:
                f.write(req.get("status") or b"")
            reply = None
        if reply is not None:
            sock.send_multipart([ident, msgpack.packb(reply)])
        if op == "subscribe":  # then events that are malformed in other ways
            for event in ({"ev": "publisher", "topic": req.get("topic"), "endpoint": None},
                          {"ev": "subscriber", "topic": 5},
                          {"ev": "publisher", **BAD_PUBLISHERS[2]}):
                sock.send_multipart([ident, msgpack.packb(event)])
            sock.send_multipart([ident, b"\xc1 garbage"])
    sock.close(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
