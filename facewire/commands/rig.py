"""``facewire rig info|build-ict``: inspect a face rig, or build the npz from ICT-FaceKit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rig", help="inspect face rigs; build the ICT-FaceKit rig npz")
    inner = p.add_subparsers(dest="rig_command", required=True)

    info = inner.add_parser("info", help="vertices, shapes, landmarks, mouth width of a rig")
    info.add_argument("path", nargs="?", help="npz, .gltf or .glb (default: the shared ICT rig)")
    info.set_defaults(func=show_info)

    build = inner.add_parser(
        "build-ict", help="build the rig npz from an ICT-FaceKit checkout (its FaceXModel OBJs)")
    build.add_argument("src", help="ICT-FaceKit checkout or its FaceXModel folder")
    build.add_argument("--out", default="ict_facekit.npz", help="npz to write")
    build.add_argument("--landmarks", help="68 vertex indices (JSON list or text) instead of "
                                           "ICT's published Multi-PIE 68 landmarks")
    build.add_argument("--identities", type=int, default=None, metavar="N",
                       help="keep the first N identity modes (default: all)")
    build.set_defaults(func=build_ict)


def describe(rig) -> list[str]:
    """The lines of ``facewire rig info``."""
    import numpy as np

    from facewire.rig.arkit import ARKIT_52

    moving = [n for n, b in zip(ARKIT_52, rig.blendshapes) if np.abs(b).max() > 0]
    missing = [n for n in ARKIT_52 if n not in moving]
    lines = [
        f"rig:          {rig.name} ({rig.source})",
        f"vertices:     {rig.n_vertices}",
        f"triangles:    {len(rig.faces)}",
        f"unit:         {rig.unit}",
        f"ARKit shapes: {len(moving)} of 52" + (f" (zero: {', '.join(missing)})" if missing else ""),
        f"identities:   {rig.identity_basis.shape[0]}",
        f"landmarks:    68 (mouth corners {rig.landmarks68[48]}, {rig.landmarks68[54]})",
        f"mouth width:  {rig.mouth_width() * rig.mm:.1f} mm",
    ]
    if rig.regions:
        lines.append("regions:      " + ", ".join(f"{k} [{a}:{b})"
                                                  for k, (a, b) in rig.regions.items()))
    return lines


def show_info(args: argparse.Namespace) -> int:
    from facewire.rig.rig import Rig, RigError, default_rig_path

    try:
        rig = Rig.load(args.path or default_rig_path())
    except (RigError, FileNotFoundError) as exc:
        print(f"facewire rig: {exc}", file=sys.stderr)
        return 2
    print("\n".join(describe(rig)))
    return 0


def build_ict(args: argparse.Namespace) -> int:
    from facewire.rig.ictfacekit import build_ict_npz, read_landmarks_file
    from facewire.rig.rig import RigError

    try:
        landmarks = read_landmarks_file(Path(args.landmarks)) if args.landmarks else None
        rig = build_ict_npz(Path(args.src), Path(args.out), landmarks, args.identities)
    except (RigError, OSError) as exc:
        print(f"facewire rig build-ict: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    print("\n".join(describe(rig)))
    return 0
