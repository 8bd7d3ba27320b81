"""One codec for the wire and for bags.

Wire form (ZeroMQ multipart): ``[topic, meta, *array_buffers]`` where ``meta`` is a msgpack
map holding the type, version, header, scalar fields and each array's dtype and shape;
the arrays travel as raw frames, sent without copying.

Bag form (one MCAP message): the same msgpack map with each array's bytes inlined, so a
bag is self-describing and decodes without facewire's wire framing.

Decoding validates everything and raises :class:`DecodeError` whose ``cause`` is a short
stable word that subscribers count drops by.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import msgpack
import numpy as np

from facewire.messages.base import _REGISTRY, Header, Message, lookup

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class DecodeError(ValueError):
    """A message that cannot be accepted; ``cause`` names the kind, the text says the fix."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
        self.detail = detail


class _Plan:
    """Per-type facts the codec needs on every message, worked out once (hot path)."""

    __slots__ = ("cls", "type", "version", "scalars", "arrays", "checks", "fast_init")

    def __init__(self, cls: type[Message]) -> None:
        self.cls = cls
        self.type = cls.TYPE
        self.version = cls.VERSION
        self.scalars = tuple(cls.SCALARS)
        # (name, dtype name, numpy dtype, declared shape, finite float check)
        self.arrays = tuple(
            (name, spec.dtype, np.dtype(spec.dtype), spec.shape,
             spec.finite and np.dtype(spec.dtype).kind == "f")
            for name, spec in cls.ARRAYS.items()
        )
        self.checks = tuple((name, kind, _SCALAR_CHECKS[kind]) for name, kind in cls.SCALARS.items())
        # frozen dataclasses without __post_init__ can be filled in directly (no __init__)
        self.fast_init = not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type[Message]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


_PLANS_BY_NAME: dict[str, _Plan] = {}


def _plan_named(type_name: Any) -> _Plan | None:
    """The plan of a registered type name (one dict lookup once a type has been seen)."""
    plan = _PLANS_BY_NAME.get(type_name) if type_name.__class__ is str else None
    if plan is None:
        cls = _class_of(type_name)
        if cls is None:
            return None
        plan = _PLANS_BY_NAME[type_name] = _plan(cls)
    return plan


def _meta(msg: Message, plan: _Plan, seq: int | None = None,
          stamp_ns: int | None = None) -> dict[str, Any]:
    h = msg.header
    return {
        "t": plan.type,
        "v": plan.version,
        "h": [
            h.seq if seq is None else seq,
            h.stamp_ns if stamp_ns is None else stamp_ns,
            h.media_time,
            h.capture_ns,
        ],
        "s": {name: getattr(msg, name) for name in plan.scalars},
    }


def _contiguous(msg: Message, plan: _Plan) -> list[tuple[str, str, np.ndarray]]:
    """(name, dtype name, array) with each array C-contiguous in its declared dtype."""
    out = []
    for name, dtype_name, dtype, _, _ in plan.arrays:
        arr = getattr(msg, name)
        if not isinstance(arr, np.ndarray) or not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        if arr.dtype != dtype:  # also catches big-endian data of the right kind
            arr = arr.astype(dtype)
        out.append((name, dtype_name, arr))
    return out


_local = threading.local()


def _packb(obj: Any) -> bytes:
    """msgpack.packb without building a Packer per message (one per thread)."""
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer()
    return packer.pack(obj)


def encode_frames(
    msg: Message, seq: int | None = None, stamp_ns: int | None = None
) -> list[Any]:
    """Meta frame followed by one raw buffer per array (no copy of the array data).

    ``seq`` and ``stamp_ns`` override the header's (publishers stamp on send without
    copying the message).
    """
    plan = _plan(type(msg))
    meta = _meta(msg, plan, seq, stamp_ns)
    if not plan.arrays:
        meta["a"] = []
        return [_packb(meta)]
    arrays = _contiguous(msg, plan)
    meta["a"] = [[name, dtype_name, list(arr.shape)] for name, dtype_name, arr in arrays]
    return [_packb(meta), *(arr.data for _, _, arr in arrays)]


def encode_bytes(msg: Message) -> bytes:
    """The bag form: one msgpack blob with the arrays inlined."""
    plan = _plan(type(msg))
    meta = _meta(msg, plan)
    meta["a"] = [
        [name, dtype_name, list(arr.shape), arr.tobytes()]
        for name, dtype_name, arr in _contiguous(msg, plan)
    ]
    return _packb(meta)


