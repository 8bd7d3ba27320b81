"""Streaming wav2vec 2.0: overlapping windows, each frame once, streaming == offline, close to
the whole-clip features the models train on; the features node and features -> blendshapes
with tiny random wav2vec models saved to a temporary folder and loaded through the real code."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from facewire.messages.types import AudioChunk, Features  # noqa: E402
from facewire.models.wav2vec_stream import StreamingWav2Vec, WindowPlan, offline  # noqa: E402
from facewire.nodes.features import FeaturesNode  # noqa: E402
from facewire.testing import run_graph, run_node  # noqa: E402

SR = 16000


def save_tiny_wav2vec(folder: Path, norm: str = "group", seed: int = 0) -> Path:
    """Standard wav2vec 2.0 geometry (receptive 400, stride 320: 50 fps), tiny widths.
    ``group`` normalises the first conv layer over the whole input (like wav2vec2-base),
    ``layer`` per frame (like the large / XLS-R models)."""
    import torch

    torch.manual_seed(seed)
    cfg = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        vocab_size=4, feat_extract_norm=norm, do_stable_layer_norm=norm == "layer")
    transformers.Wav2Vec2Model(cfg).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core machine: a second torch thread only contends."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return save_tiny_wav2vec(tmp_path_factory.mktemp("w2v_group"))


@pytest.fixture(scope="module")
def encoder(tiny: Path) -> Any:
    from facewire.models.wav2vec import Wav2VecFeatures

    return Wav2VecFeatures(tiny)


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate segments of voiced tones, noise bursts and near-silence, so that
    neighbouring feature frames differ (a frame shift must show)."""
    rng = np.random.default_rng(seed)
    out, n = [], int(seconds * SR)
    while sum(len(s) for s in out) < n:
        m = int(rng.uniform(0.08, 0.25) * SR)
        t = np.arange(m) / SR
        kind = rng.integers(3)
        if kind == 0:
            f0 = rng.uniform(100, 250)
            seg = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)) * 0.2
        elif kind == 1:
            seg = rng.standard_normal(m) * 0.15
        else:
            seg = np.zeros(m)
        out.append(seg * np.hanning(m))
    x = np.concatenate(out)[:n] + 0.002 * rng.standard_normal(n)
    return x.astype(np.float32)


# --------------------------------------------------------------------------- windowing


def test_stream_equals_offline_with_random_chunks(encoder) -> None:
    audio = speechlike(2.3)
    ref = offline(encoder, audio, context_s=0.8, hop_s=0.12, margin_s=0.04)
    assert ref.shape == (1 + (len(audio) - 400) // 320, 16)  # every frame, once
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        s = StreamingWav2Vec(encoder, context_s=0.8, hop_s=0.12, margin_s=0.04)
        outs, i = [], 0
        while i < len(audio):
            n = int(rng.integers(1, 3000))
            outs.append(s.process(audio[i:i + n]))
            i += n
        outs.append(s.flush())
        got = np.concatenate(outs)
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < 1e-5
        assert s.windows_run <= int(len(audio) / (0.12 * SR)) + 1  # one model call per hop


def test_frames_wait_exactly_the_stated_delay(encoder) -> None:
    """Feed 5 ms chunks and note when each frame appears: the longest wait from a frame's
    media time (t0 + j / rate) to the audio known at that moment is delay_s."""
    s = StreamingWav2Vec(encoder, context_s=1.0, hop_s=0.1, margin_s=0.06)
    assert s.rate == 50.0 and s.t0 == pytest.approx(400 / SR)
    audio = speechlike(2.0, seed=3)
    waits = []
    for i in range(0, len(audio), 80):
        first = s.frames_out
        frames = s.process(audio[i:i + 80])
        times = s.t0 + (first + np.arange(len(frames))) / s.rate
        waits.extend((i + 80) / SR - times)
    assert s.frames_out == 1 + (len(audio) - 400 - 960) // 320  # the margin waits
    assert max(waits) == pytest.approx(s.delay_s, abs=1e-9)
    assert min(waits) >= 0.06 - 1e-9  # never less than the margin
    assert s.delay_s == pytest.approx(0.155)  # hop + margin - one stride's phase


def test_context_must_cover_hop_margin_and_receptive_field() -> None:
    with pytest.raises(ValueError, match="context_s=0.2 is too short"):
        WindowPlan(400, 320, context_s=0.2, hop_s=0.2, margin_s=0.1)
    plan = WindowPlan(400, 320, context_s=0.5, hop_s=0.2, margin_s=0.1)
    spans = list(plan.windows(SR * 3 + 123))
    assert [f for _, _, f, _ in spans[1:]] == [stop for _, _, _, stop in spans[:-1]]
    assert all(a % 320 == 0 and first >= a // 320 and (stop - 1) * 320 + 400 <= e
               for a, e, first, stop in spans)


def _rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)


