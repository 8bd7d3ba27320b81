"""Seed 001's losses and metrics on cases with known answers; identity transfer frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facewire.train.mesh import losses as L
from facewire.train.mesh.data import lip_vertices, local_frames, vertex_weights
from facewire.train.mesh.metrics import all_metrics, angle_error, dense_error, lip_error


def _seq(b: int = 2, t: int = 5, p: int = 68, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, t, p, 3, generator=torch.Generator().manual_seed(seed))


def test_reconstruction_is_the_frame_norm_averaged_per_sequence() -> None:
    tgt = _seq()
    pred = tgt + torch.tensor([0.3, 0.0, 0.4])  # every point off by 0.5
    assert float(L.reconstruction(pred, tgt)) == pytest.approx(0.5 * math.sqrt(68), rel=1e-5)
    # masked frames do not count, and each sequence weighs the same whatever its length
    pred2 = tgt.clone()
    pred2[1] += torch.tensor([0.0, 1.0, 0.0])
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 2:] = False
    assert float(L.reconstruction(pred2, tgt, mask)) == pytest.approx(math.sqrt(68) / 2, rel=1e-5)


def test_mouth_loss_sees_only_its_points() -> None:
    tgt = _seq()
    pred = tgt.clone()
    pred[..., 10, :] += 1.0  # a point outside the mouth set
    assert float(L.mouth(pred, tgt, None, range(48, 68))) == pytest.approx(0.0, abs=1e-3)
    pred[..., 50, :] += torch.tensor([2.0, 0.0, 0.0])
    assert float(L.mouth(pred, tgt, None, range(48, 68))) == pytest.approx(2.0, rel=1e-4)


def test_cosine_loss_zero_for_scaled_two_for_opposite_one_for_orthogonal() -> None:
    tgt = _seq()
    assert float(L.cosine(3.0 * tgt, tgt)) == pytest.approx(0.0, abs=1e-6)
    assert float(L.cosine(-tgt, tgt)) == pytest.approx(2.0, abs=1e-6)
    a = torch.zeros(1, 1, 68, 3)
    b = torch.zeros(1, 1, 68, 3)
    a[..., 0] = 1.0
    b[..., 1] = 1.0
    assert float(L.cosine(a, b)) == pytest.approx(1.0, abs=1e-6)


def test_velocity_loss_ignores_constant_offsets_and_measures_motion() -> None:
    tgt = _seq()
    assert float(L.velocity(tgt + 5.0, tgt)) == pytest.approx(0.0, abs=1e-3)
    ramp = torch.arange(5.0).reshape(1, 5, 1, 1) * torch.tensor([0.0, 0.0, 0.1])
    # each step moves every point 0.1 more than the target: frame norm 0.1 * sqrt(68)
    assert float(L.velocity(tgt + ramp, tgt)) == pytest.approx(0.1 * math.sqrt(68), rel=1e-4)


def test_weighted_vertex_loss_uses_the_weights() -> None:
    tgt = torch.zeros(3, 4, 3)
    pred = tgt.clone()
    pred[:, 2, 0] = 2.0  # only vertex 2 is wrong, by 2
    w = torch.tensor([1.0, 1.0, 10.0, 1.0])
    assert float(L.weighted_vertex(pred, tgt, w)) == pytest.approx(10.0 * 2.0 / 4, rel=1e-5)


def test_paper_weights_are_the_defaults_and_total_combines_terms() -> None:
    assert L.S2LWeights() == L.S2LWeights(rec=0.1, mouth=1.0, cos=1e-4, vel=10.0)
    assert L.S2DWeights() == L.S2DWeights(rec=0.1, cos=1e-4, weighted=1.0)
    tgt = _seq()
    pred = tgt + 0.1 * _seq(seed=1)
    total, terms = L.s2l_loss(pred, tgt, None, L.S2LWeights(), range(48, 68))
    want = 0.1 * terms["rec"] + terms["mouth"] + 1e-4 * terms["cos"] + 10 * terms["vel"]
    assert float(total) == pytest.approx(want, rel=1e-5)


def test_metrics_on_known_answers() -> None:
    true = np.random.default_rng(0).normal(size=(4, 68, 3))
    pred = true.copy()
    pred[:, 50] += [0.0, 3.0, 0.0]  # one lip point off by 3 mm in every frame
    assert lip_error(pred, true, range(48, 68)) == pytest.approx(3.0)
    assert dense_error(pred, true) == pytest.approx(3.0 / 68)
    assert angle_error(true * 2.0, true) == pytest.approx(0.0, abs=1e-6)
    assert angle_error(-true, true) == pytest.approx(math.pi, abs=1e-6)
    # a 90-degree rotation about z of every displacement, fields with no z part
    flat = true.copy()
    flat[..., 2] = 0.0
    rot = np.stack([-flat[..., 1], flat[..., 0], flat[..., 2]], -1)
    assert angle_error(rot, flat) == pytest.approx(math.pi / 2, abs=1e-6)
    # frames at rest have no direction and are skipped
    rest = np.concatenate([np.zeros((2, 68, 3)), true[:2]])
    assert angle_error(np.concatenate([np.ones((2, 68, 3)), true[:2]]), rest) == pytest.approx(0)
    assert set(all_metrics(pred, true, range(48, 68))) == {"LE", "DE", "DAE"}


def test_metrics_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[frames, points, 3\]"):
        dense_error(np.zeros((2, 68, 3)), np.zeros((2, 60, 3)))


def test_vertex_weights_are_inverse_distance_to_nearest_landmark_floored() -> None:
    verts = np.array([[0.0, 0, 0], [2.0, 0, 0], [0.0, 4, 0], [10.0, 0, 0]])
    lms = np.array([[0.0, 0, 0], [10.0, 1, 0]])
    w = vertex_weights(verts, lms, floor=0.5)
    np.testing.assert_allclose(w, [2.0, 0.5, 0.25, 1.0])


def test_lip_vertices_are_near_lip_landmarks() -> None:
    lms = np.zeros((68, 3))
    lms[:, 0] = np.arange(68) * 10.0
    verts = np.array([[500.0, 1, 0], [100.0, 1, 0], [500.0, 9, 0]])  # 500 = landmark 50
    assert lip_vertices(verts, lms, radius=2.0).tolist() == [0]


def _grid(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float))
    v = np.stack([xs.ravel(), ys.ravel(), 0.1 * np.sin(xs.ravel() + ys.ravel())], 1)
    f = []
    for i in range(n - 1):
        for j in range(n - 1):
            a = i * n + j
            f += [[a, a + 1, a + n], [a + 1, a + n + 1, a + n]]
    return v, np.array(f)


def test_local_frames_recover_scale_and_rotation() -> None:
    v, f = _grid()
    np.testing.assert_allclose(local_frames(v, v, f), np.tile(np.eye(3), (len(v), 1, 1)),
                               atol=1e-6)
    np.testing.assert_allclose(local_frames(v, 1.3 * v, f),
                               np.tile(1.3 * np.eye(3), (len(v), 1, 1)), atol=1e-5)
    c, s = math.cos(0.4), math.sin(0.4)
    r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    np.testing.assert_allclose(local_frames(v, v @ r.T, f), np.tile(r, (len(v), 1, 1)),
                               atol=1e-5)
