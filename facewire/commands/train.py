"""``facewire train blendshapes``: train a speech-to-blendshape network (see docs/models.md)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train models")
    tsub = p.add_subparsers(dest="train_command", metavar="MODEL")
    tsub.required = True
    b = tsub.add_parser("blendshapes", help="audio features -> ARKit blendshapes (ff|s2s|cnn_gru)")
    b.add_argument("--arch", choices=("ff", "s2s", "cnn_gru"), default="cnn_gru")
    b.add_argument("--data", action="append", required=True,
                   help="corpus folder (facewire data synth), Live Link Face take folder, or "
                   "'facegood'; repeatable")
    b.add_argument("--out", required=True, help="run folder for checkpoints (last.pt, best.pt)")
    b.add_argument("--features", choices=("logmel", "wav2vec2"), default="logmel")
    b.add_argument("--wav2vec", metavar="DIR", help="local wav2vec 2.0 folder (implies "
                   "--features wav2vec2)")
    b.add_argument("--wav2vec-layer", type=int, default=-1)
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
    b.add_argument("--lr", type=float, default=1e-3)
    b.add_argument("--lr-plateau", type=int, default=0, metavar="N",
                   help="halve the learning rate once validation has not improved for more "
                        "than N epochs (0: constant rate); kept across --resume")
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--crop", type=float, default=4.0, help="training crop length (s)")
    b.add_argument("--epochs", type=int, default=40)
    b.add_argument("--patience", type=int, default=6, help="early-stopping patience (epochs)")
    b.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget per invocation (minutes)")
    b.add_argument("--held-out", type=float, default=0.2, help="share of voices for validation")
    b.add_argument("--hidden", type=int, default=None)
    b.add_argument("--window", type=int, default=None, help="ff window (feature frames)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    b.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    b.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=_blendshapes)
    from facewire.commands.train_mesh import register_densify, register_landmarks

    register_landmarks(tsub)
    register_densify(tsub)
    from facewire.commands.emotion import register_train

    register_train(tsub)


def _argv(args: argparse.Namespace) -> list[str]:
    """The command line to record in the checkpoint (rebuilt when called from Python)."""
    if sys.argv[1:3] == ["train", "blendshapes"]:
        return sys.argv[1:]
    skip = {"func", "command", "train_command"}
    opts = [f"--{k.replace('_', '-')}" + ("" if v is True else f"={v}")
            for k, v in sorted(vars(args).items())
            if k not in skip and v not in (None, False) and not isinstance(v, list)]
    data = [f"--data={d}" for d in args.data]
    return ["train", "blendshapes", *data, *opts]


def _blendshapes(args: argparse.Namespace) -> int:
    from facewire.train.dataset import DatasetError
    from facewire.train.train_blendshapes import CheckpointError, TrainConfig, train

    # every flag named like a config field fills it; the three that differ are mapped here
    names = {f.name for f in fields(TrainConfig)}
    kw = {k: v for k, v in vars(args).items() if k in names}
    kw.update(features="wav2vec2" if args.wav2vec else args.features,
              seal=not args.no_seal, crop_s=args.crop)
    cfg = TrainConfig(**kw)
    try:
        res = train(cfg, argv=_argv(args))
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"facewire train blendshapes: {exc}", file=sys.stderr)
        return 2
    print(f"best epoch {res['best_epoch']} val {res['best_val']:.4f} "
          f"({res['epochs_run']} epochs, {res['params']} params, {res['device']}) -> {res['best']}")
    return 0
