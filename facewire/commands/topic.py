"""``facewire topic list|echo|hz|bw``: look at a live graph's topics from the outside.

The tools join the bus as an ordinary client named ``facewire-cli`` (hidden from
``node list``): ``list`` asks the registry, the others subscribe like any node would,
so what they show is what a real subscriber gets.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import signal
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

CLI_NODE = "facewire-cli"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topic", help="list topics, print messages, measure rate and bandwidth")
    inner = p.add_subparsers(dest="topic_command", required=True)

    ls = inner.add_parser("list", help="topics with their types, publishers and subscribers")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_topics)

    echo = inner.add_parser("echo", help="print decoded messages (arrays summarised)")
    echo.add_argument("topic")
    echo.add_argument("-n", type=int, default=0, help="stop after N messages (0: never)")
    echo.add_argument("--values", type=int, default=6, help="array values to show")
    echo.add_argument("--json", action="store_true", help="one JSON object a line")
    echo.set_defaults(func=echo_topic)

    hz = inner.add_parser("hz", help="message rate and the spread of intervals")
    hz.add_argument("topic")
    hz.add_argument("--window", type=int, default=100, help="intervals in the window")
    hz.set_defaults(func=hz_topic)

    bw = inner.add_parser("bw", help="bytes per second on a topic")
    bw.add_argument("topic")
    bw.add_argument("--window", type=int, default=100, help="messages in the window")
    bw.set_defaults(func=bw_topic)

    for q in (ls, echo, hz, bw):
        q.add_argument("--registry", help="registry address (default $FACEWIRE_BUS)")
    for q in (echo, hz, bw):
        q.add_argument("--timeout", type=float, default=0.0,
                       help="give up after this many seconds (0: run until Ctrl-C)")
    for q in (hz, bw):
        q.add_argument("--period", type=float, default=1.0, help="seconds between reports")


# -- list ------------------------------------------------------------------------------
def list_topics(args: argparse.Namespace) -> int:
    import zmq

    from facewire.bus.client import RegistryClient, RegistryUnreachable

    try:
        client = RegistryClient(zmq.Context.instance(), CLI_NODE, args.registry)
        topics = client.request({"op": "list"})["topics"]
        client.close()
    except RegistryUnreachable as exc:
        print(f"facewire topic: {exc}", file=sys.stderr)
        return 2
    topics = _well_formed(topics)
    for info in topics.values():
        info["subscribers"] = [s for s in info["subscribers"] if s != CLI_NODE]
    if args.json:
        print(json.dumps(topics, indent=2, sort_keys=True))
        return 0
    if not topics:
        print("no topics (is anything running against this registry?)")
    for name in sorted(topics):
        t = topics[name]
        types = ", ".join(t["types"]) or "?"
        print(f"{name}  [{types}]")
        print(f"    publishers:  {', '.join(sorted(t['publishers'])) or '-'}")
        print(f"    subscribers: {', '.join(sorted(t['subscribers'])) or '-'}")
    return 0


def _well_formed(topics: Any) -> dict[str, dict[str, list[str]]]:
    """The registry's topic table with malformed entries left out (and said so once)."""
    good: dict[str, dict[str, list[str]]] = {}
    items = topics.items() if isinstance(topics, dict) else []
    for name, info in items:
        if isinstance(name, str) and isinstance(info, dict) and all(
                isinstance(info.get(k), list) and all(isinstance(x, str) for x in info[k])
                for k in ("types", "publishers", "subscribers")):
            good[name] = info
    bad = (len(topics) if isinstance(topics, dict) else 1) - len(good)
    if bad:
        print(f"facewire topic: left out {bad} malformed registry entr"
              f"{'y' if bad == 1 else 'ies'}", file=sys.stderr)
    return good


# -- shared subscription loop ----------------------------------------------------------
class _Stop:
    """Set by SIGINT/SIGTERM so the tools end with their summary, not a traceback."""

    stopped = False

    def __init__(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._set)

    def _set(self, *_: Any) -> None:
        self.stopped = True