def test_windowed_features_approach_the_whole_clip(encoder, tmp_path: Path) -> None:
    """Training uses whole-clip features (Wav2VecFeatures); live uses windows. Interior frames
    (past the stream start's short windows) on a speech-like clip, tiny random models:
    group norm (wav2vec2-base's layout: the first conv layer is normalised over the whole
    input) ~25% median relative error with 0.5 s windows, ~9% with 2 s, correlation > 0.97;
    layer norm (large / XLS-R layout) ~3% at 1 s. A one-frame shift is off by 50-110%, so
    these numbers also pin the frame alignment."""
    from facewire.models.wav2vec import Wav2VecFeatures

    audio = speechlike(4.0, seed=4)
    whole = encoder(audio)
    inner = slice(25, len(whole) - 5)
    err = {}
    for ctx in (0.5, 2.0):
        got = offline(encoder, audio, context_s=ctx, hop_s=0.1, margin_s=0.1)
        assert got.shape == whole.shape
        err[ctx] = float(np.median(_rel_err(got[inner], whole[inner])))
    corr = np.corrcoef(got[inner].ravel(), whole[inner].ravel())[0, 1]  # the 2 s windows
    shifted = float(np.median(_rel_err(got[26:len(whole) - 4], whole[inner])))
    assert err[2.0] < 0.6 * err[0.5] and err[2.0] < 0.15 and corr > 0.95, (err, corr)
    assert err[2.0] < 0.3 * shifted, (err, shifted)

    layer = Wav2VecFeatures(save_tiny_wav2vec(tmp_path / "layer", norm="layer"))
    got = offline(layer, audio, context_s=1.0, hop_s=0.1, margin_s=0.06)
    assert np.median(_rel_err(got[inner], layer(audio)[inner])) < 0.06


# --------------------------------------------------------------------------- the node


def chunks(audio: np.ndarray, n: int = 160, t0: float = 0.0, capture_ns: int = 0
           ) -> list[AudioChunk]:
    return [AudioChunk(samples=audio[i:i + n, None], sample_rate=SR)
            .with_header(media_time=t0 + i / SR, capture_ns=capture_ns + int(i / SR * 1e9))
            for i in range(0, len(audio) - n + 1, n)]


def run_features(params: dict, msgs: list[AudioChunk]) -> tuple[FeaturesNode, list[Features]]:
    node = FeaturesNode(name="features", params=params)
    return node, run_node(node, {"audio": msgs})["features"]


