"""Messages the codec used to accept but that hurt a node.

Non-finite header times are dropped as ``non_finite``, header integers outside int64 as
``garbage``, empty arrays as ``empty``; sequence jumps start a new stream; per-subject state
is bounded. The running-node cases send raw frames from this process to a real smoother
process, as tests/test_bad_input.py does."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import numpy as np
import pytest
from bus_helpers import find_node, start_node, wait_running, wait_until
from conftest import stop_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_input import RawPublisher, frames_of, with_meta

from facewire.bus import Bus
from facewire.messages import Blendshapes, Text
from facewire.messages.codec import DecodeError, decode_bytes, decode_frames, encode_bytes
from facewire.nodes.smoother import Smoother
from facewire.testing import local_graph


def frame(i: int, subject: str = "a", seq: int | None = None,
          media_time: float | None = None) -> list[bytes]:
    msg = Blendshapes(weights=np.full(52, 0.5 + 0.2 * math.sin(i / 5), np.float32),
                      subject=subject)
    frames = frames_of(msg)
    return with_meta(frames, h=[i if seq is None else seq, 0,
                                i / 60 if media_time is None else media_time, 0])


# -- the codec ---------------------------------------------------------------------------
@pytest.mark.parametrize("header,cause", [
    ([0, 0, float("nan"), 0], "non_finite"),
    ([0, 0, float("inf"), 0], "non_finite"),
    ([0, 0, float("-inf"), 0], "non_finite"),
    ([2**64 - 1, 0, 0.0, 0], "garbage"),
    ([-1, 0, 0.0, 0], "garbage"),
    ([0, 2**63, 0.0, 0], "garbage"),
    ([0, 0, 0.0, 1e30], "garbage"),
])
def test_header_poison_is_dropped_by_cause(header: list, cause: str) -> None:
    frames = with_meta(frames_of(Text(text="x")), h=header)
    with pytest.raises(DecodeError) as err:
        decode_frames(frames)
    assert err.value.cause == cause


def test_empty_arrays_are_refused_where_a_shape_is_declared() -> None:
    meta = msgpack.unpackb(frames_of(Blendshapes(weights=np.zeros(52, np.float32)))[0])
    meta["a"] = [["weights", "float32", [0]]]
    with pytest.raises(DecodeError) as err:
        decode_frames([msgpack.packb(meta), b""])
    assert err.value.cause == "empty"
    bag = msgpack.unpackb(encode_bytes(Blendshapes(weights=np.zeros(52, np.float32))))
    bag["a"] = [["weights", "float32", [0], b""]]
    with pytest.raises(DecodeError):
        decode_bytes(msgpack.packb(bag))


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(),
                  st.text(max_size=12), st.binary(max_size=24))
_any = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-100, 100)), inner,
                                      max_size=5), max_leaves=12)


def _meta_strategy() -> st.SearchStrategy:
    good = msgpack.unpackb(frames_of(Blendshapes(weights=np.zeros(52, np.float32)))[0])
    keys = st.sampled_from(["t", "v", "h", "s", "a"])
    return st.dictionaries(keys, _any, max_size=5).map(lambda d: {**good, **d})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_meta_strategy(), st.lists(st.binary(max_size=256), max_size=3), _any)
def test_fuzzed_frames_raise_only_decode_errors(meta: dict, buffers: list, junk: object
                                                ) -> None:
    for frames in ([msgpack.packb(meta), *buffers], [msgpack.packb(junk)]):
        try:
            msg = decode_frames(frames)
        except DecodeError:
            continue
        # whatever is accepted is usable: finite header time, non-empty arrays
        assert math.isfinite(msg.header.media_time)
        assert 0 <= msg.header.seq < 2**63
        for name in msg.ARRAYS:
            assert getattr(msg, name).size > 0


# -- nodes in process ----------------------------------------------------------------
def run_smoother(msgs: list[Blendshapes], **params: object) -> tuple[Smoother, list]:
    node = Smoother(params=params, remaps={"input": "/in", "output": "/out"})
    run = local_graph(node)
    out = run.record("/out")
    run.feed("/in", msgs)
    return node, out


def test_smoother_drops_non_finite_times_in_process() -> None:
    msgs = [Blendshapes(weights=np.full(52, 0.5, np.float32)).with_header(media_time=i / 60)
            for i in range(20)]
    msgs[5] = msgs[5].with_header(media_time=float("nan"))
    node, out = run_smoother(msgs)
    assert node.counters["non_finite"] == 1
    assert len(out) >= 15 and all(np.isfinite(m.weights).all() for m in out)
    assert all(math.isfinite(m.header.media_time) for m in out)


def test_smoother_keeps_at_most_max_subjects_and_flushes_the_evicted() -> None:
    msgs = [Blendshapes(weights=np.full(52, 0.5, np.float32), subject=f"s{i}")
            .with_header(media_time=0.0) for i in range(500)]
    node, out = run_smoother(msgs, max_subjects=8, method="savgol")
    assert len(node.smoothers) == 8 and len(node.captures) == 8 and len(node.formats) == 8
    assert node.counters["subjects_evicted"] == 492
    assert {m.subject for m in out} >= {f"s{i}" for i in range(492)}  # flushed on eviction


# -- a running smoother process ------------------------------------------------------
@pytest.fixture
def smoother_proc(registry: str, tmp_path: Path) -> Iterator[tuple]:
    log = tmp_path / "smoother.log"
    proc = start_node("smoother", "--name", "victim", "--remap", "input=/bs_in",
                      "--remap", "output=/bs_out", "--param", "method=savgol",
                      "--param", "max_subjects=16", log=log)
    try:
        wait_running(registry, "victim", proc)
        raw = RawPublisher(registry, "/bs_in", "Blendshapes")
        try:
            raw.wait_subscribed()
            yield proc, raw, log
        finally:
            raw.close()
    finally:
        stop_process(proc)


def test_running_smoother_survives_non_finite_times_and_seq_jumps(
        smoother_proc: tuple, registry: str) -> None:
    proc, raw, log = smoother_proc
    bus = Bus("downstream")
    try:
        sub = bus.subscribe("/bs_out", Blendshapes)
        time.sleep(0.3)  # the smoother's publisher hears of the subscriber
        for i in range(10):
            raw.send(frame(i))
        raw.send(frame(10, media_time=float("nan")))
        raw.send(frame(10, media_time=float("inf")))
        raw.send(frame(10, seq=2**62))  # a jump: a new stream, not 2^62 lost messages
        raw.send(frame(11, seq=2**64 - 1))  # outside int64: dropped as garbage
        for i in range(11, 311):
            raw.send(frame(i))
            if i % 50 == 0:
                time.sleep(0.02)
        got = []
        while (m := sub.recv(timeout_s=3.0)) is not None:
            got.append(m)
            if len(got) >= 305:
                break
        usable = [m for m in got if np.isfinite(m.weights).all()
                  and math.isfinite(m.header.media_time)]
        assert len(usable) >= 300, len(usable)  # the old code gave 0 of the next 300

        def counted() -> dict | None:
            n = find_node(registry, "victim")
            return n if n and n["counters"].get("seq_reset.input", 0) >= 1 else None

        node = wait_until(counted, 10, "seq_reset counted")
        counters = node["counters"]
        assert counters["drop.input.non_finite"] == 2
        assert counters["drop.input.garbage"] == 1
        assert counters.get("drop.input.seq_gap", 0) < 10
        first_age = node["age_s"]
        time.sleep(1.5)
        assert find_node(registry, "victim")["age_s"] < first_age + 1.2  # heartbeats go on
    finally:
        bus.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert "Traceback" not in log.read_text()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_running_smoother_memory_stays_bounded_over_10000_subjects(
        smoother_proc: tuple, registry: str) -> None:
    proc, raw, log = smoother_proc
    for i in range(200):  # warm up: allocator pools, code paths
        raw.send(frame(i, subject=f"warm{i % 16}"))
    time.sleep(1.0)
    before = rss_kb(proc.pid)
    for i in range(10_000):
        raw.send(frame(200 + i, subject=f"subject-{i}"))
        if i % 100 == 99:
            time.sleep(0.05)  # mostly under the node's input queue depth

    def received() -> dict | None:  # every frame either handled or lost to the queue bound
        n = find_node(registry, "victim")
        c = n["counters"] if n else {}
        done = c.get("recv.input", 0) + c.get("drop.input.seq_gap", 0) >= 10_200
        return n if done else None

    try:
        node = wait_until(received, 60, "10,000 subjects received")
    except AssertionError:
        raise AssertionError(find_node(registry, "victim")) from None
    growth_mb = (rss_kb(proc.pid) - before) / 1024
    handled = node["counters"]["recv.input"] - 200
    assert handled >= 8_000
    assert node["counters"]["subjects_evicted"] >= handled - 16
    assert growth_mb < 8.0, f"grew {growth_mb:.1f} MB over 10,000 subjects (was 48.6 MB)"
    assert proc.poll() is None


def _mutations(rng: np.random.Generator, i: int) -> list[bytes]:
    """One bad message of many kinds (garbage, wrong header, arrays, sizes)."""
    good = frame(i)
    meta = msgpack.unpackb(good[0])
    kind = int(rng.integers(10))
    if kind == 0:
        return [rng.bytes(int(rng.integers(1, 300)))]
    if kind == 1:
        return with_meta(good, h=[int(rng.integers(0, 2**62)), 0,
                                  float(rng.choice([np.nan, np.inf, -np.inf])), 0])
    if kind == 2:  # any length but the 52 the buffer holds
        return with_meta(good, a=[["weights", "float32", [int(rng.choice(
            [n for n in range(200) if n != 52]))]]])
    if kind == 3:  # any size but the 208 bytes that 52 floats take
        return [good[0], rng.bytes(int(rng.choice([n for n in range(400) if n != 208])))]
    if kind == 4:
        return with_meta(good, s={**meta["s"], "subject": int(rng.integers(100))})
    if kind == 5:
        return with_meta(good, t=rng.bytes(5).hex(), v=int(rng.integers(0, 9)))
    if kind == 6:
        return with_meta(good, h=[2**64 - 1, -1, 0.0, 2**63])
    if kind == 7:
        return [good[0]]  # the array frame missing
    if kind == 8:
        return [*good, b"extra"]
    bad = np.full(52, np.nan, np.float32)
    return [good[0], bad.tobytes()]


@pytest.mark.slow
def test_100k_fuzzed_messages_into_a_running_smoother(smoother_proc: tuple,
                                                      registry: str) -> None:
    """90,000 bad messages and 10,000 valid ones, interleaved: the node keeps running and
    every valid frame is handled."""
    proc, raw, log = smoother_proc
    rng = np.random.default_rng(26)
    valid = 0
    for i in range(100_000):
        if i % 10 == 0:
            raw.send(frame(valid, subject=f"s{valid % 4}"))
            valid += 1
        else:
            raw.send(_mutations(rng, i))
        if i % 200 == 199:
            time.sleep(0.04)  # under the input queue depth: the test is about content
    assert valid == 10_000

    def handled() -> dict | None:
        n = find_node(registry, "victim")
        return n if n and n["counters"].get("recv.input", 0) >= 10_000 else None

    node = wait_until(handled, 120, "10,000 valid frames handled")
    assert node["counters"]["recv.input"] == 10_000
    assert proc.poll() is None
    assert "Traceback" not in log.read_text()
