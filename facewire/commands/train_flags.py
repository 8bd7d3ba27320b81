"""Running ``facewire train <family>`` for the epoch-based families (blendshapes,
landmarks, densify): the command line recorded in the checkpoint, and the outcome or the
error as one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from facewire.commands.config_flags import FLAG_NAMES, SWITCH_OFF

# namespace entries that are not flags
NOT_FLAGS = {"func", "command", "train_command", "family", FLAG_NAMES}


def recorded_argv(args: argparse.Namespace, model: str) -> list[str]:
    """The command line to record in the checkpoint (rebuilt when called from Python)."""
    if sys.argv[1:3] == ["train", model]:
        return sys.argv[1:]
    flags: dict[str, tuple[str, str]] = getattr(args, FLAG_NAMES, {})
    opts = []
    for k, v in sorted(vars(args).items()):
        if k in NOT_FLAGS or v is None or isinstance(v, list):
            continue
        flag, kind = flags.get(k, (f"--{k.replace('_', '-')}", ""))
        if isinstance(v, bool):
            if v is (kind != SWITCH_OFF):
                opts.append(flag)
        else:
            text = ",".join(str(x) for x in v) if isinstance(v, tuple) else str(v)
            opts.append(f"{flag}={text}")
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
