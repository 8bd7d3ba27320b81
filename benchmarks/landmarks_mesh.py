"""Per-frame cost of the landmarks (S2L) and densify (S2D) node models on one CPU thread.

S2L is stepped as the landmarks node steps it (one Features message per 10 ms feature
frame); its cost per 60 fps output frame is the total time over the frames emitted. S2D
runs once per 60 fps frame (``DensePredictor.full``: the ONNX graph plus placing the face
region in the full-rig array); wall time and CPU time are both printed, as on a shared
machine the wall time's tail is other processes taking the core. The budget is 1/60 s for everything; the issue asks S2D to
stay within 5 ms. Run: python benchmarks/landmarks_mesh.py [--landmarks M] [--densify M] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def stats(ts: list[float]) -> str:
    a = np.asarray(ts) * 1000
    return f"median {np.median(a):.3f} ms  p95 {np.percentile(a, 95):.3f} ms  max {a.max():.3f} ms"


def main() -> None:
    from facewire.models.mesh_runtime import (
        DensePredictor,
        LandmarkPredictor,
        default_dense_model,
        default_landmark_model,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landmarks", default=str(default_landmark_model()))
    ap.add_argument("--densify", default=str(default_dense_model()))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="0.5 s of frames (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 0.5
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; 1 onnxruntime "
          "thread per model")
    rng = np.random.default_rng(0)

    s2l = LandmarkPredictor(args.landmarks, "cpu", threads=1)
    n_feat = int(args.seconds * s2l.rate)
    feats = rng.normal(-6, 2, (n_feat, s2l.dim)).astype(np.float32)
    s2l.step(feats[:10])
    s2l.reset()
    calls, frames_out = [], 0
    t_all = time.perf_counter()
    for i in range(n_feat):
        t0 = time.perf_counter()
        frames_out += len(s2l.step(feats[i:i + 1]))
        calls.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    print(f"S2L {s2l.card['architecture']} ({s2l.card['params']} params): per feature frame "
          f"{stats(calls)}; per 60 fps output frame {1000 * total / max(frames_out, 1):.3f} ms "
          f"({frames_out} frames)")

    s2d = DensePredictor(args.densify, "cpu", threads=1)
    lms = rng.normal(0, 0.2, (int(args.seconds * 60), 68, 3)).astype(np.float32)
    for x in lms[:20]:
        s2d.full(x)
    ts, cpu = [], []
    for x in lms:
        t0, c0 = time.perf_counter(), time.thread_time()
        s2d.full(x)
        ts.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    print(f"S2D ({s2d.card['params']} params, {s2d.n_vertices} of {s2d.rig_vertices} "
          f"vertices): per 60 fps frame wall {stats(ts)}")
    # CPU time of this thread: what the frame costs when no other process takes the core
    print(f"S2D per 60 fps frame, CPU time {stats(cpu)}")


if __name__ == "__main__":
    main()
