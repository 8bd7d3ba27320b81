"""The codec: every core type survives both forms, and every way a message can be bad is
named by its own DecodeError cause (subscribers count drops by that word)."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import numpy as np
import pytest

from facewire.messages import (
    DecodeError,
    Header,
    Landmarks,
    Message,
    Text,
    decode_bytes,
    decode_frames,
    encode_bytes,
    encode_frames,
    registry,
)

DEFAULT_SCALARS = {"integer": 7, "number": 2.5, "string": "x", "boolean": True,
                   "array": [1, 2], "object": {"a": 1}}


def sample(cls: type[Message], rng: np.random.Generator) -> Message:
    """A message of ``cls`` with random arrays (free dimensions = 3) and set scalars."""
    kwargs: dict[str, Any] = {name: DEFAULT_SCALARS[kind] for name, kind in cls.SCALARS.items()}
    for name, spec in cls.ARRAYS.items():
        shape = tuple(d if isinstance(d, int) else 3 for d in spec.shape)
        kwargs[name] = (rng.standard_normal(shape) * 100).astype(spec.dtype)
    return cls(header=Header(seq=5, stamp_ns=123, media_time=1.25, capture_ns=99), **kwargs)


def assert_same(a: Message, b: Message) -> None:
    assert type(a) is type(b)
    assert a.header == b.header
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb


@pytest.mark.parametrize("type_name", sorted(registry()))
def test_round_trip_every_core_type(type_name: str) -> None:
    cls = registry()[type_name]
    msg = sample(cls, np.random.default_rng(0))
    assert_same(decode_frames([bytes(memoryview(f)) for f in encode_frames(msg)]), msg)
    assert_same(decode_bytes(encode_bytes(msg)), msg)


def test_publisher_stamps_override_header_without_copy() -> None:
    msg = Landmarks(displacements=np.ones((68, 3), np.float32))
    out = decode_frames(encode_frames(msg, seq=41, stamp_ns=777))
    assert (out.header.seq, out.header.stamp_ns) == (41, 777)
    assert msg.header.seq == 0  # the original is untouched


def test_non_contiguous_and_wrong_dtype_arrays_are_converted() -> None:
    base = np.arange(68 * 6, dtype=np.float64).reshape(68, 6)
    msg = Landmarks(displacements=base[:, ::2])  # float64, strided
    out = decode_frames(encode_frames(msg))
    assert out.displacements.dtype == np.float32
    np.testing.assert_array_equal(out.displacements, base[:, ::2].astype(np.float32))


# -- every cause ------------------------------------------------------------------------
def landmarks_frames(**meta_changes: Any) -> list[bytes]:
    frames = [bytes(memoryview(f)) for f in
              encode_frames(Landmarks(displacements=np.zeros((68, 3), np.float32)))]
    meta = msgpack.unpackb(frames[0])
    meta.update(meta_changes)
    return [msgpack.packb(meta), *frames[1:]]


def text_meta(**changes: Any) -> dict[str, Any]:
    meta = msgpack.unpackb(encode_frames(Text(text="hi"))[0])
    meta.update(changes)
    return meta


def cause_of(frames: list[bytes], **kwargs: Any) -> str:
    with pytest.raises(DecodeError) as info:
        decode_frames(frames, **kwargs)
    assert str(info.value).startswith(info.value.cause)
    return info.value.cause


BAD_FRAMES = {
    "garbage bytes": ([b"\xc1\xff\x00garbage"], "garbage"),
    "msgpack, not a facewire map": ([msgpack.packb([1, 2, 3])], "garbage"),
    "header not a list": ([msgpack.packb(text_meta(h=5))], "garbage"),
    "header with infinity": ([msgpack.packb(text_meta(h=[float("inf"), 0, 0.0, 0]))],
                             "garbage"),
    "array table malformed": ([msgpack.packb(text_meta(a=[[["x"], "float32", [1]]]))],
                              "garbage"),
    "scalar table not a map": ([msgpack.packb(text_meta(s=[1]))], "garbage"),
    "empty": ([], "truncated"),
    "array frame missing": (landmarks_frames()[:1], "truncated"),
    "unknown type": ([msgpack.packb(text_meta(t="NoSuchType"))], "unknown_type"),
    "type name not a string": ([msgpack.packb(text_meta(t=3))], "unknown_type"),
    "wrong version": ([msgpack.packb(text_meta(v=99))], "version"),
    "missing scalar": ([msgpack.packb(text_meta(s={}))], "missing_field"),
    "missing array": (landmarks_frames(a=[])[:1], "missing_field"),
    "scalar of the wrong type": ([msgpack.packb(text_meta(s={"text": 5}))], "field_type"),
    "wrong dtype": (landmarks_frames(a=[["displacements", "float64", [68, 3]]]), "dtype"),
    "wrong shape": (landmarks_frames(a=[["displacements", "float32", [34, 6]]]), "shape"),
    "wrong rank": (landmarks_frames(a=[["displacements", "float32", [204]]]), "shape"),
    "negative dimension": (landmarks_frames(a=[["displacements", "float32", [-68, 3]]]),
                           "shape"),
    "bytes do not fill the shape": (
        [landmarks_frames()[0], np.zeros(10, np.float32).tobytes()], "shape"),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
def test_each_decode_error_cause(case: str) -> None:
    frames, cause = BAD_FRAMES[case]
    assert cause_of(frames) == cause


def test_non_finite_array_and_scalar() -> None:
    arr = np.zeros((68, 3), np.float32)
    arr[3, 1] = np.nan
    assert cause_of(encode_frames(Landmarks(displacements=arr))) == "non_finite"
    arr[3, 1] = np.inf
    assert cause_of(encode_frames(Landmarks(displacements=arr))) == "non_finite"
    meta = msgpack.unpackb(encode_frames(Landmarks(displacements=np.zeros((68, 3),
                                                                          np.float32)))[0])
    meta["s"]["fps"] = float("nan")
    assert cause_of([msgpack.packb(meta), np.zeros((68, 3), np.float32).tobytes()]) == (
        "non_finite")


def test_symbolic_dimensions_must_agree() -> None:
    from facewire.messages.base import array, message

    @message("TestPair", version=1)
    class Pair(Message):
        a: np.ndarray = array("float32", ("n",))
        b: np.ndarray = array("float32", ("n",))

    try:
        good = Pair(a=np.zeros(3, np.float32), b=np.zeros(3, np.float32))
        assert decode_frames(encode_frames(good)).a.shape == (3,)
        bad = Pair(a=np.zeros(3, np.float32), b=np.zeros(4, np.float32))
        assert cause_of(encode_frames(bad)) == "shape"
    finally:
        from facewire.messages.base import _REGISTRY

        _REGISTRY.pop("TestPair", None)


def test_oversize_both_forms() -> None:
    msg = Landmarks(displacements=np.zeros((68, 3), np.float32))
    assert cause_of(encode_frames(msg), max_bytes=100) == "oversize"
    with pytest.raises(DecodeError) as info:
        decode_bytes(encode_bytes(msg), max_bytes=100)
    assert info.value.cause == "oversize"


def test_bag_form_with_non_bytes_data_is_rejected() -> None:
    meta = msgpack.unpackb(encode_bytes(Landmarks(displacements=np.zeros((68, 3), np.float32))))
    meta["a"][0][3] = 12345
    with pytest.raises(DecodeError) as info:
        decode_bytes(msgpack.packb(meta))
    assert info.value.cause == "shape"


def test_decoded_arrays_are_read_only_views() -> None:
    """Zero copy on receive: the array is a view on the frame, so it must be read-only."""
    out = decode_frames([bytes(memoryview(f)) for f in
                         encode_frames(Landmarks(displacements=np.ones((68, 3), np.float32)))])
    assert not out.displacements.flags.writeable


def test_audio_chunk_with_nan_samples_is_refused() -> None:
    from facewire.messages import AudioChunk

    samples = np.zeros((160, 1), np.float32)
    samples[7, 0] = np.nan
    assert cause_of(encode_frames(AudioChunk(samples=samples))) == "non_finite"
