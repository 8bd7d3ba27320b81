"""features -> blendshapes -> smoother with a model trained in the test (in-process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from live_helpers import chunks_of, run_features_blendshapes, train_tiny_model

from facewire.messages.types import Blendshapes
from facewire.models.logmel import logmel
from facewire.models.runtime import StreamingPredictor
from facewire.nodes.smoother import Smoother
from facewire.rig.arkit import ARKIT_INDEX
from facewire.testing import local_graph


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("live"))


def buzz(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * env * np.sign(np.sin(2 * np.pi * 130 * t)) + 0.003 * rng.standard_normal(t.size))


def test_node_stream_equals_whole_file_inference(model: Path) -> None:
    audio = buzz(2.0)
    frames = run_features_blendshapes(model, chunks_of(audio), vad="none")
    whole = StreamingPredictor(model, device="cpu").predict(logmel(audio))
    got = np.stack([f.weights for f in frames])
    n = min(len(got), len(whole))
    assert n >= 115  # two seconds at 60 fps
    assert np.abs(got[:n] - np.clip(whole[:n], 0, 1)).max() < 1e-4
    times = [f.header.media_time for f in frames]
    assert np.allclose(times, np.arange(len(times)) / 60.0)


def test_frames_carry_capture_time_of_their_media_time(model: Path) -> None:
    frames = run_features_blendshapes(model, chunks_of(buzz(1.0), capture_ns=10**18))
    for f in frames[:50]:
        assert f.header.capture_ns == pytest.approx(10**18 + f.header.media_time * 1e9, abs=1e3)


def test_silence_relaxes_to_neutral_within_100ms_and_noise_does_not_flutter(model: Path) -> None:
    rng = np.random.default_rng(1)
    audio = 0.01 * rng.standard_normal(16000 * 7 // 2)  # steady background noise
    audio[16000:40000] += buzz(1.5)  # "speech" from 1.0 s to 2.5 s
    frames = run_features_blendshapes(model, chunks_of(audio))
    w = np.stack([f.weights for f in frames])
    t = np.array([f.header.media_time for f in frames])
    jaw = w[:, ARKIT_INDEX["jawOpen"]]
    speaking = (t > 1.2) & (t < 2.3)
    assert jaw[speaking].max() > 0.02, "the model should open the jaw for the buzz"
    assert np.abs(w[(t > 0.3) & (t < 0.95)]).max() < 0.01, "noise before speech moves the face"
    after = t > 2.5 + 0.1
    assert np.abs(w[after]).max() < 0.02, "the face must be neutral 100 ms after speech ends"


def test_smoother_delays_but_keeps_media_time(model: Path) -> None:
    node = Smoother(name="smoother", params={"method": "savgol", "window": 7},
                    remaps={"input": "/raw", "output": "/smooth"})
    bus = local_graph(node).bus
    out = bus.subscribe("/smooth", Blendshapes)
    assert node.delay_s == pytest.approx(3 / 60)
    pub = bus.publisher("/raw", Blendshapes)
    rng = np.random.default_rng(2)
    for k in range(30):
        pub.publish(Blendshapes(weights=rng.random(52).astype(np.float32))
                    .with_header(media_time=k / 60, capture_ns=k))
    assert len(out.received) == 27  # three frames wait for their future neighbours
    node.end_of_stream()
    assert [m.header.media_time for m in out.received] == [k / 60 for k in range(30)]
    assert [m.header.capture_ns for m in out.received] == list(range(30))


def test_wrong_sample_rate_is_refused_and_counted(model: Path, caplog) -> None:
    from facewire.messages.types import AudioChunk
    from facewire.nodes.features import FeaturesNode

    node = FeaturesNode(name="features")
    bus = local_graph(node).bus
    pub = bus.publisher("/audio", AudioChunk)
    pub.publish(AudioChunk(samples=np.zeros((441, 1), np.float32), sample_rate=44100))
    assert node.counters["handler_errors"] == 1
    assert "resample" in caplog.text
    pub.publish(AudioChunk(samples=np.zeros((160, 1), np.float32), sample_rate=16000))
    assert node.counters["handler_errors"] == 1


def test_missing_or_corrupt_model_names_the_path(tmp_path: Path, model: Path) -> None:
    from facewire.models.runtime import ModelError

    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        StreamingPredictor(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in model.parent.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    onnx = next(bad.glob("*.onnx"))
    onnx.write_bytes(b"not an onnx graph")
    with pytest.raises(ModelError, match="corrupt"):
        StreamingPredictor(bad)


def test_model_with_wrong_input_dimensions_names_path_and_shape(tmp_path: Path,
                                                                model: Path) -> None:
    import json

    from facewire.models.runtime import ModelError

    bad = tmp_path / "dims"
    bad.mkdir()
    for f in model.parent.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    card_path = next(bad.glob("*.json"))
    card = json.loads(card_path.read_text())
    card["features"]["dim"] = 40  # the graph takes 80 mel bands
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"dims.*input .* has shape .*card says \[1, frames, 40\]"):
        StreamingPredictor(bad)
