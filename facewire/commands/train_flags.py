"""Flags every ``facewire train`` model shares: run control (the fields of
:class:`facewire.train.runs.RunSettings`) and the audio features, declared once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def add_run_flags(p: argparse.ArgumentParser, epochs: int, lr: float, batch: int) -> None:
    """--out, optimiser, early stopping, budget, split, seed, device, resume."""
    p.add_argument("--out", required=True, help="run folder for checkpoints (last.pt, best.pt)")
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


def add_feature_flags(p: argparse.ArgumentParser) -> None:
    """Log-mel or a local wav2vec 2.0 folder."""
    p.add_argument("--features", choices=("logmel", "wav2vec2"), default="logmel")
    p.add_argument("--wav2vec", metavar="DIR", help="local wav2vec 2.0 folder (implies "
                   "--features wav2vec2)")
    p.add_argument("--wav2vec-layer", type=int, default=-1)


def config_from_flags(cls: type[T], args: argparse.Namespace, **mapped: Any) -> T:
    """A training config whose fields are filled by the flags of the same name; ``mapped``
    gives the fields whose flag is named or shaped differently."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kw = {k: v for k, v in vars(args).items() if k in names}
    kw.update(mapped)
    return cls(**kw)


def recorded_argv(args: argparse.Namespace, model: str) -> list[str]:
    """The command line to record in the checkpoint (rebuilt when called from Python)."""
    if sys.argv[1:3] == ["train", model]:
        return sys.argv[1:]
    skip = {"func", "command", "train_command"}
    opts = [f"--{k.replace('_', '-')}" + ("" if v is True else f"={v}")
            for k, v in sorted(vars(args).items())
            if k not in skip and v not in (None, False) and not isinstance(v, list)]
    return ["train", model, *[f"--data={d}" for d in args.data], *opts]


def run_training(model: str, train: Callable[..., dict[str, Any]], cfg: Any,
                 args: argparse.Namespace) -> int:
    """Train; print the outcome, or the error (data, checkpoint, settings) and exit code 2."""
    from facewire.train.data.dataset import DatasetError
    from facewire.train.runs import CheckpointError

    try:
        res = train(cfg, argv=recorded_argv(args, model))
    except (DatasetError, CheckpointError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"facewire train {model}: {exc}", file=sys.stderr)
        return 2
    print(f"best epoch {res['best_epoch']} val {res['best_val']:.5f} ({res['epochs_run']} "
          f"epochs, {res['params']} params, {res['device']}) -> {res['best']}")
    return 0
