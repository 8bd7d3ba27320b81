"""Messages as plain JSON, for tools that cannot read msgpack (Foxglove, browsers, jq).

The bag form keeps arrays as raw bytes; here they become nested lists, and arrays whose
elements have names (Blendshapes weights, Emotion weights) become objects keyed by name,
so a viewer plots ``/blendshapes.weights.jawOpen`` instead of ``weights[24]``. The names
come from the caller (a bag's ``facewire_names`` or facewire's tables): this module knows
no rig.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from facewire.messages.base import SCHEMA_DIALECT, Message

Names = dict[str, Any]  # array field -> [names] or {name set: [names]} (facewire_names)


def element_names(names: Names | None, field: str, scalars: dict[str, Any]) -> list[str] | None:
    """Names of one array field's elements (None when unnamed or the set is unknown)."""
    entry = (names or {}).get(field)
    if isinstance(entry, list):
        return entry
    if isinstance(entry, dict):
        chosen = entry.get(scalars.get("name_set", ""))
        return chosen if isinstance(chosen, list) else None
    return None


def to_json(msg: Message, names: Names | None = None) -> dict[str, Any]:
    """The message as a JSON-ready dict: header, scalars, arrays (named where known)."""
    h = msg.header
    out: dict[str, Any] = {"header": {"seq": h.seq, "stamp_ns": h.stamp_ns,
                                      "media_time": h.media_time, "capture_ns": h.capture_ns}}
    scalars = {name: getattr(msg, name) for name in msg.SCALARS}
    out.update(scalars)
    for field, spec in msg.ARRAYS.items():
        arr = np.asarray(getattr(msg, field))
        if field in (names or {}) and arr.ndim == 1:
            labels = element_names(names, field, scalars)
            if labels is None or len(labels) != arr.size:  # a set this table lacks: by index
                labels = [str(i) for i in range(arr.size)]
            out[field] = {n: _number(v) for n, v in zip(labels, arr.tolist(), strict=True)}
        elif spec.finite or np.isfinite(arr).all():
            out[field] = arr.tolist()
        else:  # JSON has no NaN or infinity
            out[field] = np.where(np.isfinite(arr), arr, None).tolist()
    return out


def _number(v: float) -> float | None:
    return v if math.isfinite(v) else None


def json_form_schema(cls: type[Message], names: Names | None = None) -> dict[str, Any]:
    """JSON schema of :func:`to_json`'s output for a type (named arrays list their keys)."""
    props: dict[str, Any] = {
        "header": {
            "type": "object",
            "properties": {"seq": {"type": "integer"}, "stamp_ns": {"type": "integer"},
                           "media_time": {"type": "number"},
                           "capture_ns": {"type": "integer"}},
            "required": ["seq", "stamp_ns", "media_time", "capture_ns"],
        }
    }
    for name, kind in cls.SCALARS.items():
        props[name] = {"type": kind}
    for field, spec in cls.ARRAYS.items():
        number: dict[str, Any] = {"type": "number" if spec.finite else ["number", "null"]}
        nested: dict[str, Any] = number
        for _ in spec.shape:
            nested = {"type": "array", "items": nested}
        nested["description"] = spec.describe()
        entry = (names or {}).get(field)
        if entry is None or len(spec.shape) != 1:
            props[field] = nested
            continue
        sets = list(entry.values()) if isinstance(entry, dict) else [entry]
        keys = list(dict.fromkeys(n for s in sets for n in s))
        props[field] = {"type": "object",
                        "description": f"{spec.describe()} by name (by index for a name set "
                                       "this file does not name)",
                        "properties": {k: number for k in keys},
                        "additionalProperties": number}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": cls.TYPE,
        "description": (cls.__doc__ or "").strip(),
        "type": "object",
        "properties": props,
        "required": ["header", *cls.SCALARS, *cls.ARRAYS],
    }
