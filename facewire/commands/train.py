"""``facewire train <family>``: train a model of one family (docs/training.md). Each
family's flags are the fields of its config dataclass (facewire/commands/config_flags.py)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from facewire.commands.config_flags import add_config_flags, config_from_flags
from facewire.commands.families import FAMILIES
from facewire.commands.train_flags import run_training

# family -> (module, its config class): each module has ``train(cfg, argv) -> dict``
TRAINERS: dict[str, tuple[str, str]] = {
    "blendshapes": ("facewire.train.blendshapes.train", "TrainConfig"),
    "landmarks": ("facewire.train.mesh.landmarks", "LandmarksConfig"),
    "densify": ("facewire.train.mesh.densify", "DensifyConfig"),
    "emotion": ("facewire.train.emotion.train", "EmotionTrainConfig"),
}


def config_class(family: str) -> type:
    module, cls = TRAINERS[family]
    return getattr(importlib.import_module(module), cls)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model: " + " | ".join(FAMILIES),
                       description="Train a model of one family; 'facewire train FAMILY -h' "
                       "lists its flags.")
    tsub = p.add_subparsers(dest="train_command", metavar="FAMILY")
    tsub.required = True
    for family, what in FAMILIES.items():
        f = tsub.add_parser(family, help=what, description=what)
        add_config_flags(f, config_class(family))
        f.set_defaults(func=_train, family=family)


def config_for(family: str, args: argparse.Namespace) -> Any:
    """The family's config from parsed flags."""
    return config_from_flags(config_class(family), args)


def _train(args: argparse.Namespace) -> int:
    module, _ = TRAINERS[args.family]
    train = importlib.import_module(module).train
    cfg = config_for(args.family, args)
    if args.family == "emotion":
        try:
            res = train(cfg, argv=sys.argv[1:])
        except (FileNotFoundError, ValueError) as exc:
            print(f"facewire train emotion: {exc}", file=sys.stderr)
            return 2
        print(f"{res['steps']} steps in {res['minutes']:.1f} min -> {res['onnx']}")
        return 0
    return run_training(args.family, train, cfg, args)