def decode_frames(frames: Sequence[Any], max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """Decode ``[meta, *array_buffers]`` (the topic frame already removed).

    Frames may be bytes or any buffer (zmq.Frame): arrays are read-only views on them.
    """
    if not frames:
        raise DecodeError("truncated", "empty message")
    if len(frames) == 1:
        total = len(frames[0])
    else:
        total = 0
        for f in frames:
            total += len(f)
    if total > max_bytes:
        raise DecodeError(
            "oversize",
            f"{total} bytes exceeds the limit of {max_bytes}; raise max_bytes on the "
            "subscription if such messages are expected",
        )
    meta = _unpack(frames[0])
    entries = _array_table(meta)
    if len(frames) - 1 != len(entries):
        _check_table(entries, 3)  # a malformed table is garbage, not truncation
        raise DecodeError(
            "truncated",
            f"{len(entries)} array frames announced, {len(frames) - 1} received "
            "(partial multipart)",
        )
    return _build(meta, entries, frames[1:] if entries else None, 3)


def decode_bytes(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """Decode the bag form."""
    if len(data) > max_bytes:
        raise DecodeError("oversize", f"{len(data)} bytes exceeds the limit of {max_bytes}")
    meta = _unpack(data)
    return _build(meta, _array_table(meta), None, 4)


def _unpack(data: Any) -> dict[str, Any]:
    try:
        meta = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise DecodeError("garbage", f"meta frame is not msgpack ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict) or "t" not in meta or "v" not in meta or "h" not in meta:
        raise DecodeError("garbage", "meta frame is not a facewire message header")
    return meta


def _array_table(meta: dict[str, Any]) -> list[Any]:
    """The meta frame's array table; its entries are checked as they are used."""
    entries = meta.get("a", _NO_ENTRIES)
    if entries.__class__ is not list:
        raise DecodeError("garbage", "malformed array table in meta frame")
    return entries


def _entry(entries: list[Any], i: int, name: str, width: int) -> int:
    """Index of the table entry for array ``name``: ``i`` when the table is in declaration
    order (as every encoder writes it), else found by name; -1 when absent."""
    if i < len(entries):
        e = entries[i]
        if e.__class__ is list and len(e) == width and e[0] == name:
            return i
    _check_table(entries, width)
    return next((j for j, e in enumerate(entries) if e[0] == name), -1)


def _check_table(entries: list[Any], width: int) -> None:
    """Raise unless every entry is a ``width``-long list starting with its array's name."""
    if not all(isinstance(e, list) and len(e) == width and isinstance(e[0], str)
               for e in entries):
        raise DecodeError("garbage", "malformed array table in meta frame")


_NO_ENTRIES: list[Any] = []
_NO_SCALARS: dict[str, Any] = {}


def _class_of(type_name: Any) -> type[Message] | None:
    if not isinstance(type_name, str):
        return None
    cls = _REGISTRY.get(type_name)
    return cls if cls is not None else lookup(type_name)  # lookup imports the core types


def _build(meta: dict[str, Any], entries: list[Any], buffers: Sequence[Any] | None,
           width: int) -> Message:
    """The message from its meta and array table; ``buffers[i]`` holds entry i's data
    (wire form, ``width`` 3), or the entry itself does (bag form, ``width`` 4)."""
    type_name = meta["t"]
    plan = _plan_named(type_name)
    if plan is None:
        raise DecodeError(
            "unknown_type",
            f"message type {type_name!r} is not registered (see 'facewire msg list')",
        )
    cls = plan.cls
    if meta["v"] != plan.version:
        raise DecodeError(
            "version",
            f"{type_name} version {meta['v']} received, this facewire speaks {plan.version}; "
            "run the same facewire version on both ends",
        )
    header = _header(meta["h"])
    fields: dict[str, Any] = {"header": header}
    scalars = meta.get("s", _NO_SCALARS)
    if not isinstance(scalars, dict):
        raise DecodeError("garbage", "malformed scalar table")
    for name, kind, check in plan.checks:
        if name not in scalars:
            raise DecodeError("missing_field", f"{type_name}.{name} is missing")
        value = scalars[name]
        if not check(value):
            raise DecodeError(
                "field_type", f"{type_name}.{name} must be {kind}, got {type(value).__name__}"
            )
        if value.__class__ is float and not math.isfinite(value):
            raise DecodeError("non_finite", f"{type_name}.{name} is {value}")
        fields[name] = value
    dims: dict[str, int] = {}
    for i, (name, dtype_name, dtype, declared, finite) in enumerate(plan.arrays):
        j = _entry(entries, i, name, width)
        if j < 0:
            raise DecodeError("missing_field", f"{type_name}.{name} is missing")
        entry = entries[j]
        got_dtype, shape = entry[1], entry[2]
        buf = buffers[j] if buffers is not None else entry[3]
        if got_dtype != dtype_name:
            raise DecodeError(
                "dtype", f"{type_name}.{name} must be {dtype_name}, got {got_dtype}"
            )
        count = _check_shape(type_name, name, declared, shape, dims)
        if count == 0:  # a declared shape means data: an empty array would reach a node
            raise DecodeError("empty", f"{type_name}.{name} is empty (shape {shape})")
        try:  # one array construction on the buffer (frombuffer + reshape costs two)
            if (buf.nbytes if buf.__class__ is memoryview else len(buf)) != count * dtype.itemsize:
                raise ValueError
            arr = np.ndarray(shape, dtype, buf)
        except (TypeError, ValueError):  # TypeError: a bag entry whose data is not bytes
            raise DecodeError(
                "shape", f"{type_name}.{name}: {_size(buf)} cannot fill shape {shape}"
            ) from None
        if arr.flags.writeable:  # a view on a zmq.Frame: messages are immutable
            arr.flags.writeable = False
        if finite and not _all_finite(arr):
            raise DecodeError("non_finite", f"{type_name}.{name} holds NaN or infinity")
        fields[name] = arr
    if plan.fast_init:
        return _new(cls, fields)
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise DecodeError("garbage", f"{type_name}: {exc}") from None


_INT64 = 1 << 63


def _header(values: Any) -> Header:
    """The header from its wire list; exact types take the fast path, others are converted.

    A non-finite media_time would poison every clock that reads it (a smoother's, a
    bridge's), and integers outside int64 break whoever does arithmetic with them.
    """
    try:
        seq, stamp_ns, media_time, capture_ns = values
    except (TypeError, ValueError):
        raise DecodeError("garbage", "malformed header") from None
    if not (seq.__class__ is int and stamp_ns.__class__ is int
            and media_time.__class__ is float and capture_ns.__class__ is int):
        try:  # ints for media_time, numpy scalars from other producers
            seq, stamp_ns = int(seq), int(stamp_ns)
            media_time, capture_ns = float(media_time), int(capture_ns)
        except (TypeError, ValueError, OverflowError):  # int(inf) overflows
            raise DecodeError("garbage", "malformed header") from None
    if not math.isfinite(media_time):
        raise DecodeError("non_finite", f"header media_time is {media_time}")
    if not (0 <= seq < _INT64 and -_INT64 <= stamp_ns < _INT64
            and -_INT64 <= capture_ns < _INT64):
        raise DecodeError("garbage", "header integers outside int64 (seq must be >= 0)")
    header = object.__new__(Header)
    header.__dict__.update(seq=seq, stamp_ns=stamp_ns, media_time=media_time,
                           capture_ns=capture_ns)
    return header


def _all_finite(arr: np.ndarray) -> bool:
    """NaN or infinity anywhere makes the dot product non-finite; a finite dot proves
    the array finite at half the cost of np.isfinite (no temporary). Very large finite
    values can overflow the dot, so a non-finite one is checked exactly."""
    flat = arr.reshape(-1)
    if math.isfinite(flat.dot(flat)):  # math on the numpy scalar: no ufunc call
        return True
    return bool(np.isfinite(arr).all())


def _new(cls: type, fields: dict[str, Any]) -> Any:
    """A frozen dataclass instance from a complete, already validated field dict.

    Skips the generated ``__init__`` (one object.__setattr__ per field), which costs
    more than the rest of decoding a small message.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def _size(buf: Any) -> str:
    try:
        return f"{memoryview(buf).nbytes} bytes"
    except TypeError:
        return f"a {type(buf).__name__} (not bytes)"


_SCALAR_CHECKS = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _check_shape(
    type_name: str,
    name: str,
    declared: tuple[int | str, ...],
    shape: Any,
    dims: dict[str, int],
) -> int:
    """Raise unless ``shape`` fits the declaration; returns the element count."""
    if not isinstance(shape, list) or len(shape) != len(declared):
        raise DecodeError(
            "shape", f"{type_name}.{name} must have {len(declared)} dimensions, got {shape}"
        )
    count = 1
    for want, got in zip(declared, shape, strict=True):
        if not isinstance(got, int) or got < 0:
            raise DecodeError("shape", f"{type_name}.{name}: bad dimension {got!r}")
        if isinstance(want, int):
            if got != want:
                raise DecodeError(
                    "shape", f"{type_name}.{name} must have shape {list(declared)}, got {shape}"
                )
        elif dims.setdefault(want, got) != got:
            raise DecodeError(
                "shape", f"{type_name}.{name}: dimension {want}={got} disagrees with {dims[want]}"
            )
        count *= got
    return count


def validate(msg: Message) -> None:
    """Check a message about to be sent the way a receiver would (raises DecodeError)."""
    decode_bytes(encode_bytes(msg), max_bytes=1 << 62)