def _one_line_errors(command: Callable[[argparse.Namespace], int]
                     ) -> Callable[[argparse.Namespace], int]:
    """No registry (or a bad address) is a user's mistake: one line, exit code 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from facewire.bus.client import RegistryUnreachable

        try:
            return command(args)
        except RegistryUnreachable as exc:
            print(f"facewire topic: {exc}", file=sys.stderr)
            return 2

    return run


def _messages(args: argparse.Namespace, tick: float = 0.1) -> Iterator[Any]:
    """Yield (message, arrival monotonic s) or None every ``tick`` s while idle."""
    from facewire.bus.transport import Bus

    bus = Bus(CLI_NODE, registry=args.registry)
    try:
        sub = bus.subscribe(args.topic, None, delivery="queue", depth=10000)
        stop = _Stop()
        deadline = time.monotonic() + args.timeout if args.timeout > 0 else math.inf
        while not stop.stopped and time.monotonic() < deadline:
            msg = sub.recv(timeout_s=min(tick, max(0.0, deadline - time.monotonic())))
            yield (msg, time.monotonic()) if msg is not None else None
    finally:
        bus.close()


# -- echo ------------------------------------------------------------------------------
def summarise_array(arr: np.ndarray, values: int = 6) -> str:
    """``float32[68, 3] [0.1, 0.2, ...]``: enough to recognise data without a wall of it."""
    flat = arr.reshape(-1)
    shown = ", ".join(f"{v:.4g}" if arr.dtype.kind == "f" else str(v) for v in flat[:values])
    more = ", ..." if flat.size > values else ""
    return f"{arr.dtype.name}{list(arr.shape)} [{shown}{more}]"


def message_dict(msg: Any, values: int = 6) -> dict[str, Any]:
    """A printable dict of a message: header, scalars, summarised arrays."""
    h = msg.header
    out: dict[str, Any] = {
        "type": msg.TYPE,
        "header": {"seq": h.seq, "stamp_ns": h.stamp_ns, "media_time": h.media_time,
                   "capture_ns": h.capture_ns},
    }
    for name in msg.SCALARS:
        out[name] = getattr(msg, name)
    for name in msg.ARRAYS:
        out[name] = summarise_array(getattr(msg, name), values)
    return out


@_one_line_errors
def echo_topic(args: argparse.Namespace) -> int:
    shown = 0
    for item in _messages(args):
        if item is None:
            continue
        d = message_dict(item[0], args.values)
        if args.json:
            print(json.dumps(d), flush=True)
        else:
            print("---")
            for key, value in d.items():
                print(f"{key}: {value}")
            sys.stdout.flush()
        shown += 1
        if args.n and shown >= args.n:
            break
    return 0 if shown or not args.n else 1


# -- hz / bw ---------------------------------------------------------------------------
def rate_stats(arrivals: list[float]) -> dict[str, float]:
    """Rate and interval spread over a window of arrival times (s)."""
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    if not gaps:
        return {}
    mean = statistics.fmean(gaps)
    return {
        "rate": 1.0 / mean if mean > 0 else math.inf,
        "min": min(gaps), "max": max(gaps),
        "std": statistics.pstdev(gaps),
        "window": len(gaps),
    }


@_one_line_errors
def hz_topic(args: argparse.Namespace) -> int:
    arrivals: deque[float] = deque(maxlen=args.window + 1)
    next_report = time.monotonic() + args.period
    total = fresh = 0
    for item in _messages(args):
        if item is not None:
            arrivals.append(item[1])
            total += 1
            fresh += 1
        if time.monotonic() >= next_report:
            next_report += args.period
            s = rate_stats(list(arrivals))
            if s and fresh:
                fresh = 0
                print(f"average rate: {s['rate']:.3f} Hz\n"
                      f"    min: {s['min']:.4f} s  max: {s['max']:.4f} s  "
                      f"std dev: {s['std']:.5f} s  window: {s['window']}", flush=True)
            else:
                print("no new messages", flush=True)
    return 0 if total else 1


def wire_size(msg: Any, topic: str) -> int:
    """Bytes this message takes on the wire (topic, publisher id, meta, array frames)."""
    from facewire.messages.codec import encode_frames

    frames = encode_frames(msg)
    return len(topic.encode()) + 12 + sum(memoryview(f).nbytes for f in frames)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


@_one_line_errors
def bw_topic(args: argparse.Namespace) -> int:
    window: deque[tuple[float, int]] = deque(maxlen=args.window)
    next_report = time.monotonic() + args.period
    from facewire.bus.addresses import resolve_topic

    topic = resolve_topic(args.topic)
    total = fresh = 0
    for item in _messages(args):
        if item is not None:
            window.append((item[1], wire_size(item[0], topic)))
            total += 1
            fresh += 1
        if time.monotonic() >= next_report:
            next_report += args.period
            if len(window) < 2 or not fresh:
                print("no new messages", flush=True)
                continue
            fresh = 0
            span = window[-1][0] - window[0][0]
            sizes = [n for _, n in window]
            rate = sum(sizes[1:]) / span if span > 0 else math.inf
            print(f"average: {_human(rate)}/s\n"
                  f"    mean: {_human(statistics.fmean(sizes))}  min: {_human(min(sizes))}  "
                  f"max: {_human(max(sizes))}  window: {len(sizes)}", flush=True)
    return 0 if total else 1
