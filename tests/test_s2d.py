"""S2D: mesh pyramid (down/up-sampling, spirals), one training step, ONNX equivalence, the
densify node and its refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.models.mesh_sampling import as_gather, build_pyramid, spirals, submesh
from facewire.models.s2d import S2DNet, tables_from_pyramid
from tests.conftest import SHARED

RIG = SHARED / "assets" / "ict_facekit.npz"
needs_rig = pytest.mark.skipif(not RIG.exists(), reason=f"ICT rig {RIG} absent (set "
                               "FACEWIRE_DATA to the shared folder)")


def _sheet(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A curved square sheet, n x n vertices: a face-like open surface."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    v = np.stack([xs.ravel(), ys.ravel(), 0.3 * (xs.ravel() ** 2 + ys.ravel() ** 2)], 1)
    f = []
    for i in range(n - 1):
        for j in range(n - 1):
            a = i * n + j
            f += [[a, a + 1, a + n], [a + 1, a + n + 1, a + n]]
    return v.astype(np.float32), np.array(f)


@pytest.fixture(scope="module")
def sheet_pyramid():
    v, f = _sheet()
    return build_pyramid(v, f, (2.0, 2.0, 2.0, 2.0, 2.0), spiral_length=9)


def test_downsampling_matrices_have_the_pyramid_shapes(sheet_pyramid) -> None:
    p = sheet_pyramid
    sizes = p.sizes
    assert sizes[0] == 1600 and all(a > b for a, b in zip(sizes, sizes[1:]))
    for i, (d, u) in enumerate(zip(p.down, p.up)):
        assert d.shape == (sizes[i + 1], sizes[i]) and u.shape == (sizes[i], sizes[i + 1])
        assert np.all(d.sum(1) == 1)  # each coarse vertex selects one fine vertex
        assert len(np.unique(d.indices)) == d.shape[0]  # ... a distinct one
        np.testing.assert_allclose(np.asarray(u.sum(1)).ravel(), 1.0, atol=1e-6)
        assert np.diff(u.indptr).max() <= 3  # barycentric: three corners at most


def test_upsampling_a_downsampled_mesh_stays_close(sheet_pyramid) -> None:
    p = sheet_pyramid
    edge = 2.0 / 39
    for i, (d, u) in enumerate(zip(p.down, p.up)):
        x = p.levels[i].vertices
        back = u @ (d @ x)
        err = np.linalg.norm(back - x, axis=1)
        kept = d.indices
        np.testing.assert_allclose(back[kept], x[kept], atol=1e-5)  # kept vertices exact
        assert err.mean() < 0.25 * edge * 2 ** i, (i, err.mean())
    # a smooth displacement field survives the round trip even better
    field = np.stack([np.sin(p.levels[0].vertices[:, 0]), 0 * p.levels[0].vertices[:, 0],
                      p.levels[0].vertices[:, 1] ** 2], 1)
    back = p.up[0] @ (p.down[0] @ field)
    assert np.abs(back - field).max() < 0.02


def test_spirals_start_at_the_vertex_and_cover_its_ring() -> None:
    v, f = _sheet(8)
    s = spirals(v, f, 9)
    assert s.shape == (64, 9) and np.all(s[:, 0] == np.arange(64))
    centre = 3 * 8 + 3  # interior: 6 neighbours in this triangulation
    ring = {int(j) for tri in f if centre in tri for j in tri} - {centre}
    assert set(s[centre, 1:7].tolist()) == ring
    # orientation is consistent: the ring goes the same way round for two interior vertices
    def turn(c: int) -> float:
        d = v[s[c, 1:7]] - v[c]
        return float(np.sign(np.cross(d[0], d[1])[2]))
    assert turn(centre) == turn(centre + 9)


def test_gather_tables_reproduce_the_sparse_product(sheet_pyramid) -> None:
    u = sheet_pyramid.up[0]
    idx, w = as_gather(u, 3)
    x = np.random.default_rng(0).normal(size=(u.shape[1], 4))
    np.testing.assert_allclose((x[idx] * w[..., None]).sum(1), u @ x, atol=1e-5)


def test_decoder_has_five_spiral_blocks_and_one_step_lowers_the_loss(sheet_pyramid) -> None:
    from facewire.train.mesh.losses import S2DWeights, s2d_loss

    torch.manual_seed(0)
    net = S2DNet(sheet_pyramid.sizes, channels=(8, 8, 8, 8, 8),
                 tables=tables_from_pyramid(sheet_pyramid))
    assert len(net.convs) == 5 and len(net.ups) == 5
    lm, ido = torch.randn(4, 68, 3), torch.randn(4, 68, 3)
    tgt = torch.randn(4, 1600, 3) * 0.1
    vw = torch.ones(1600)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        loss, _ = s2d_loss(net(lm, ido), tgt, vw, S2DWeights())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert net(lm, ido).shape == (4, 1600, 3) and losses[1] < losses[0]


@needs_rig
def test_rig_face_pyramid_shapes() -> None:
    from facewire.models.s2d import DEFAULT_FACTORS
    from facewire.rig.rig import Rig

    rig = Rig.load(RIG)
    sl = rig.region("narrow_face")
    v, f = submesh(rig.neutral, rig.faces, sl.stop, sl.start)
    p = build_pyramid(v, f, DEFAULT_FACTORS)
    assert p.sizes[0] == 6706 and len(p.sizes) == 6 and p.sizes[1] < 6706 / 3
    for i, d in enumerate(p.down):
        assert d.shape == (p.sizes[i + 1], p.sizes[i])
    err_mm = np.linalg.norm(p.up[0] @ (p.down[0] @ v) - v, axis=1) * rig.mm
    assert err_mm.mean() < 0.5  # mm: the face survives a 4x decimation round trip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not RIG.exists():
        pytest.skip(f"ICT rig {RIG} absent (set FACEWIRE_DATA to the shared folder)")
    from facewire.train.data.dataset import make_toy_corpus
    from facewire.train.mesh.densify import DensifyConfig, train
    from facewire.train.mesh.export import export

    root = tmp_path_factory.mktemp("s2d")
    corpus = make_toy_corpus(root / "toy", n_clips=4, seconds=1.0, voices=2)
    res = train(DensifyConfig(data=[str(corpus)], out=str(root / "run"), epochs=1, steps=2,
                          batch=4, identities=2, held_out=0.5, val_frames=8, quiet=True,
                          rig=str(RIG), channels=(8, 8, 8, 8, 8)))
    card = export(res["best"], root / "onnx", argv=["export"])
    return {"best": Path(res["best"]), "card": card, "history": res["history"], "root": root}


@needs_rig
def test_training_step_and_onnx_equivalence(trained: dict) -> None:
    import json

    from facewire.models.mesh_runtime import DensePredictor
    from facewire.train.mesh.densify import load_checkpoint, net_from_checkpoint

    assert np.isfinite(trained["history"][0]["val_loss"])
    card = json.loads(trained["card"].read_text())
    assert card["metrics"]["onnx_vs_torch_max_abs"] < 1e-4
    assert card["rig_vertices"] == 26719 and card["vertices"] == 6706
    net = net_from_checkpoint(load_checkpoint(trained["best"]))
    lm = torch.randn(3, 68, 3) * 0.2
    ido = torch.randn(68, 3) * 0.1
    with torch.no_grad():
        ref = net(lm, ido.expand(3, 68, 3)).numpy()
    pred = DensePredictor(trained["card"], "cpu")
    pred.set_identity(ido.numpy())
    np.testing.assert_allclose(pred.region(lm.numpy()), ref, atol=1e-5)
    full = pred.full(lm[0].numpy())
    assert full.shape == (26719, 3) and not full[6706:].any()
    np.testing.assert_allclose(full[:6706], ref[0], atol=1e-5)


@needs_rig
def test_densify_node_publishes_full_rig_mesh_deform(trained: dict, caplog) -> None:
    from facewire.messages.base import Header
    from facewire.messages.types import Landmarks, MeshDeform
    from facewire.models.mesh_runtime import DensePredictor
    from facewire.nodes.densify import DensifyNode
    from facewire.rig.rig import Rig

    coeffs = np.random.default_rng(5).standard_normal(100).astype(np.float32)
    np.save(trained["root"] / "id.npy", coeffs)
    from facewire.testing import local_graph

    node = DensifyNode(name="densify", params={
        "model": str(trained["card"]), "rig": str(RIG),
        "identity": str(trained["root"] / "id.npy")})
    bus = local_graph(node).bus
    out = bus.subscribe("/mesh", MeshDeform)
    pub = bus.publisher("/landmarks", Landmarks)
    lm = np.random.default_rng(0).normal(size=(68, 3)).astype(np.float32) * 0.2
    pub.publish(Landmarks(displacements=lm, header=Header(0, 0, 1.25, 7)))
    (msg,) = out.received
    rig = Rig.load(RIG)
    rig.check_deform(msg.displacements)
    assert msg.header.media_time == 1.25 and msg.header.capture_ns == 7 and msg.fps == 60.0
    ref = DensePredictor(trained["card"], "cpu")
    ref.set_identity(rig.landmarks(rig.identity(coeffs)) - rig.landmarks(rig.neutral))
    np.testing.assert_allclose(msg.displacements, ref.full(lm), atol=1e-5)
    # landmarks of another size: refused, counted, explained
    pub.publish(Landmarks(displacements=np.zeros((60, 3), np.float32)))
    assert node.counters["handler_errors"] == 1 and len(out.received) == 1
    assert "Landmarks has 60 points" in caplog.text


@needs_rig
def test_mismatched_vertex_counts_are_clear_errors(trained: dict) -> None:
    from facewire.models.mesh_runtime import DensePredictor
    from facewire.models.runtime import ModelError
    from facewire.rig.rig import Rig, RigError

    pred = DensePredictor(trained["card"], "cpu")
    with pytest.raises(ModelError, match="26719-vertex rig .* the rig has 5000 vertices"):
        pred.check_rig(5000)
    with pytest.raises(ValueError, match=r"landmark displacements \[n, 68, 3\]"):
        pred.region(np.zeros((2, 60, 3), np.float32))
    with pytest.raises(RigError, match="MeshDeform has 5000 vertices, rig .* has 26719"):
        Rig.load(RIG).check_deform(np.zeros((5000, 3), np.float32))


@needs_rig
def test_bundled_densify_model_reproduces_a_rig_expression() -> None:
    from facewire.models.mesh_runtime import DensePredictor, default_dense_model
    from facewire.rig.arkit import ARKIT_INDEX
    from facewire.rig.rig import Rig

    if not default_dense_model().exists():
        pytest.skip(f"{default_dense_model()} not shipped")
    rig = Rig.load(RIG)
    pred = DensePredictor(default_dense_model(), "cpu")
    pred.check_rig(rig.n_vertices, rig.name)
    assert np.abs(pred.full(np.zeros((68, 3), np.float32))).max() * rig.mm < 0.5
    w = np.zeros(52, np.float32)
    w[ARKIT_INDEX["jawOpen"]], w[ARKIT_INDEX["mouthFunnel"]] = 0.5, 0.3
    true = rig.expression(w)  # the generic face: identity offsets zero
    got = pred.full(rig.landmarks(true))
    err_mm = np.linalg.norm(got - true, axis=1)[pred.start:pred.stop] * rig.mm
    moved_mm = np.linalg.norm(true, axis=1)[pred.start:pred.stop] * rig.mm
    assert err_mm.mean() < 0.25 * moved_mm.mean(), (err_mm.mean(), moved_mm.mean())
