"""Flags made from a config dataclass (facewire/commands/config_flags.py): every field kind
becomes the flag users expect, and each training family's flags are its config's fields."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, field, fields

import pytest

from facewire.commands.config_flags import add_config_flags, config_from_flags
from facewire.commands.families import FAMILIES


@dataclass
class Toy:
    data: list[str] = field(default_factory=list, metadata={"required": True, "help": "d"})
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    limit: int | None = None
    mode: str = field(default="a", metadata={"choices": ("a", "b")})
    seal: bool = field(default=True, metadata={"help": "no seal"})
    resume: bool = False
    sizes: tuple[int, ...] = (3, 4)
    crop_s: float = field(default=4.0, metadata={"flag": "--crop"})
    internal: int = field(default=7, metadata={"cli": False})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_config_flags(p, Toy)
    return p


def test_every_kind_of_field_becomes_its_flag() -> None:
    args = parser().parse_args(["--data", "x", "--data", "y", "--rate", "2", "--limit", "3",
                                "--mode", "b", "--no-seal", "--resume", "--sizes", "1,2,5",
                                "--crop", "1.5"])
    cfg = config_from_flags(Toy, args)
    assert cfg == Toy(["x", "y"], 2.0, 3, "b", False, True, (1, 2, 5), 1.5, 7)
    assert config_from_flags(Toy, parser().parse_args(["--data", "x"])) == Toy(["x"])


def test_bad_values_are_argparse_errors() -> None:
    for argv in (["--data", "x", "--mode", "c"], ["--data", "x", "--sizes", "1,z"],
                 ["--data", "x", "--rate", "fast"], ["--data", "x", "--internal", "1"]):
        with pytest.raises((argparse.ArgumentError, SystemExit)):
            parser().parse_args(argv)
    with pytest.raises(SystemExit):  # --data is required
        parser().parse_args([])


def test_help_comes_from_field_metadata() -> None:
    text = parser().format_help()
    assert "a rate (default 0.5)" in text and "--no-seal" in text and "--crop" in text
    assert "--internal" not in text


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_has_a_flag_per_config_field(family: str) -> None:
    from facewire.cli import build_parser
    from facewire.commands.train import config_class, config_for

    cls = config_class(family)
    args = build_parser().parse_args(["train", family, "--data", "c", "--out", "o"])
    missing = [f.name for f in fields(cls) if f.metadata.get("cli", True)
               and f.name not in vars(args)]
    assert not missing, f"train {family}: no flag for {missing}"
    assert config_for(family, args) == cls(data=["c"], out="o")


def test_train_help_lists_the_families() -> None:
    out = subprocess.run([sys.executable, "-m", "facewire", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert all(f in out for f in FAMILIES)
