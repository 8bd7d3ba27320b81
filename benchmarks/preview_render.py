"""Render speed of the software face renderer (frames/s) and of `facewire preview` end to end.

    python benchmarks/preview_render.py [--sizes 256 512] [--frames 30] [--quick]

Uses the shared ICT-FaceKit rig; prints one line per size. No asserts: numbers to read.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from facewire.preview.compose import write_preview
from facewire.preview.render import FaceRenderer
from facewire.preview.tracks import WEIGHTS, Track
from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import load_default_rig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="3 frames at 128x128 (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.frames = [128], 3
    rig = load_default_rig()
    n = args.frames
    w = np.zeros((n, 52), np.float32)
    w[:, ARKIT_INDEX["jawOpen"]] = 0.5 + 0.5 * np.sin(np.arange(n) / 5)
    track = Track("bench", WEIGHTS, np.arange(n) / 30.0, w)
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for size in args.sizes:
        r = FaceRenderer(rig, size, size)
        verts = [track.vertices(rig, k / 30) for k in range(n)]
        r.render(verts[0])
        t = time.perf_counter()
        for v in verts:
            r.render(v)
        render_fps = n / (time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            stats = write_preview(rig, [track], f"{tmp}/b.mp4", 30.0, size, size)
        print(f"{size}x{size}: render {render_fps:.1f} frames/s; preview (pose + render + "
              f"H.264) {stats['frames_per_s']:.1f} frames/s")


if __name__ == "__main__":
    main()
