"""Message declarations: frozen dataclasses with a type name, a version and typed arrays.

A message class declares its array fields with :func:`array` (dtype, shape with symbolic
dimensions, whether non-finite values are allowed) and its scalar fields with ordinary
type hints. :func:`message` registers the class so that the codec can find it by name
and ``facewire msg show`` can print its schema.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

M = TypeVar("M", bound="Message")

_REGISTRY: dict[str, type[Message]] = {}

SCALAR_TYPES: dict[Any, str] = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
}


@dataclass(frozen=True)
class ArraySpec:
    """What an array field must look like on the wire.

    ``shape`` entries are ints (fixed) or names (free, but equal wherever the same
    name appears within one message, e.g. ``("n", "channels")``).
    """

    dtype: str
    shape: tuple[int | str, ...]
    finite: bool = True

    def describe(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]" + ("" if self.finite else " (non-finite allowed)")


def array(dtype: str, shape: tuple[int | str, ...], *, finite: bool = True) -> Any:
    """Declare an array field (use as the dataclass field default)."""
    spec = ArraySpec(np.dtype(dtype).name, tuple(shape), finite)
    return field(metadata={"array": spec})


@dataclass(frozen=True)
class Header:
    """Carried by every message (DESIGN.md §2).

    seq: per publisher, stamped on send; gaps are counted by subscribers.
    stamp_ns: wall clock at publish.
    media_time: seconds on the audio stream's own clock that this message describes.
    capture_ns: wall clock when the audio at media_time entered the system.
    """

    seq: int = 0
    stamp_ns: int = 0
    media_time: float = 0.0
    capture_ns: int = 0


@dataclass(frozen=True)
class Message:
    """Base of all message types; subclasses are frozen dataclasses made with @message."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    ARRAYS: ClassVar[dict[str, ArraySpec]] = {}
    SCALARS: ClassVar[dict[str, str]] = {}

    header: Header = field(default_factory=Header, kw_only=True)

    def with_fields(self: M, **changes: Any) -> M:
        """A copy with some fields (``header`` too) replaced, skipping __init__ like
        with_header: per-frame code builds its messages from one prototype this way.
        Values are not converted or checked here (the codec checks what goes on the wire)."""
        if not changes.keys() <= self.__dict__.keys():
            raise TypeError(f"{type(self).__name__} has no field "
                            f"{min(changes.keys() - self.__dict__.keys())!r}")
        copy = object.__new__(self.__class__)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        return copy

    def stamped(self: M, seq: int, stamp_ns: int) -> M:
        """``with_header(seq=seq, stamp_ns=stamp_ns)`` for in-process publishers, which stamp
        every message (several per animation frame) and need no check of field names."""
        header = object.__new__(Header)
        fields = header.__dict__
        fields.update(self.header.__dict__)
        fields["seq"] = seq
        fields["stamp_ns"] = stamp_ns
        copy = object.__new__(self.__class__)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields["header"] = header
        return copy

    def with_header(self: M, **changes: Any) -> M:
        """A copy with some header fields replaced (arrays are shared, not copied).

        Per-frame code calls this, so it copies the instance dict instead of going
        through dataclasses.replace (which re-runs __init__ and costs ~10x more).
        """
        old = self.header.__dict__
        if not changes.keys() <= old.keys():
            raise TypeError(f"Header has no field {min(changes.keys() - old.keys())!r}")
        header = object.__new__(Header)
        fields = header.__dict__
        fields.update(old)
        fields.update(changes)
        copy = object.__new__(self.__class__)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields["header"] = header
        return copy


def message(type_name: str, version: int = 1):
    """Class decorator: make a frozen dataclass message type and register it."""

    def wrap(cls: type[M]) -> type[M]:
        cls = dataclass(frozen=True)(cls)
        hints = typing.get_type_hints(cls)
        arrays: dict[str, ArraySpec] = {}
        scalars: dict[str, str] = {}
        for f in dataclasses.fields(cls):
            if f.name == "header":
                continue
            spec = f.metadata.get("array")
            if spec is not None:
                arrays[f.name] = spec
            else:
                scalars[f.name] = _scalar_kind(hints[f.name], cls.__name__, f.name)
        cls.TYPE = type_name
        cls.VERSION = version
        cls.ARRAYS = arrays
        cls.SCALARS = scalars
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise ValueError(f"message type {type_name!r} is registered twice")
        _REGISTRY[type_name] = cls
        return cls

    return wrap


