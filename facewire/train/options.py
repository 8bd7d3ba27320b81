"""``option()``: a config field that carries its command-line help, so a training setting is
declared once: ``facewire train <family>`` makes one flag per field of the family's config
(facewire/commands/config_flags.py reads the metadata). Torch-free, so that building the
command line does not need torch for this."""

from __future__ import annotations

import dataclasses
from typing import Any


def option(default: Any, help: str | None = None, **meta: Any) -> Any:
    """A dataclass field with ``default`` and ``metadata = {"help": help, **meta}``; meta
    keys: ``choices``, ``metavar``, ``required``, ``flag`` (another flag name), ``cli``
    (False: no flag). A list default is copied for each instance."""
    metadata = {"help": help, **meta}
    if isinstance(default, list):
        return dataclasses.field(default_factory=default.copy, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
