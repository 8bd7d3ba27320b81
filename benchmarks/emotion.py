"""Per-frame cost of the emotion node's work: fusion (ONNX, one frame at a time, as live),
the naive sum, and the node's whole handler including message building.

    .venv/bin/python benchmarks/emotion.py [--model PATH] [--frames 2000] [--mesh] [--quick]

Budget: at most 2 ms per frame on this CPU, single thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timeit(fn, n: int) -> tuple[float, float]:
    for _ in range(50):
        fn(0)
    t = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        t[i] = time.perf_counter() - t0
    return 1000 * float(np.median(t)), 1000 * float(np.percentile(t, 99))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--mesh", action="store_true", help="also time MeshDeform output")
    ap.add_argument("--quick", action="store_true", help="100 frames (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.frames = 100

    from facewire.emotion.presets import one_hot
    from facewire.emotion.runtime import FusionRuntime, naive
    from facewire.messages.types import Blendshapes, Emotion, MeshDeform
    from facewire.nodes.emotion import EmotionNode
    from facewire.testing import local_graph

    rng = np.random.default_rng(0)
    speech = rng.uniform(0, 0.4, (args.frames, 52)).astype(np.float32)
    amounts = 0.7 * one_hot("happy")
    rt = FusionRuntime(args.model)
    rows = [("fusion (onnxruntime, 1 frame)", timeit(lambda i: rt.run(speech[i:i + 1], amounts),
                                                     args.frames)),
            ("naive sum", timeit(lambda i: naive(speech[i], amounts), args.frames))]
    code = rt.run(speech[:1], amounts)[1]
    rows.append(("learned blendshapes -> MeshDeform", timeit(lambda i: rt.deform(code),
                                                              min(args.frames, 300))))
    params = {"emotion": "happy", "intensity": 0.7, "model": args.model or "",
              "mesh": args.mesh}
    node = EmotionNode(name="emotion", params=params)
    bus = local_graph(node).bus
    bus.subscribe("/output", Blendshapes)
    if args.mesh:
        bus.subscribe("/deform", MeshDeform)
    msgs = [Blendshapes(weights=w).with_header(media_time=i / 60) for i, w in enumerate(speech)]
    node.on_emotion(Emotion(weights=one_hot("surprised"), intensity=0.9))
    rows.append((f"node handler (fusion{', mesh' if args.mesh else ''})",
                 timeit(lambda i: node.on_input(msgs[i]), args.frames)))
    print(f"{'what':40s} {'median ms':>10s} {'p99 ms':>8s}")
    for name, (med, p99) in rows:
        print(f"{name:40s} {med:10.3f} {p99:8.3f}")


if __name__ == "__main__":
    main()
