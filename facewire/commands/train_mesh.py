"""``facewire train landmarks`` (S2L) and ``facewire train densify`` (S2D): the parsers.

Registered by :mod:`facewire.commands.train` beside ``train blendshapes``.
"""

from __future__ import annotations

import argparse
import sys


def _common(p: argparse.ArgumentParser, epochs: int, lr: float, batch: int) -> None:
    p.add_argument("--out", required=True, help="run folder for checkpoints (last.pt, best.pt)")
    p.add_argument("--rig", default=None, help="rig npz (default: the shared ICT facekit)")
    p.add_argument("--identities", type=int, default=40, help="random training identities")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--patience", type=int, default=6, help="early-stopping patience (epochs)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget per invocation (minutes)")
    p.add_argument("--held-out", type=float, default=0.2, help="share of voices for validation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--quiet", action="store_true")


def register_landmarks(tsub: argparse._SubParsersAction) -> None:
    p = tsub.add_parser("landmarks", help="audio features -> 68x3 landmark displacements (S2L)")
    p.add_argument("--arch", choices=("s2l_causal", "s2l"), default="s2l_causal",
                   help="s2l: BiLSTM, offline (the paper's); s2l_causal: streaming")
    p.add_argument("--data", action="append", required=True,
                   help="corpus folder with teacher curves (facewire data synth); repeatable")
    p.add_argument("--features", choices=("logmel", "wav2vec2"), default="logmel")
    p.add_argument("--wav2vec", metavar="DIR", help="local wav2vec 2.0 folder (implies "
                   "--features wav2vec2)")
    p.add_argument("--wav2vec-layer", type=int, default=-1)
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


def _argv(args: argparse.Namespace, model: str) -> list[str]:
    if sys.argv[1:3] == ["train", model]:
        return sys.argv[1:]
    skip = {"func", "command", "train_command"}
    opts = [f"--{k.replace('_', '-')}" + ("" if v is True else f"={v}")
            for k, v in sorted(vars(args).items())
            if k not in skip and v not in (None, False) and not isinstance(v, list)]
    return ["train", model, *[f"--data={d}" for d in args.data], *opts]


def _run(name: str, fn, cfg, argv: list[str]) -> int:  # noqa: ANN001 - two trainers
    from facewire.train.dataset import DatasetError
    from facewire.train.train_blendshapes import CheckpointError

    try:
        res = fn(cfg, argv=argv)
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"facewire train {name}: {exc}", file=sys.stderr)
        return 2
    print(f"best epoch {res['best_epoch']} val {res['best_val']:.5f} ({res['epochs_run']} "
          f"epochs, {res['params']} params, {res['device']}) -> {res['best']}")
    return 0


def _landmarks(args: argparse.Namespace) -> int:
    from facewire.train.train_s2l import S2LConfig, train

    cfg = S2LConfig(
        data=args.data, arch=args.arch, out=args.out,
        features="wav2vec2" if args.wav2vec else args.features, wav2vec=args.wav2vec,
        wav2vec_layer=args.wav2vec_layer, lookahead=args.lookahead, hidden=args.hidden,
        layers=args.layers, rig=args.rig, identities=args.identities, w_rec=args.w_rec,
        w_mouth=args.w_mouth, w_cos=args.w_cos, w_vel=args.w_vel, lr=args.lr,
        batch=args.batch, crop_s=args.crop, epochs=args.epochs, patience=args.patience,
        max_minutes=args.max_minutes, held_out=args.held_out, seed=args.seed,
        device=args.device, threads=args.threads, resume=args.resume, quiet=args.quiet)
    return _run("landmarks", train, cfg, _argv(args, "landmarks"))


def _densify(args: argparse.Namespace) -> int:
    from facewire.train.train_s2d import S2DConfig, train

    cfg = S2DConfig(
        data=args.data, out=args.out, rig=args.rig, region=args.region,
        channels=tuple(int(c) for c in args.channels.split(",")),
        condition=not args.no_condition, identities=args.identities, w_rec=args.w_rec,
        w_cos=args.w_cos, w_weighted=args.w_weighted, steps=args.steps, noise_mm=args.noise,
        lr=args.lr, batch=args.batch, epochs=args.epochs, patience=args.patience,
        max_minutes=args.max_minutes, held_out=args.held_out, seed=args.seed,
        device=args.device, threads=args.threads, resume=args.resume, quiet=args.quiet)
    return _run("densify", train, cfg, _argv(args, "densify"))
