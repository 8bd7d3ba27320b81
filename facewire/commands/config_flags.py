"""Command-line flags made from a config dataclass, so each setting is declared once: its
field gives the name, type and default, and its metadata (``facewire.train.options.option``
or ``field(metadata=...)``) the rest:

* ``help``: the flag's help text (a field without one still gets a flag);
* ``choices``, ``metavar``, ``required``: as in argparse;
* ``flag``: the flag's name when it differs from the field's (``crop_s`` -> ``--crop``);
* ``cli: False``: no flag (a field set by code, not by users).

A ``bool`` field that defaults to False is a switch (``--resume``); one that defaults to
True is switched off by ``--no-NAME``. A ``list`` field is repeatable (``--data a --data
b``); a ``tuple`` field takes comma-separated values (``--channels 32,32,16``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")

FLAG_NAMES = "config_flag_names"  # namespace entry: field -> its flag (for recorded_argv)
SWITCH_OFF = "switch_off"  # the FLAG_NAMES value of a ``--no-NAME`` switch: (flag, SWITCH_OFF)


def _base(tp: Any) -> Any:
    """``float | None`` -> float; other types unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _comma_tuple(item: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(item(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected comma-separated {item.__name__} values") from None
    parse.__name__ = f"comma-separated {item.__name__}"
    return parse


def flag_of(f: dataclasses.Field) -> str:
    """The flag a field is set by (without the ``--no-`` of a switch that defaults on)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_config_flags(p: argparse.ArgumentParser, cls: type, **overrides: dict[str, Any]
                     ) -> None:
    """One flag per field of ``cls``; ``overrides`` maps a field name to metadata that
    replaces its own for this parser (e.g. another help text)."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    names: dict[str, tuple[str, str]] = {}
    for f in dataclasses.fields(cls):
        meta = {**f.metadata, **overrides.get(f.name, {})}
        if not meta.get("cli", True):
            continue
        tp, default = _base(hints[f.name]), getattr(defaults, f.name)
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        kw: dict[str, Any] = {"dest": f.name, "help": meta.get("help")}
        for k in ("choices", "metavar", "required"):
            if k in meta:
                kw[k] = meta[k]
        if "flag" in meta and "metavar" not in meta:
            kw["metavar"] = flag[2:].upper().replace("-", "_")
        if tp is bool:
            if default:
                flag = "--no-" + flag[2:]
                kw.update(action="store_false")
            else:
                kw.update(action="store_true")
        elif typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            kw.update(action="append", type=item, default=None if kw.get("required")
                      else list(default))
        elif typing.get_origin(tp) is tuple:
            item = typing.get_args(tp)[0]
            kw.update(type=_comma_tuple(item), default=default,
                      metavar=kw.get("metavar", ",".join(str(v) for v in default) or "V,..."))
        else:
            kw.update(type=tp, default=default)
        if kw["help"] and "default" in kw and default not in (None, [], ()) \
                and kw.get("action") is None and not kw.get("required"):
            shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else default
            kw["help"] += f" (default {shown})"
        p.add_argument(flag, **kw)
        names[f.name] = (flag, SWITCH_OFF if kw.get("action") == "store_false" else "")
    p.set_defaults(**{FLAG_NAMES: names})


def config_from_flags(cls: type[T], args: argparse.Namespace, **mapped: Any) -> T:
    """A config whose fields are filled by the flags of the same field; ``mapped`` sets
    fields the command computes itself."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kw = {k: v for k, v in vars(args).items() if k in names}
    kw.update(mapped)
    return cls(**kw)
