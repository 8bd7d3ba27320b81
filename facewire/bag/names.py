"""Element names a bag stores with its schemas, so a reader needs no facewire to label curves.

A Blendshapes frame carries only its name set's id (``arkit52``), an Emotion only its
weights: the order lives in code. The writer puts the tables into each channel's JSON
schema as ``facewire_names``; readers take them from there, and fall back to this
facewire's tables for bags written before the names travelled (their schemas lack them).

Layout of ``facewire_names``: ``{array field: [names]}`` where the order is fixed
(Emotion), ``{array field: {name set: [names]}}`` where a scalar picks the set
(Blendshapes.weights, chosen by ``name_set``).
"""

from __future__ import annotations

import json
from typing import Any

from facewire.messages.types import EMOTIONS
from facewire.rig.arkit import NAME_SETS


def names_of_type(type_name: str) -> dict[str, Any] | None:
    """The ``facewire_names`` table a bag stores for a message type (None: nothing named)."""
    if type_name == "Blendshapes":
        return {"weights": {key: list(names) for key, names in NAME_SETS.items()}}
    if type_name == "Emotion":
        return {"weights": list(EMOTIONS)}
    return None


def names_from_schema(schema_data: bytes, type_name: str) -> dict[str, Any] | None:
    """The names a channel's schema holds, or this facewire's own for an older bag."""
    try:
        stored = json.loads(schema_data).get("facewire_names") if schema_data else None
    except (ValueError, AttributeError):
        stored = None
    return stored if isinstance(stored, dict) else names_of_type(type_name)