def _scalar_kind(hint: Any, cls_name: str, name: str) -> str:
    if hint in SCALAR_TYPES:
        return SCALAR_TYPES[hint]
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return "array"
    if origin is dict or hint is dict:
        return "object"
    raise TypeError(f"{cls_name}.{name}: unsupported field type {hint!r}")


def registry() -> dict[str, type[Message]]:
    """All registered message types by name (importing the core types first)."""
    from facewire.messages import types  # noqa: F401  (registers the core types)

    return dict(_REGISTRY)


def lookup(type_name: str) -> type[Message] | None:
    return registry().get(type_name)


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(cls: type[Message], names: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of the bag form exactly as stored (``codec.encode_bytes``).

    Stored per channel in bags, so that a message msgpack-decoded by any tool validates
    against its channel's schema with a stock validator. The bag form is the map
    ``{t: type, v: version, h: [seq, stamp_ns, media_time, capture_ns], s: {scalars},
    a: [[name, dtype, shape, bytes], ...]}``; JSON Schema has no byte-string type, so an
    array's data (msgpack bin, raw little-endian) is described but not typed.

    ``names`` (array field -> names of its elements, or for Blendshapes name set ->
    curve names) goes in as ``facewire_names``: a bag carries the curve order itself.
    """
    header = {
        "type": "array",
        "description": "header: [seq, stamp_ns, media_time (s on the audio clock), "
                       "capture_ns]",
        "prefixItems": [
            {"title": "seq", "type": "integer"},
            {"title": "stamp_ns", "type": "integer"},
            {"title": "media_time", "type": "number"},
            {"title": "capture_ns", "type": "integer"},
        ],
        "items": False,
        "minItems": 4,
    }
    scalars = {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in cls.SCALARS.items()},
        "required": list(cls.SCALARS),
        "additionalProperties": False,
    }
    entries = [_array_entry_schema(name, spec) for name, spec in cls.ARRAYS.items()]
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": cls.TYPE,
        "description": (cls.__doc__ or "").strip(),
        "type": "object",
        "facewire_version": cls.VERSION,
        "properties": {
            "t": {"const": cls.TYPE, "description": "message type"},
            "v": {"const": cls.VERSION, "description": "message type version"},
            "h": header,
            "s": scalars,
            "a": _array_table_schema(entries),
        },
        "required": ["t", "v", "h", "s", "a"],
        "additionalProperties": False,
    }
    if names:
        schema["facewire_names"] = names
    return schema


def _array_table_schema(entries: list[dict[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {"type": "array",
                             "description": "arrays: [name, dtype, shape, data] each"}
    if not entries:  # prefixItems may not be empty
        return {**table, "maxItems": 0}
    return {**table, "prefixItems": entries, "items": False, "minItems": len(entries)}


def _array_entry_schema(name: str, spec: ArraySpec) -> dict[str, Any]:
    dims = [{"const": d} if isinstance(d, int) else {"title": d, "type": "integer", "minimum": 0}
            for d in spec.shape]
    return {
        "title": name,
        "type": "array",
        "prefixItems": [
            {"const": name},
            {"const": spec.dtype},
            {"type": "array", "prefixItems": dims, "items": False, "minItems": len(dims)},
            {"description": f"raw little-endian {spec.describe()}, C order (msgpack bin)"},
        ],
        "items": False,
        "minItems": 4,
    }


def describe(cls: type[Message]) -> str:
    """Human-readable schema for ``facewire msg show``."""
    lines = [f"{cls.TYPE} (version {cls.VERSION})"]
    doc = (cls.__doc__ or "").strip()
    if doc:
        lines += ["  " + line.strip() for line in doc.splitlines()]
    lines.append("  header: seq int, stamp_ns int, media_time float (s), capture_ns int")
    for name, kind in cls.SCALARS.items():
        lines.append(f"  {name}: {kind}")
    for name, spec in cls.ARRAYS.items():
        lines.append(f"  {name}: {spec.describe()}")
    return "\n".join(lines)
