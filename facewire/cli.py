"""The one ``facewire`` command: each sub-command lives in ``facewire.commands.<name>``.

A command module exposes ``register(subparsers)`` that adds its parser and sets
``func`` (called with the parsed args, returning an exit code). Modules are imported
lazily by name so that ``facewire msg show`` never pays for torch or onnxruntime.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command name -> module under facewire.commands
COMMANDS: dict[str, str] = {
    "bus": "bus",
    "node": "node",
    "topic": "topic",
    "msg": "msg",
    "launch": "launch",
    "bag": "bag",
    "data": "data",
    "animate": "animate",
    "batch": "batch",
    "audio": "audio",
    "demo": "demo",
    "train": "train",
    "export": "export",
    "eval": "eval",
    "eval-mesh": "eval_mesh",
    "emotion": "emotion",
    "rig": "rig",
    "preview": "preview",
    "say": "say",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facewire", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=f"see 'facewire {name} -h'")
            continue
        try:
            mod = importlib.import_module(f"facewire.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("facewire.commands"):
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
