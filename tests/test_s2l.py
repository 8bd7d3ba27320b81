"""S2L: one training step, causal streaming, ONNX equivalence, the landmarks node."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.models.s2l import as_points, build
from facewire.testing import local_graph, run_graph
from facewire.train.mesh.data import JAW_MOUTH
from facewire.train.mesh.losses import S2LWeights, s2l_loss
from tests.conftest import SHARED

RIG = SHARED / "assets" / "ict_facekit.npz"
needs_rig = pytest.mark.skipif(not RIG.exists(), reason=f"ICT rig {RIG} absent (set "
                               "FACEWIRE_DATA to the shared folder)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny causal and offline S2L models trained on the toy corpus and exported."""
    if not RIG.exists():
        pytest.skip(f"ICT rig {RIG} absent (set FACEWIRE_DATA to the shared folder)")
    from facewire.train.data.dataset import make_toy_corpus
    from facewire.train.mesh.export import export
    from facewire.train.mesh.landmarks import LandmarksConfig, train

    root = tmp_path_factory.mktemp("s2l")
    corpus = make_toy_corpus(root / "toy", n_clips=6, seconds=1.0, voices=2)
    out = {}
    for arch in ("s2l_causal", "s2l"):
        res = train(LandmarksConfig(data=[str(corpus)], arch=arch, out=str(root / arch), epochs=1,
                              hidden=16, layers=2, identities=3, held_out=0.34, quiet=True,
                              rig=str(RIG), lookahead=3))
        out[arch] = Path(res["best"])
        out[arch + "_card"] = export(res["best"], root / f"{arch}_onnx", argv=["export"])
        out[arch + "_history"] = res["history"]
    out["corpus"] = corpus
    return out


def test_one_training_step_lowers_the_loss_on_its_batch() -> None:
    torch.manual_seed(0)
    net = build("s2l", n_feats=8, hidden=16, layers=3)
    x = torch.randn(2, 30, 8)
    tgt = as_points(torch.randn(2, 30, 204) * 0.01)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        loss, _ = s2l_loss(as_points(net(x)), tgt, None, S2LWeights(), JAW_MOUTH)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[1] < losses[0]
    assert net.lstm.num_layers == 3 and net.lstm.bidirectional and net.lstm.hidden_size == 16


def test_causal_model_streams_and_never_reads_past_its_lookahead() -> None:
    torch.manual_seed(0)
    net = build("s2l_causal", n_feats=8, hidden=16, layers=3, lookahead=4).eval()
    x = torch.randn(1, 40, 8)
    with torch.no_grad():
        whole = net(x)
        state = net.initial_state()
        parts = []
        for a, b in ((0, 1), (1, 8), (8, 23), (23, 40)):
            y, *state = net.forward_stream(x[:, a:b], *state)
            parts.append(y)
        torch.testing.assert_close(torch.cat(parts, 1), whole, atol=1e-5, rtol=1e-4)
        x2 = x.clone()
        x2[:, 20:] += 1.0  # change the future after frame 20
        y2 = net(x2)
    assert torch.equal(y2[:, :20], whole[:, :20])  # outputs up to 19 cannot see it
    bi = build("s2l", n_feats=8, hidden=16, layers=3).eval()
    with torch.no_grad():
        assert not torch.allclose(bi(x2)[:, :20], bi(x)[:, :20])  # the offline one does


def test_offline_model_refuses_to_stream() -> None:
    net = build("s2l", n_feats=8)
    assert not net.streaming and net.state_spec() == []
    with pytest.raises(NotImplementedError, match="whole utterance"):
        net.forward_stream(torch.zeros(1, 3, 8))


@needs_rig
def test_training_writes_checkpoints_with_finite_history(trained: dict) -> None:
    from facewire.train.mesh.landmarks import load_checkpoint

    ck = load_checkpoint(trained["s2l_causal"])
    assert ck["arch"] == "s2l_causal" and ck["net_config"]["lookahead"] == 3
    assert ck["split"]["train_voices"] and ck["split"]["val_voices"]
    assert not set(ck["split"]["train_voices"]) & set(ck["split"]["val_voices"])
    assert all(np.isfinite(h["val_loss"]) for h in trained["s2l_causal_history"])


