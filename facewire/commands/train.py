"""``facewire train blendshapes``: train a speech-to-blendshape network (see docs/models.md)."""

from __future__ import annotations

import argparse
from typing import Any

from facewire.commands.train_flags import (
    add_feature_flags,
    add_run_flags,
    config_from_flags,
    run_training,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train models")
    tsub = p.add_subparsers(dest="train_command", metavar="MODEL")
    tsub.required = True
    b = tsub.add_parser("blendshapes", help="audio features -> ARKit blendshapes (ff|s2s|cnn_gru)")
    b.add_argument("--arch", choices=("ff", "s2s", "cnn_gru"), default="cnn_gru")
    b.add_argument("--data", action="append", required=True,
                   help="corpus folder (facewire data synth), Live Link Face take folder, or "
                   "'facegood'; repeatable")
    add_feature_flags(b)
    b.add_argument("--lookahead", type=int, default=2,
                   help="feature frames (10 ms each) of future audio (streaming archs)")
    b.add_argument("--curves", choices=("lower", "all"), default="lower")
    b.add_argument("--loss", choices=("mse", "vnl2"), default="vnl2")
    b.add_argument("--l1", type=float, default=0.1, help="L1 sparsity weight for vnl2")
    b.add_argument("--aperture", type=float, default=0.0,
                   help="weight of the lip-aperture L1 loss on the rig (0 = off)")
    b.add_argument("--rig", default=None, help="rig npz for --aperture (default ICT facekit)")
    b.add_argument("--no-seal", action="store_true",
                   help="predict mouthClose freely instead of as a share of jawOpen")
    b.add_argument("--bandlimit", type=float, default=0.0,
                   help="share of training clips low-passed to 4 kHz (augmentation)")
    b.add_argument("--gain-db", type=float, default=0.0,
                   help="random level change per training crop, +- dB (augmentation)")
    b.add_argument("--seal-bce", type=float, default=0.0,
                   help="weight of the lip-seal classification loss (seal networks)")
    b.add_argument("--seal-pos-weight", type=float, default=1.0,
                   help="weight of sealed frames in --seal-bce (>1: fewer missed closures, "
                        "more false ones)")
    b.add_argument("--closure", type=float, default=0.0,
                   help="weight of the segment-level lip-closure loss: each /p b m/ must close "
                        "the lips (< 1 mm) at some frame, each lips-apart consonant must not "
                        "(needs phone timings; see docs/models.md)")
    b.add_argument("--consistency", type=float, default=0.0,
                   help="weight of a loss that asks two augmented views of each crop (other "
                        "--warp, --eq-db, --gain-db draws) for the same curves: invariance to "
                        "the voice (see docs/models.md)")
    b.add_argument("--phone-loss", type=float, default=0.0,
                   help="weight of an auxiliary phone-recognition loss on the GRU state "
                        "(cnn_gru; needs phone timings in the corpus; not exported)")
    b.add_argument("--voice-adversary", type=float, default=0.0,
                   help="weight of a gradient-reversed voice classifier on the GRU state "
                        "(cnn_gru; pushes the encoder to drop the voice; not exported)")
    b.add_argument("--eq-db", type=float, default=0.0,
                   help="random spectral envelope per training crop (tilt + ripple), +- dB "
                        "(augmentation: voice and microphone timbre)")
    b.add_argument("--warp", type=float, default=0.0,
                   help="mel-axis warp augmentation (vocal tract length), e.g. 0.1 = +-10%%")
    b.add_argument("--speaker-norm", action="store_true",
                   help="online speaker normalisation of log-mel (running speech mean replaced "
                        "by the training voices' mean; see docs/models.md)")
    b.add_argument("--speaker-norm-prior", type=float, default=None, metavar="FRAMES",
                   help="weight of the training voices' mean in the speaker normaliser, in "
                        "frames (default 10, or the --init-from model's): lower adapts to a "
                        "new voice sooner after a stream starts")
    b.add_argument("--lr-plateau", type=int, default=0, metavar="N",
                   help="halve the learning rate once validation has not improved for more "
                        "than N epochs (0: constant rate); kept across --resume")
    b.add_argument("--init-from", metavar="CKPT",
                   help="start from this checkpoint's weights, or from an exported model's "
                        "card (.json, e.g. the shipped default): fine-tuning on your own "
                        "takes, or to another lookahead; with a larger --hidden (cnn_gru) "
                        "the network is widened first, keeping its outputs")
    b.add_argument("--crop", type=float, default=4.0, help="training crop length (s)")
    b.add_argument("--hidden", type=int, default=None,
                   help="recurrent/hidden size (cnn_gru default 96)")
    b.add_argument("--window", type=int, default=None, help="ff window (feature frames)")
    add_run_flags(b, epochs=40, lr=1e-3, batch=8)
    b.set_defaults(func=_blendshapes)
    from facewire.commands.train_mesh import register_densify, register_landmarks

    register_landmarks(tsub)
    register_densify(tsub)
    from facewire.commands.emotion import register_train

    register_train(tsub)


def blendshape_config(args: argparse.Namespace) -> Any:
    from facewire.train.blendshapes.train import TrainConfig

    return config_from_flags(TrainConfig, args, seal=not args.no_seal, crop_s=args.crop)


def _blendshapes(args: argparse.Namespace) -> int:
    from facewire.train.blendshapes.train import train

    return run_training("blendshapes", train, blendshape_config(args), args)
