"""Emotion fusion: presets and bad input, easing, losses on known answers, one
training step, the ONNX runtime against torch, the map back to ARKit on a known case."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import SHARED

from facewire.emotion.easing import EmotionEaser
from facewire.emotion.presets import (
    PRESET_TABLE,
    PRIMARY_TABLE,
    UPPER_INDEX,
    EmotionError,
    check_intensity,
    expression_weights,
    mix_vector,
    one_hot,
    parse_mix,
)
from facewire.messages.types import EMOTIONS
from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import Rig

RIG = SHARED / "assets" / "ict_facekit.npz"
needs_rig = pytest.mark.skipif(not RIG.exists(), reason=f"ICT rig {RIG} absent (set "
                               "FACEWIRE_DATA to the shared folder)")


# -- presets and bad input -------------------------------------------------------------


def test_presets_cover_every_emotion_and_surprise_drops_the_jaw() -> None:
    assert PRESET_TABLE.shape == (len(EMOTIONS), 52)
    assert not PRESET_TABLE[EMOTIONS.index("neutral")].any()
    for e in EMOTIONS[1:]:
        assert PRIMARY_TABLE[EMOTIONS.index(e)].any(), e
    surprised = expression_weights(one_hot("surprised"), 0.5)
    assert surprised[ARKIT_INDEX["jawOpen"]] > 0.1  # the secondary deformation is there
    assert surprised[UPPER_INDEX].sum() > 1.0


@pytest.mark.parametrize("bad", ["joyful", "happy:x", "happy,,sad", ""])
def test_unknown_emotion_names_are_clear_errors(bad: str) -> None:
    with pytest.raises(EmotionError, match="emotion"):
        parse_mix(bad)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "loud", None])
def test_intensity_outside_0_1_or_nan_is_refused(bad: object) -> None:
    with pytest.raises(EmotionError, match="intensity"):
        check_intensity(bad)


def test_mix_weights_are_validated_and_normalised() -> None:
    w = parse_mix("happy:3,surprised:1")
    assert w[EMOTIONS.index("happy")] == pytest.approx(0.75)
    assert mix_vector(np.zeros(8))[EMOTIONS.index("neutral")] == 1.0
    for bad in (np.full(8, np.nan), -np.ones(8), np.ones(5)):
        with pytest.raises(EmotionError):
            mix_vector(bad)


# -- easing ----------------------------------------------------------------------------


def test_a_change_of_emotion_is_eased_not_stepped() -> None:
    start, goal = np.zeros(8, np.float32), one_hot("angry")
    easer = EmotionEaser(start, ease_s=0.5)
    easer.set_target(goal, None)
    values = np.array([easer.value(1.0 + i / 60)[EMOTIONS.index("angry")] for i in range(45)])
    steps = np.diff(values)
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0)  # 30 frames = 0.5 s
    assert np.all(steps >= -1e-7)  # monotone
    assert steps.max() < 0.06  # the largest frame-to-frame change is small
    assert steps[0] < steps[10]  # smooth start (no jerk)
    # a new target mid-glide starts from where the face is, not from the old target
    easer.set_target(goal, None)
    easer.set_target(start, None)
    assert easer.value(5.0)[EMOTIONS.index("angry")] == pytest.approx(1.0)


def test_zero_ease_time_switches_at_once() -> None:
    easer = EmotionEaser(np.zeros(8), ease_s=0.0)
    easer.set_target(one_hot("sad"), None)
    assert easer.value(0.0)[EMOTIONS.index("sad")] == 1.0


# -- a tiny rig for the torch side (no shared data needed) --------------------------------


def grid_rig(n: int = 12) -> Rig:
    """A flat n x n grid with UVs, random smooth ARKit shapes, landmarks on the grid."""
    ys, xs = np.mgrid[0:n, 0:n] / (n - 1)
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], 1).astype(np.float32)
    quads = [(i * n + j, i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j)
             for i in range(n - 1) for j in range(n - 1)]
    faces = np.array([f for a, b, c, d in quads for f in ((a, b, c), (a, c, d))], np.int32)
    rng = np.random.default_rng(0)
    freq = rng.uniform(0.5, 3, (52, 3, 2))
    bs = np.sin(freq[..., 0, None] * xs.ravel() * 3 + freq[..., 1, None] * ys.ravel() * 3)
    bs = (0.1 * np.moveaxis(bs, 1, 2)).astype(np.float32)
    return Rig("grid", verts, faces, bs, rng.integers(0, n * n, 68), unit="cm",
               uvs=verts[:, :2].copy(), face_uvs=faces.copy(), regions={"face": (0, n * n)})


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch")
    from facewire.emotion.fusion import FusionModule
    from facewire.emotion.geometry import FaceGeometry

    torch.manual_seed(0)
    geom = FaceGeometry.from_rig(grid_rig(), size=16)
    return geom, FusionModule(geom, k=4)


def test_uv_map_interpolates_vertex_values(tiny) -> None:
    geom, _ = tiny
    disp = np.zeros((geom.n_face, 3), np.float32)
    disp[:, 0] = 2.0  # a constant field maps to the same constant
    m = geom.to_map(disp)
    assert m.shape == (3, 16, 16)
    assert np.allclose(m[0].ravel()[geom.map_pixels], 2.0)
    assert len(geom.map_pixels) > 0.9 * 16 * 16


def test_losses_on_known_answers(tiny) -> None:
    import torch

    from facewire.emotion.fusion import (
        cross_sparsity,
        laplacian_loss,
        laplacian_matrix,
        weighted_mse,
    )

    geom, model = tiny
    # weighted MSE: error 2 on one coordinate of vertex 0 (weight 3), other vertex weight 1
    pred, target = torch.zeros(1, 6), torch.zeros(1, 6)
    pred[0, 0] = 2.0
    assert float(weighted_mse(pred, target, torch.tensor([3.0, 1.0]))) == pytest.approx(6.0)
    # sparsity: only the cross-domain halves count
    z_s = torch.tensor([[5.0, -5.0, 1.0, -2.0]])  # k=2: own 5,-5 ; cross 1,-2
    z_e = torch.tensor([[0.5, 0.5, 9.0, 9.0]])  # cross 0.5, 0.5 ; own 9, 9
    assert float(cross_sparsity(z_s, z_e, 2)) == pytest.approx(1.5 + 0.5)
    # Laplacian: zero on a constant shape, positive on a spike of known size
    lap = laplacian_matrix(geom.edges, geom.n_face)
    const = torch.ones(1, geom.n_face * 3)
    assert float(laplacian_loss(const, lap)) == pytest.approx(0.0, abs=1e-6)
    spike = torch.zeros(1, geom.n_face, 3)
    v = 5 * 12 + 5  # an interior vertex of the grid
    spike[0, v, 2] = 1.0
    deg = int(((geom.edges == v).any(1)).sum())
    nbrs = geom.edges[(geom.edges == v).any(1)].ravel()
    nbrs = nbrs[nbrs != v]
    expect = 1.0 + sum(1.0 / int(((geom.edges == u).any(1)).sum()) ** 2 for u in nbrs)
    assert deg == 6
    assert float(laplacian_loss(spike.view(1, -1), lap)) == pytest.approx(expect, rel=1e-5)


def test_one_training_step_lowers_the_loss_and_moves_every_part(tiny) -> None:
    import torch

    from facewire.emotion.fusion import FusionModule, LossWeights, laplacian_matrix
    from facewire.train.emotion.train import train_step

    geom, _ = tiny
    torch.manual_seed(1)
    model = FusionModule(geom, k=4)
    rng = np.random.default_rng(0)
    batch = {"speech": rng.uniform(0, 0.5, (8, 52)).astype(np.float32),
             "expr": rng.uniform(0, 0.5, (8, 52)).astype(np.float32)}
    batch["target"] = (0.5 * (batch["speech"] + batch["expr"])).astype(np.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    lap = laplacian_matrix(geom.edges, geom.n_face)
    vw = torch.from_numpy(geom.vertex_weights)
    first = train_step(model, opt, batch, vw, lap, LossWeights())
    assert set(first) >= {"rec", "sparsity", "laplacian", "fuse", "total"}
    assert all(np.isfinite(v) for v in first.values())
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert {"blendshapes", "enc_speech.head.weight", "enc_expr.conv.0.weight"} <= set(moved)
    for _ in range(3):
        last = train_step(model, opt, batch, vw, lap, LossWeights())
    assert last["total"] < first["total"]


def test_exported_onnx_matches_torch_and_drops_cross_domain_parts(tiny, tmp_path) -> None:
    import torch

    from facewire.emotion.export import export_fusion
    from facewire.emotion.runtime import FusionRuntime

    geom, model = tiny
    with torch.no_grad():  # give the linear read-outs something to fold
        model.enc_speech.skip.weight.normal_(0, 1e-3)
        model.enc_expr.skip.weight.normal_(0, 1e-3)
    export_fusion(model, geom, tmp_path, "tiny")
    rt = FusionRuntime(tmp_path / "tiny.json")
    rng = np.random.default_rng(2)
    speech = rng.uniform(0, 0.5, (5, 52)).astype(np.float32)
    amounts = 0.7 * one_hot("happy")
    arkit, code = rt.run(speech, amounts)
    expr = torch.from_numpy(np.tile(amounts @ PRESET_TABLE, (5, 1)).astype(np.float32))
    with torch.no_grad():
        z_s, z_e = model.encode(torch.from_numpy(speech), expr)
        fused = model.fused_code(z_s, z_e).numpy()
        disp = model.decode(torch.from_numpy(fused)).numpy()
    assert np.allclose(code, fused, atol=1e-4)
    want = disp @ geom.arkit_projector().T
    assert np.allclose(arkit, want, atol=1e-3)
    assert rt.deform(code).shape == (5, geom.n_vertices, 3)


# -- the real rig -----------------------------------------------------------------------


@needs_rig
def test_map_back_to_arkit_recovers_known_weights() -> None:
    from facewire.emotion.geometry import FaceGeometry

    rig = Rig.load(RIG)
    geom = FaceGeometry.from_rig(rig)
    proj = geom.arkit_projector()
    rng = np.random.default_rng(3)
    w = rng.uniform(0, 1, (4, 52)).astype(np.float32)
    w[:, ARKIT_INDEX["tongueOut"]] = 0  # ICT has no tongueOut shape: not recoverable
    disp = rig.expression(w)[:, : geom.n_face]  # pose the known weights on the rig
    back = disp.reshape(4, -1) @ proj.T
    assert np.abs(back - w).max() < 5e-3


@needs_rig
def test_shipped_fusion_keeps_lips_closed_where_the_naive_sum_opens_them() -> None:
    from facewire.emotion.runtime import FusionRuntime, naive
    from facewire.phones.teacher import phones_to_curves
    from facewire.train.metrics import CLOSED_MM, LipAperture

    aperture = LipAperture.from_rig(RIG)
    curves = phones_to_curves([["SIL", 0, 0.2], ["AA", 0.2, 0.4], ["P", 0.4, 0.5],
                               ["AA", 0.5, 0.7], ["SIL", 0.7, 0.9]], 54)
    p_frames = slice(24, 30)
    assert aperture(curves[p_frames]).min() < CLOSED_MM  # neutral speech closes
    rt = FusionRuntime()
    for emotion in ("surprised", "happy", "fearful"):
        amounts = one_hot(emotion)
        assert aperture(naive(curves, amounts)[p_frames]).min() > CLOSED_MM, emotion
        fused = rt.fuse(curves, amounts)
        assert aperture(fused[p_frames]).min() < CLOSED_MM, emotion
        kept = fused[:, UPPER_INDEX].mean(0).sum() / (amounts @ PRIMARY_TABLE)[UPPER_INDEX].sum()
        assert kept > 0.6, (emotion, kept)


def test_training_without_a_corpus_names_the_flag(tmp_path) -> None:
    from facewire.emotion.data import load_speech_curves

    with pytest.raises(FileNotFoundError, match="--data DIR"):
        load_speech_curves([])
    with pytest.raises(FileNotFoundError, match="no manifest.jsonl"):
        load_speech_curves([tmp_path])
    r = subprocess.run([sys.executable, "-m", "facewire", "train", "emotion"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--data" in r.stderr
