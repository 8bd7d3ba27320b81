"""Round-trip latency and throughput: facewire's Publisher/Subscription against bare pyzmq.

Two processes ping-pong a 256-byte message and a 64 KB array message, over ipc:// and
tcp:// loopback, through bare pyzmq PUB/SUB sockets and through facewire (codec,
validation, seq/stamp, drop accounting included). Both paths are up at once and measured
in alternating blocks, so that drift in the machine's speed reaches both alike.
Throughput is one process sending as fast as it can and the other receiving everything
(high-water marks of four runs, as ZeroMQ counts them loosely), median of three alternating runs.
The goal: facewire's median round trip at most 1.3x bare pyzmq, throughput at
least 70% of it.

    python benchmarks/bus.py            # everything, ~1 minute
    python benchmarks/bus.py --quick    # fewer round trips
    python benchmarks/bus.py --pin      # this process on one core, the echo on another
    python benchmarks/bus.py --decompose  # also bare pyzmq sockets carrying facewire's codec
    python benchmarks/bus.py --repeat 5   # five whole runs, the goal judged on their medians

``--decompose`` adds a third path, "pyzmq+codec": bare sockets, but each end encodes and
decodes (validates) facewire messages. It splits facewire's extra time into the codec's
share (pyzmq+codec minus pyzmq) and the bus's own (facewire minus pyzmq+codec).

``--pin`` (like ``taskset``) keeps each process and its ZeroMQ I/O thread on one core, for
both paths alike: the data a receive hands over stays in that core's caches, and wake-ups
do not migrate. On a machine with few cores the unpinned run is dominated by that noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import zmq

SMALL = 256
ARRAY_SHAPE = (128, 128)  # float32: 64 KB
STOP, GO = -1.0, -2.0  # media_time markers for the facewire child
STOP_B, GO_B = b"stop", b"go"
CHILD_CPU: list[str] = []  # ["--cpu", N] when --pin: the echo children's core
TP_ROUNDS = 3  # throughput runs per path, alternating; the median is reported
GOAL_LATENCY, GOAL_THROUGHPUT = 1.3, 0.7  # median round trip, share of msgs/s
LABELS = {"small": "256 B", "array": "64 KB float32"}


# -- payloads --------------------------------------------------------------------------
def facewire_message(kind: str) -> Any:
    """A Text whose wire form is 256 bytes, or Features carrying a 64 KB float32 array."""
    from facewire.messages import Features, Text, encode_frames

    if kind == "array":
        return Features(values=np.random.default_rng(0).random(ARRAY_SHAPE, np.float32))
    base = len(encode_frames(Text(text=""), seq=2**31, stamp_ns=time.time_ns())[0])
    return Text(text="x" * (SMALL - base - 4))  # topic + publisher-id frames come on top


def wire_bytes(msg: Any) -> int:
    from facewire.messages import encode_frames

    frames = encode_frames(msg, seq=2**31, stamp_ns=time.time_ns())
    return sum(memoryview(f).nbytes for f in frames)


def bare_payload(kind: str) -> bytes:
    n = SMALL if kind == "small" else int(np.prod(ARRAY_SHAPE)) * 4
    return os.urandom(n)


# -- child roles -----------------------------------------------------------------------
def child_facewire(kind: str, n_tp: int) -> None:
    """Echo /ping to /pong; on GO send n_tp messages to /pong at full speed; end on STOP."""
    from facewire.bus import Bus

    bus = Bus("bench-echo")
    sub = bus.subscribe("/ping", None, depth=4 * n_tp)
    pub = bus.publisher("/pong", type(facewire_message(kind)), depth=4 * n_tp)
    msg = facewire_message(kind)
    while True:
        m = sub.recv(timeout_s=None)
        if m is None:
            continue
        mt = m.header.media_time
        if mt == STOP:
            break
        if mt == GO:
            for _ in range(n_tp):
                pub.publish(msg)
            continue
        pub.publish(m)
    time.sleep(0.2)
    bus.close()


def child_bare(transport: str, ping_endpoint: str, n_tp: int, kind: str,
               codec: bool = False) -> None:
    """Bare pyzmq echo: PUB bound here (endpoint printed), SUB connected to the parent.
    ``codec``: each message is decoded and encoded again by facewire's codec on the way."""
    from facewire.messages import decode_frames, encode_frames

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 4 * n_tp)
    pub.bind(f"ipc://{tempfile.mkdtemp()}/pong.sock" if transport == "ipc"
             else "tcp://127.0.0.1:*")
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 4 * n_tp)
    sub.setsockopt(zmq.SUBSCRIBE, b"/ping")
    sub.connect(ping_endpoint)
    print(pub.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    payload = bare_payload(kind)
    msg = facewire_message(kind)
    while True:
        frames = sub.recv_multipart()
        if frames[1] == STOP_B:
            break
        if frames[1] == GO_B:
            for _ in range(n_tp):
                if codec:
                    pub.send_multipart([b"/pong", *encode_frames(msg)])
                else:
                    pub.send_multipart([b"/pong", payload])
            continue
        if codec:
            pub.send_multipart([b"/pong", *encode_frames(decode_frames(frames[1:]))])
        else:
            pub.send_multipart([b"/pong", frames[1]])
    time.sleep(0.2)
    pub.close(linger=2000)
    sub.close()
    ctx.term()


# -- parent side -----------------------------------------------------------------------
class BarePath:
    """The parent's end of a bare pyzmq ping-pong with its own echo child; ``codec``: the
    payload is a facewire message, encoded and decoded at both ends."""

    def __init__(self, transport: str, kind: str, n_tp: int, codec: bool = False) -> None:
        from facewire.messages import decode_frames, encode_frames

        self.codec = codec
        self.encode, self.decode = encode_frames, decode_frames
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.bind(f"ipc://{tempfile.mkdtemp()}/ping.sock" if transport == "ipc"
                      else "tcp://127.0.0.1:*")
        endpoint = self.pub.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.child = subprocess.Popen(
            [sys.executable, __file__, "--role", "bare", "--transport", transport, "--kind",
             kind, "--n-tp", str(n_tp), "--endpoint", endpoint, *CHILD_CPU,
             *(["--codec"] if codec else [])],
            stdout=subprocess.PIPE, text=True)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 4 * n_tp)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"/pong")
        self.sub.connect(self.child.stdout.readline().strip())
        self.msg = facewire_message(kind)
        self.payload = bare_payload(kind)
        self.nbytes = wire_bytes(self.msg) if codec else len(self.payload)
        hello = self.encode(self.msg) if codec else [self.payload]
        while True:  # both directions connected: a ping comes back
            self.pub.send_multipart([b"/ping", *hello])
            if self.sub.poll(20):
                break
        time.sleep(0.1)
        while self.sub.poll(0):
            self.sub.recv_multipart()

    def round_trips(self, n: int) -> list[float]:
        if self.codec:
            return self.codec_round_trips(n)
        pub, sub, payload, out = self.pub, self.sub, self.payload, []
        for _ in range(n):
            t0 = time.perf_counter()
            pub.send_multipart([b"/ping", payload])
            sub.recv_multipart()
            out.append(time.perf_counter() - t0)
        return out

    def codec_round_trips(self, n: int) -> list[float]:
        pub, sub, msg, out = self.pub, self.sub, self.msg, []
        encode, decode = self.encode, self.decode
        for _ in range(n):
            t0 = time.perf_counter()
            pub.send_multipart([b"/ping", *encode(msg, seq=0, stamp_ns=time.time_ns())])
            decode(sub.recv_multipart()[1:])
            out.append(time.perf_counter() - t0)
        return out

    def throughput(self, n: int) -> float:
        t0 = time.perf_counter()
        self.pub.send_multipart([b"/ping", GO_B])
        for _ in range(n):
            frames = self.sub.recv_multipart()
            if self.codec:
                self.decode(frames[1:])
        return n / (time.perf_counter() - t0)

    def close(self) -> None:
        self.pub.send_multipart([b"/ping", STOP_B])
        self.child.wait(30)
        self.pub.close(0)
        self.sub.close(0)
        self.ctx.term()


