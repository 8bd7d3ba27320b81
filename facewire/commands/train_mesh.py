"""``facewire train landmarks`` (S2L) and ``facewire train densify`` (S2D): the parsers.

Registered by :mod:`facewire.commands.train` beside ``train blendshapes``.
"""

from __future__ import annotations

import argparse
from typing import Any

from facewire.commands.train_flags import (
    add_feature_flags,
    add_run_flags,
    config_from_flags,
    run_training,
)


def _common(p: argparse.ArgumentParser, epochs: int, lr: float, batch: int) -> None:
    p.add_argument("--rig", default=None, help="rig npz (default: the shared ICT facekit)")
    p.add_argument("--identities", type=int, default=40, help="random training identities")
    add_run_flags(p, epochs, lr, batch)


def register_landmarks(tsub: argparse._SubParsersAction) -> None:
    p = tsub.add_parser("landmarks", help="audio features -> 68x3 landmark displacements (S2L)")
    p.add_argument("--arch", choices=("s2l_causal", "s2l"), default="s2l_causal",
                   help="s2l: BiLSTM, offline (the paper's); s2l_causal: streaming")
    p.add_argument("--data", action="append", required=True,
                   help="corpus folder with teacher curves (facewire data synth); repeatable")
    add_feature_flags(p)
    p.add_argument("--lookahead", type=int, default=6,
                   help="s2l_causal: feature frames (10 ms each) of future audio")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--w-rec", type=float, default=0.1)
    p.add_argument("--w-mouth", type=float, default=1.0)
    p.add_argument("--w-cos", type=float, default=1e-4)
    p.add_argument("--w-vel", type=float, default=10.0)
    p.add_argument("--crop", type=float, default=4.0, help="training crop length (s)")
    _common(p, epochs=40, lr=1e-3, batch=16)
    p.set_defaults(func=_landmarks)


def register_densify(tsub: argparse._SubParsersAction) -> None:
    p = tsub.add_parser("densify", help="68x3 landmark displacements -> dense mesh (S2D)")
    p.add_argument("--data", action="append", required=True,
                   help="corpus folder with teacher curves (the frames posed); repeatable")
    p.add_argument("--region", default="narrow_face", help="rig region the decoder covers")
    p.add_argument("--channels", default="32,32,16,16,16",
                   help="widths of the five spiral blocks (coarsest first)")
    p.add_argument("--no-condition", action="store_true",
                   help="read landmark displacements only (no identity neutral landmarks)")
    p.add_argument("--w-rec", type=float, default=0.1)
    p.add_argument("--w-cos", type=float, default=1e-4)
    p.add_argument("--w-weighted", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=200, help="batches per epoch")
    p.add_argument("--noise", type=float, default=0.0,
                   help="std of input landmark noise (mm) to tolerate S2L errors")
    _common(p, epochs=40, lr=1e-3, batch=16)
    p.set_defaults(func=_densify)


def landmark_config(args: argparse.Namespace) -> Any:
    from facewire.train.mesh.landmarks import S2LConfig

    return config_from_flags(S2LConfig, args, crop_s=args.crop)


def densify_config(args: argparse.Namespace) -> Any:
    from facewire.train.mesh.densify import S2DConfig

    return config_from_flags(S2DConfig, args, noise_mm=args.noise,
                             channels=tuple(int(c) for c in args.channels.split(",")),
                             condition=not args.no_condition)


def _landmarks(args: argparse.Namespace) -> int:
    from facewire.train.mesh.landmarks import train

    return run_training("landmarks", train, landmark_config(args), args)


def _densify(args: argparse.Namespace) -> int:
    from facewire.train.mesh.densify import train

    return run_training("densify", train, densify_config(args), args)
