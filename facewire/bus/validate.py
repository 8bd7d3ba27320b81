"""What a registry request or a registry entry may hold: types, endpoint schemes, sizes.

The registry checks every field before it stores it, and every consumer of registry data
(subscriptions, ``node list``, the launcher) checks again before it uses it: a registry of
another version, or one a hostile client reached before these checks existed, must not be
able to crash a node with one bad entry.
"""

from __future__ import annotations

import re
from typing import Any

MAX_NAME = 128  # node, host, message type names
MAX_TOPIC = 256
MAX_ID = 64 + MAX_TOPIC  # subscription ids (a watcher's id is its watch id + a topic)
MAX_ENDPOINT = 300  # ipc paths are limited to ~107 bytes by the kernel, tcp is short
MAX_STATUS_BYTES = 64 * 1024
MAX_PID = 2**31
ENDPOINT_SCHEMES = ("ipc://", "tcp://")
_TCP = re.compile(r"^tcp://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")


class BadEntry(ValueError):
    """A registry field that does not fit its rule; the text names field and rule."""


def text(req: dict[str, Any], key: str, limit: int, *, empty: bool = False) -> str:
    """A string field of at most ``limit`` characters, without NUL."""
    value = req.get(key)
    if not isinstance(value, str):
        raise BadEntry(f"{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadEntry(f"{key} is {len(value)} characters long (at most {limit})")
    if not value and not empty:
        raise BadEntry(f"{key} must not be empty")
    if "\x00" in value:
        raise BadEntry(f"{key} must not contain NUL")
    return value


def topic(req: dict[str, Any], key: str = "topic") -> str:
    value = text(req, key, MAX_TOPIC)
    if not value.startswith("/"):
        raise BadEntry(f"{key} {value!r} must be an absolute topic name (starting with /)")
    return value


def endpoint(req: dict[str, Any], key: str = "endpoint") -> str:
    """An address a SUB socket may connect to: ipc://PATH or tcp://HOST:PORT."""
    value = text(req, key, MAX_ENDPOINT)
    if value.startswith("ipc://"):
        if len(value) <= len("ipc://"):
            raise BadEntry(f"{key} {value!r} names no path")
        return value
    match = _TCP.match(value)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise BadEntry(f"{key} {value[:60]!r} is not ipc://PATH or tcp://HOST:PORT")
    return value


def integer(req: dict[str, Any], key: str, low: int, high: int, default: int | None = None
            ) -> int:
    value = req.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
        raise BadEntry(f"{key} must be an integer in [{low}, {high}), got {value!r}")
    return value


def publisher_entry(entry: Any) -> dict[str, Any]:
    """A publisher as the registry describes it (events, replies), checked for use."""
    if not isinstance(entry, dict):
        raise BadEntry(f"publisher entry must be a map, got {type(entry).__name__}")
    return {"topic": topic(entry), "type": text(entry, "type", MAX_NAME),
            "endpoint": endpoint(entry), "pub_id": text(entry, "pub_id", MAX_ID),
            "node": text(entry, "node", MAX_NAME, empty=True)}


def node_entries(reply: Any) -> tuple[list[dict[str, Any]], int]:
    """The ``nodes`` of a registry ``list`` reply, checked, each with its NodeStatus decoded
    (None when absent or malformed), and how many entries were malformed."""
    from facewire.messages.codec import DecodeError, decode_bytes
    from facewire.messages.types import NodeStatus

    nodes = reply.get("nodes") if isinstance(reply, dict) else None
    if not isinstance(nodes, list):
        return [], 1
    good, bad = [], 0
    for entry in nodes:
        try:
            if not isinstance(entry, dict):
                raise BadEntry("node entry is not a map")
            row = {"node": text(entry, "node", MAX_NAME, empty=True),
                   "host": text(entry, "host", MAX_NAME, empty=True),
                   "pid": integer(entry, "pid", 0, MAX_PID),
                   "age_s": entry.get("age_s") if isinstance(entry.get("age_s"), float | int)
                   else 0.0,
                   "status": None, "bad_status": False}
        except BadEntry:
            bad += 1
            continue
        raw = entry.get("status")
        if raw is not None:
            try:
                status = decode_bytes(raw) if isinstance(raw, bytes) else None
            except DecodeError:
                status = None
            if isinstance(status, NodeStatus):
                row["status"] = status
            else:
                row["bad_status"] = True
                bad += 1
        good.append(row)
    return good, bad