@needs_rig
@pytest.mark.parametrize("arch", ["s2l_causal", "s2l"])
def test_onnx_matches_torch(trained: dict, arch: str) -> None:
    import json

    from facewire.models.mesh_runtime import LandmarkPredictor
    from facewire.train.mesh.landmarks import load_checkpoint, net_from_checkpoint

    card = json.loads(trained[arch + "_card"].read_text())
    assert card["metrics"]["onnx_vs_torch_max_abs"] < 1e-4
    net = net_from_checkpoint(load_checkpoint(trained[arch]))
    x = torch.randn(1, 77, net.n_feats) * net.feat_std + net.feat_mean
    with torch.no_grad():
        ref = net(x)[0, net.lookahead:].numpy()
    pred = LandmarkPredictor(trained[arch + "_card"], "cpu")
    from facewire.models.framerate import resample

    want = resample(ref, pred.rate, pred.fps, pred.t0).reshape(-1, 68, 3)
    got = pred.predict(x[0].numpy())
    assert got.shape == want.shape and got.shape[1:] == (68, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)


@needs_rig
def test_landmarks_node_streams_the_same_frames_as_whole_file(trained: dict) -> None:
    from facewire.models.logmel import logmel
    from facewire.models.mesh_runtime import LandmarkPredictor
    from facewire.nodes.features import FeaturesNode
    from facewire.nodes.landmarks import LandmarksNode
    from facewire.train.data.loaders import load_audio
    from tests.live_helpers import chunks_of

    audio = load_audio(trained["corpus"] / "wav" / "000000.wav")
    nodes = [FeaturesNode(name="features"),
             LandmarksNode(name="landmarks", params={"model": str(trained["s2l_causal_card"])})]
    frames = run_graph(nodes, {"/audio": chunks_of(audio)})["/landmarks"]
    assert len(frames) > 50 and all(f.displacements.shape == (68, 3) for f in frames)
    times = np.array([f.header.media_time for f in frames])
    np.testing.assert_allclose(times, np.arange(len(frames)) / 60.0, atol=1e-9)
    pred = LandmarkPredictor(trained["s2l_causal_card"], "cpu")
    whole = pred.predict(logmel(audio[: len(audio) // 160 * 160], pred.logmel))
    n = min(len(whole), len(frames))
    np.testing.assert_allclose(np.stack([f.displacements for f in frames[:n]]), whole[:n],
                               atol=1e-4)


@needs_rig
def test_landmarks_node_refuses_offline_models_and_wrong_features(trained: dict,
                                                                  caplog) -> None:
    from facewire.messages.types import Features
    from facewire.models.runtime import ModelError
    from facewire.nodes.landmarks import LandmarksNode

    with pytest.raises(ModelError, match="offline"):
        LandmarksNode(name="lm", params={"model": str(trained["s2l_card"])}).on_start()
    node = LandmarksNode(name="lm", params={"model": str(trained["s2l_causal_card"])})
    bus = local_graph(node).bus
    bus.publisher("/features", Features).publish(
        Features(values=np.zeros((3, 40), np.float32), kind="logmel", frame_rate=100.0))
    assert node.counters["handler_errors"] == 1
    assert "logmel x 80, got logmel x 40" in caplog.text


def test_bundled_causal_model_streams_landmarks() -> None:
    from facewire.models.mesh_runtime import LandmarkPredictor, default_landmark_model

    if not default_landmark_model().exists():
        pytest.skip(f"{default_landmark_model()} not shipped")
    pred = LandmarkPredictor(default_landmark_model(), "cpu")
    assert pred.streaming and pred.delay_s < 0.1
    silence = np.full((100, pred.dim), pred.pad_value, np.float32)
    out = np.concatenate([pred.step(silence[i:i + 7]) for i in range(0, 100, 7)])
    assert out.shape[1:] == (68, 3) and len(out) >= 55
    assert np.abs(out).max() * 10 < 1.0  # mm: silence keeps the landmarks near rest
