"""What the Foxglove bridge costs per message: JSON with named curves, and the 3D face.

Baselines in the same run: ``json.dumps`` of the bare weight list (what any JSON bridge
pays) for the curves, and posing the same vertices without building the scene for the
face. Without the ICT rig (FACEWIRE_DATA) only the curve rows are printed.

    python benchmarks/foxglove_bridge.py [--n 2000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import numpy as np

from facewire.bag.names import names_of_type
from facewire.messages.json_form import to_json
from facewire.messages.types import Blendshapes


def per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="calls per curve measurement")
    ap.add_argument("--quick", action="store_true", help="a smoke run (few calls)")
    args = ap.parse_args()
    n = 50 if args.quick else args.n
    rng = np.random.default_rng(0)
    msg = Blendshapes(weights=rng.uniform(0, 1, 52).astype(np.float32))
    names = names_of_type("Blendshapes")
    bare = per_call_us(lambda: json.dumps(msg.weights.tolist()), n)
    named = per_call_us(lambda: json.dumps(to_json(msg, names)), n)
    print(f"{'what':44s} {'us/msg':>10s} {'ratio':>7s}")
    print(f"{'baseline: json.dumps(weights list)':44s} {bare:10.1f} {1.0:6.1f}x")
    print(f"{'Blendshapes -> JSON with named curves':44s} {named:10.1f} {named / bare:6.1f}x")

    from facewire.rig.rig import default_rig_path

    if not default_rig_path().exists():
        print(f"no rig at {default_rig_path()}: face rows skipped (set FACEWIRE_DATA)")
        return 0
    from facewire.bridges.foxglove import FaceMesh
    from facewire.rig.rig import Rig

    face = FaceMesh(Rig.load(default_rig_path()))
    frames = max(3, n // 20)
    pose = per_call_us(lambda: face.vertices(msg.weights), frames)
    scene = per_call_us(lambda: face.scene(msg.weights, 0), frames)
    print(f"{'baseline: pose the face region':44s} {pose:10.1f} {1.0:6.1f}x")
    print(f"{'pose + SceneUpdate (' + str(face.n_vertices) + ' vertices)':44s} {scene:10.1f} "
          f"{scene / pose:6.1f}x")
    print(f"3D face at 10 Hz: {scene * 10 / 1e4:.1f} % of one core (only while a client "
          "subscribes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