class FacewirePath:
    """The parent's end of a facewire ping-pong with its own echo child."""

    def __init__(self, transport: str, kind: str, n_tp: int) -> None:
        from facewire.bus import Bus

        os.environ["FACEWIRE_TRANSPORT"] = transport
        self.bus = Bus("bench-main")
        self.msg = facewire_message(kind)
        self.nbytes = wire_bytes(self.msg)
        self.sub = self.bus.subscribe("/pong", None, depth=4 * n_tp)
        self.child = subprocess.Popen([sys.executable, __file__, "--role", "facewire",
                                       "--kind", kind, "--n-tp", str(n_tp), *CHILD_CPU])
        self.pub = self.bus.publisher("/ping", type(self.msg))
        while self.pub.subscriber_count == 0:  # the child's subscription has connected
            self.bus.process_events()
            time.sleep(0.01)
        while self.sub.recv(timeout_s=0.02) is None:  # and the way back is connected too
            self.pub.publish(self.msg)
        time.sleep(0.1)
        self.sub.take()

    def round_trips(self, n: int) -> list[float]:
        pub, sub, msg, out = self.pub, self.sub, self.msg, []
        for _ in range(n):
            t0 = time.perf_counter()
            pub.publish(msg)
            sub.recv(timeout_s=None)
            out.append(time.perf_counter() - t0)
        return out

    def throughput(self, n: int) -> float:
        t0 = time.perf_counter()
        self.pub.publish(self.msg.with_header(media_time=GO))
        for got in range(n):
            if self.sub.recv(timeout_s=10) is None:
                raise RuntimeError(f"throughput run lost messages: {got}/{n}, "
                                   f"{dict(self.sub.drops)}, last seq {self.sub._last_seq}")
        return n / (time.perf_counter() - t0)

    def close(self) -> None:
        self.pub.publish(self.msg.with_header(media_time=STOP))
        self.child.wait(30)
        self.bus.close()


