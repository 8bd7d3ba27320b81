"""Encode/decode cost per message: facewire's codec against the least a bare user does.

The bare baseline packs the same meta map with msgpack and, for the array message, wraps the
received buffer with np.frombuffer: no validation, no header, no drop accounting. Facewire
validates type, version, fields, dtype, shape and finiteness on every decode.

    python benchmarks/codec.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bus import facewire_message  # noqa: E402  (the benchmark's own messages)

from facewire.messages import decode_frames, encode_frames  # noqa: E402


def per_call_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="calls per run")
    ap.add_argument("--quick", action="store_true", help="500 calls per run (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.n = 500
    print(f"{'message':14s} {'op':7s} {'bare us':>9s} {'facewire us':>12s} {'ratio':>7s}")
    for kind, label in (("small", "256 B"), ("array", "64 KB float32")):
        msg = facewire_message(kind)
        frames = [bytes(memoryview(f)) for f in encode_frames(msg, seq=1, stamp_ns=2)]
        meta = msgpack.unpackb(frames[0])
        array = getattr(msg, "values", None)

        def bare_encode(meta=meta, array=array) -> object:
            head = msgpack.packb(meta)
            return (head, array.data) if array is not None else head

        def bare_decode(frames=frames, kind=kind) -> object:
            m = msgpack.unpackb(frames[0])
            if kind == "array":
                return m, np.frombuffer(frames[1], np.float32).reshape(128, 128)
            return m

        rows = (("encode", bare_encode, lambda msg=msg: encode_frames(msg, seq=1, stamp_ns=2)),
                ("decode", bare_decode, lambda frames=frames: decode_frames(frames)))
        for op, bare, ours in rows:
            b, f = per_call_us(bare, args.n), per_call_us(ours, args.n)
            print(f"{label:14s} {op:7s} {b:9.2f} {f:12.2f} {f / b:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