def test_node_publishes_windowed_wav2vec_with_media_and_capture_time(encoder, tiny: Path
                                                                     ) -> None:
    audio = speechlike(1.5, seed=5)
    params = {"kind": "wav2vec2", "wav2vec_path": str(tiny), "context_s": 0.8, "hop_s": 0.1,
              "margin_s": 0.04}
    node, msgs = run_features(params, chunks(audio, t0=3.0, capture_ns=10**15))
    assert node.delay_s == pytest.approx(StreamingWav2Vec(encoder, 0.8, 0.1, 0.04).delay_s)
    assert node.delay_s > 0.1
    assert all(m.kind == "wav2vec2" and m.frame_rate == 50.0 for m in msgs)
    got = np.concatenate([m.values for m in msgs])
    ref = offline(encoder, audio[:len(audio) // 160 * 160], 0.8, 0.1, 0.04)
    assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-5
    first = np.cumsum([0] + [len(m.values) for m in msgs[:-1]])
    assert np.allclose([m.header.media_time for m in msgs], 3.0 + first / 50.0)
    for m in msgs:
        assert m.header.capture_ns == pytest.approx(
            10**15 + (m.header.media_time - 3.0) * 1e9, abs=1e3)


def test_a_gap_flushes_the_old_stream_and_starts_a_new_clock(encoder, tiny: Path) -> None:
    a, b = speechlike(0.7, seed=7), speechlike(0.5, seed=8)
    params = {"kind": "wav2vec2", "wav2vec_path": str(tiny), "context_s": 0.5}
    node, msgs = run_features(params, chunks(a) + chunks(b, t0=10.0))
    assert node.counters["discontinuities"] == 1
    first = [m for m in msgs if m.header.media_time < 10.0]
    second = [m for m in msgs if m.header.media_time >= 10.0]
    assert second[0].header.media_time == 10.0
    for part, audio in ((first, a), (second, b)):
        ref = offline(encoder, audio, 0.5)
        assert np.abs(np.concatenate([m.values for m in part]) - ref).max() < 1e-5


def test_node_errors_name_the_folder_and_the_install(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "no_such_model"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        run_features({"kind": "wav2vec2", "wav2vec_path": str(missing)}, [])
    with pytest.raises(ValueError, match="needs wav2vec_path"):
        run_features({"kind": "wav2vec2"}, [])
    from facewire.models.wav2vec import Wav2VecError

    with pytest.raises(Wav2VecError, match=str(tmp_path)):  # a folder, but no model in it
        run_features({"kind": "wav2vec2", "wav2vec_path": str(tmp_path)}, [])
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"install facewire\[train\]"):
        run_features({"kind": "wav2vec2", "wav2vec_path": str(tmp_path)}, [])


def test_features_to_blendshapes_end_to_end(tiny: Path, encoder, tmp_path: Path) -> None:
    """A tiny ff model trained on the tiny wav2vec's whole-clip features, exported with its
    card, driven live by the features node: 60 fps frames tied to media time, equal to
    whole-file inference on the same windowed features."""
    from facewire.models.runtime import StreamingPredictor
    from facewire.nodes.blendshapes import BlendshapesNode
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.5, voices=2)
    train(TrainConfig(data=[str(corpus)], arch="ff", out=str(tmp_path / "run"),
                      features="wav2vec2", wav2vec=str(tiny), epochs=1, hidden=8, window=4,
                      quiet=True, held_out=0.5))
    model = export(tmp_path / "run" / "best.pt", tmp_path / "onnx")  # the card's path
    card = json.loads(model.read_text())
    assert card["features"]["kind"] == "wav2vec2" and card["features"]["rate"] == 50.0

    audio = speechlike(1.6, seed=6)
    nodes = [FeaturesNode(name="features", params={
                 "kind": "wav2vec2", "wav2vec_path": str(tiny), "context_s": 1.0}),
             BlendshapesNode(name="blendshapes", params={"model": str(model)})]
    frames = run_graph(nodes, {"/audio": chunks(audio, capture_ns=10**15)})["/blendshapes"]
    assert nodes[1].counters["handler_errors"] == 0
    assert len(frames) >= 90  # 1.6 s at 60 fps, less the last interpolation step
    times = np.array([f.header.media_time for f in frames])
    assert np.allclose(times, np.arange(len(frames)) / 60.0)
    assert np.allclose([f.header.capture_ns for f in frames], 10**15 + times * 1e9, atol=1e3)
    whole = StreamingPredictor(model, device="cpu").predict(offline(encoder, audio, 1.0))
    got = np.stack([f.weights for f in frames])
    n = min(len(got), len(whole))
    assert n >= 90 and np.abs(got[:n] - np.clip(whole[:n], 0, 1)).max() < 1e-4