def compare(transport: str, kind: str, n_rtt: int, n_tp: int, warmup: int,
            blocks: int, decompose: bool = False) -> dict[str, dict[str, float]]:
    """All paths live at once, measured in alternating blocks, so that the machine's
    drift between blocks (other load, frequency) reaches them alike."""
    paths: dict[str, Any] = {"pyzmq": BarePath(transport, kind, n_tp)}
    if decompose:
        paths["pyzmq+codec"] = BarePath(transport, kind, n_tp, codec=True)
    paths["facewire"] = FacewirePath(transport, kind, n_tp)
    rtts: dict[str, list[float]] = {name: [] for name in paths}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for path in paths.values():
            path.round_trips(warmup)
        for _ in range(blocks):
            for name, path in paths.items():
                rtts[name] += path.round_trips(max(1, n_rtt // blocks))
        for _ in range(TP_ROUNDS):
            for name, path in paths.items():
                rates[name].append(path.throughput(n_tp))
    finally:
        for path in paths.values():
            path.close()
    out = {}
    for name, path in paths.items():
        rtts_us = sorted(t * 1e6 for t in rtts[name])
        rate = statistics.median(rates[name])
        out[name] = {
            "median_us": statistics.median(rtts_us),
            "p99_us": rtts_us[min(len(rtts_us) - 1, int(0.99 * len(rtts_us)))],
            "msgs_per_s": rate,
            "mb_per_s": rate * path.nbytes / 1e6,
        }
    return out


def measure(transports: list[str], n_rtt: int, n_tp: dict[str, int], warmup: int,
            blocks: int, decompose: bool) -> list[dict[str, Any]]:
    """One comparison of every transport and message size, printed as a table."""
    print(f"{'transport':9s} {'message':14s} {'path':11s} {'median us':>10s} "
          f"{'p99 us':>9s} {'msgs/s':>10s} {'MB/s':>8s}")
    results = []
    for transport in transports:
        for kind in ("small", "array"):
            label = LABELS[kind]
            paths = compare(transport, kind, n_rtt, n_tp[kind], warmup, blocks, decompose)
            bare, fw = paths["pyzmq"], paths["facewire"]
            for path, r in paths.items():
                print(f"{transport:9s} {label:14s} {path:11s} {r['median_us']:10.1f} "
                      f"{r['p99_us']:9.1f} {r['msgs_per_s']:10.0f} {r['mb_per_s']:8.1f}")
            lat = fw["median_us"] / bare["median_us"]
            tp = fw["msgs_per_s"] / bare["msgs_per_s"]
            good = lat <= GOAL_LATENCY and tp >= GOAL_THROUGHPUT
            print(f"{'':9s} {'':14s} {'ratio':11s} {lat:9.2f}x {'':9s} {tp:10.0%} "
                  f"{'':8s} {'ok' if good else 'MISSES GOAL'}")
            row = {"transport": transport, "message": kind, "pyzmq": bare, "facewire": fw,
                   "latency_ratio": lat, "throughput_ratio": tp, "good": good}
            if decompose:
                codec_us = paths["pyzmq+codec"]["median_us"] - bare["median_us"]
                bus_us = fw["median_us"] - paths["pyzmq+codec"]["median_us"]
                print(f"{'':9s} {'':14s} {'extra us':11s} codec {codec_us:+.1f}, "
                      f"bus {bus_us:+.1f} (per round trip, medians)")
                row.update({"pyzmq+codec": paths["pyzmq+codec"], "codec_us": codec_us,
                            "bus_us": bus_us})
            results.append(row)
    return results


def summarise(results: list[dict[str, Any]]) -> bool:
    """Across repeated runs: the median ratio of each case and its range (the run-to-run
    spread of a small VM is larger than any one run's block-to-block drift)."""
    print(f"{'across runs':14s} {'message':14s} latency ratio: median (min-max)   "
          "throughput: median (min-max)")
    ok = True
    cases = dict.fromkeys((r["transport"], r["message"]) for r in results)  # run order
    for transport, kind in cases:
        rows = [r for r in results if (r["transport"], r["message"]) == (transport, kind)]
        lat = [r["latency_ratio"] for r in rows]
        tp = [r["throughput_ratio"] for r in rows]
        good = statistics.median(lat) <= GOAL_LATENCY and statistics.median(tp) >= GOAL_THROUGHPUT
        ok &= good
        print(f"{transport:14s} {LABELS[kind]:14s} {statistics.median(lat):6.2f}x "
              f"({min(lat):.2f}-{max(lat):.2f})              {statistics.median(tp):5.0%} "
              f"({min(tp):.0%}-{max(tp):.0%})   {'ok' if good else 'MISSES GOAL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer round trips (a smoke run)")
    ap.add_argument("--transports", default="ipc,tcp")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--blocks", type=int, default=10,
                    help="round trips alternate between the two paths in this many blocks")
    ap.add_argument("--pin", action="store_true",
                    help="pin this process to one core and the echo processes to another")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the whole comparison this many times and judge the goal on "
                    "the median ratio across runs")
    ap.add_argument("--decompose", action="store_true",
                    help="add bare pyzmq carrying facewire's codec: the codec's share of the gap")
    ap.add_argument("--role", choices=["bare", "facewire"], help=argparse.SUPPRESS)
    ap.add_argument("--codec", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="small", help=argparse.SUPPRESS)
    ap.add_argument("--transport", default="ipc", help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    ap.add_argument("--n-tp", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            ap.error("--pin needs two cores")
        os.sched_setaffinity(0, {cpus[0]})
        CHILD_CPU[:] = ["--cpu", str(cpus[1])]
    if args.role == "facewire":
        child_facewire(args.kind, args.n_tp)
        return 0
    if args.role == "bare":
        child_bare(args.transport, args.endpoint, args.n_tp, args.kind, args.codec)
        return 0

    n_rtt, warmup = (500, 100) if args.quick else (3000, 300)
    n_tp = {"small": 5000 if args.quick else 50000, "array": 1000 if args.quick else 5000}
    tmp = tempfile.mkdtemp(prefix="fwbench-")
    address = f"ipc://{tmp}/bus.sock"
    os.environ["FACEWIRE_BUS"] = address
    registry = subprocess.Popen([sys.executable, "-m", "facewire", "bus", "--address", address],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: list[dict[str, Any]] = []
    try:
        time.sleep(0.5)
        print(f"round trips: {n_rtt} (after {warmup} warm-up); throughput: "
              f"{n_tp['small']} small / {n_tp['array']} array messages one way"
              + (f"; pinned: here cpu {os.sched_getaffinity(0)}, echo {CHILD_CPU[1]}"
                 if args.pin else ""))
        for run in range(args.repeat):
            if args.repeat > 1:
                print(f"-- run {run + 1} of {args.repeat}")
            results += measure(args.transports.split(","), n_rtt, n_tp, warmup, args.blocks,
                               args.decompose)
    finally:
        registry.terminate()
        registry.wait(5)
    ok = summarise(results) if args.repeat > 1 else all(r["good"] for r in results)
    print("goal (median <= 1.3x, throughput >= 70%):", "met" if ok else "missed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
