"""StreamClock: outputs stamped on the frame grid, capture times from the right input."""

from __future__ import annotations

import numpy as np
import pytest

from facewire.bus.clock import StreamClock
from facewire.messages.base import Header, Message
from facewire.messages.types import AudioChunk, Blendshapes, Features, Landmarks
from facewire.testing import local_graph


def h(media_time: float, capture_ns: int) -> Header:
    return Header(0, 0, media_time, capture_ns)


def test_capture_is_mapped_from_the_newest_input_not_an_earlier_one() -> None:
    clock = StreamClock(100.0)
    clock.arrive(h(0.0, 1_000_000_000), 0.05)
    clock.arrive(h(0.05, 1_057_000_000), 0.05)  # arrived 7 ms later than the first predicts
    first = clock.stamp()  # frame 0 at 0.0 s, completed by the second input
    assert first.media_time == 0.0
    assert first.capture_ns == 1_057_000_000 - 50_000_000  # not the first input's 1e9
    clock.arrive(h(0.1, 1_098_000_000), 0.05)
    second = clock.stamp()
    assert second.media_time == 0.01
    assert second.capture_ns == 1_098_000_000 - 90_000_000


def test_frames_count_from_the_stream_origin_on_the_grid() -> None:
    clock = StreamClock(16000, step=160, tolerance=0.5 / 16000)  # log-mel: 10 ms hops
    for i in range(5):
        clock.arrive(h(2.5 + i * 0.01, 10**9 + i * 10**7), 0.01)
    headers = [clock.stamp(3), clock.stamp(1), clock.stamp()]
    # origin is the first input's media_time, not the newest input's
    assert [x.media_time for x in headers] == [2.5 + k * 160 / 16000 for k in (0, 3, 4)]
    assert clock.index == 5


def test_a_gap_or_a_jump_back_starts_a_new_stream() -> None:
    clock = StreamClock(60.0)
    assert not clock.started and clock.starts_stream(0.0)
    clock.arrive(h(0.0, 0), 0.1)
    assert clock.started
    assert not clock.starts_stream(0.1 + 5e-7)  # within tolerance: the same stream
    assert clock.starts_stream(0.2) and clock.starts_stream(0.0)
    clock.arrive(h(0.1, 100), 0.1)
    clock.stamp(4)
    clock.arrive(h(7.0, 5_000), 0.1)  # a seek: new origin, frames from 0 again
    assert clock.index == 0
    assert clock.stamp() == Header(0, 0, 7.0, 5_000)


def test_without_durations_a_later_input_continues_the_stream() -> None:
    clock = StreamClock()
    clock.arrive(h(1.0, 10))
    assert not clock.starts_stream(1.5)  # dropped frames in between: still the same stream
    assert clock.starts_stream(1.0) and clock.starts_stream(0.5)


def test_stamp_at_uses_the_capture_of_the_input_it_describes() -> None:
    clock = StreamClock(keep=3)
    for k in range(4):
        clock.arrive(h(k / 60, 100 + k))
    # the newest input (capture 103) completed frame 1; frame 1 keeps its own 101
    assert clock.stamp_at(1 / 60) == Header(0, 0, 1 / 60, 101)
    assert clock.stamp_at(1 / 60).capture_ns == 0  # stamped once; a second ask is unknown
    assert clock.stamp_at(0.0).capture_ns == 0  # the oldest was forgotten (keep=3)
    assert clock.stamp_at(3 / 60).capture_ns == 103


def test_stamp_before_any_input_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before any input"):
        StreamClock(60.0).stamp()


# -- the nodes that use it: each output stamped from the input it arrived with -----------
def feed_one_by_one(node: object, topic: str, out_topic: str, msgs: list[Message]
                    ) -> list[tuple[Message, list[Message]]]:
    """(input, outputs it completed) for each input, fed one by one in-process."""
    runner = local_graph(node, start=False)
    out = runner.record(out_topic)
    runner.start()
    pairs = []
    for m in msgs:
        before = len(out)
        runner.feed(topic, [m])
        pairs.append((m, out[before:]))
    return pairs


def check_stamps(pairs: list[tuple[Message, list[Message]]], period: float) -> None:
    outputs = [o for _, os in pairs for o in os]
    assert len(outputs) > 20
    assert np.allclose([o.header.media_time for o in outputs],
                       pairs[0][0].header.media_time + period * np.arange(len(outputs)))
    wrong = 0  # outputs whose stamp from the previous input would differ
    for (prev, _), (m, outs) in zip(pairs, pairs[1:]):
        for o in outs:
            mapped = m.header.capture_ns + int((o.header.media_time - m.header.media_time) * 1e9)
            assert o.header.capture_ns == mapped
            earlier = (prev.header.capture_ns
                       + int((o.header.media_time - prev.header.media_time) * 1e9))
            wrong += earlier != mapped
    assert wrong > 10  # the jitter makes a stamp from the wrong input show


@pytest.fixture(scope="module")
def jittered_features() -> list[Features]:
    """Real log-mel Features of a buzz whose audio chunks arrived with 0-3 ms jitter."""
    from facewire.nodes.features import FeaturesNode

    rng = np.random.default_rng(5)
    t = np.arange(16000) / 16000
    audio = (0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (t > 0.2)).astype(np.float32)
    chunks = [AudioChunk(samples=audio[i:i + 160, None], sample_rate=16000)
              .with_header(media_time=1.0 + i / 16000,
                           capture_ns=10**15 + i * 62_500 + int(rng.integers(0, 3_000_000)))
              for i in range(0, 16000, 160)]
    pairs = feed_one_by_one(FeaturesNode(name="features"), "/audio", "/features", chunks)
    check_stamps(pairs, 0.01)
    return [o for _, os in pairs for o in os]


def test_features_node_stamps_from_the_chunk_that_completed_a_frame(jittered_features) -> None:
    assert sum(len(f.values) for f in jittered_features) >= 95


def test_blendshapes_node_stamps_from_the_features_that_completed_a_frame(
        jittered_features) -> None:
    from facewire.nodes.blendshapes import BlendshapesNode

    node = BlendshapesNode(name="blendshapes", params={"vad": "none"})
    pairs = feed_one_by_one(node, "/features", "/blendshapes", jittered_features)
    check_stamps(pairs, 1 / 60)
    assert isinstance(next(o for _, os in pairs for o in os), Blendshapes)


def test_landmarks_node_stamps_from_the_features_that_completed_a_frame(
        jittered_features) -> None:
    from facewire.nodes.landmarks import LandmarksNode

    node = LandmarksNode(name="landmarks")
    pairs = feed_one_by_one(node, "/features", "/landmarks", jittered_features)
    check_stamps(pairs, 1 / 60)
    assert isinstance(next(o for _, os in pairs for o in os), Landmarks)
