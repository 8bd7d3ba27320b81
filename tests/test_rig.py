"""Rigs: the ICT npz, user glTF rigs, the ICT-FaceKit builder, and their bad-input errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from facewire.cli import main
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX
from facewire.rig.gltf import arkit_name
from facewire.rig.ictfacekit import ict_to_arkit
from facewire.rig.rig import Rig, RigError

# -- the real ICT-FaceKit rig -------------------------------------------------------------


@pytest.fixture(scope="module")
def ict() -> Rig:
    from tests.conftest import SHARED

    path = SHARED / "assets" / "ict_facekit.npz"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared ICT-FaceKit rig; set FACEWIRE_DATA)")
    return Rig.load(path)


def weights(**named: float) -> np.ndarray:
    w = np.zeros(52, np.float32)
    for k, v in named.items():
        w[ARKIT_INDEX[k]] = v
    return w


def test_ict_rig_loads_with_its_layout(ict):
    assert ict.n_vertices == 26719 and ict.faces.shape == (52220, 3) and ict.unit == "cm"
    assert ict.identity_basis.shape == (100, 26719, 3)
    assert ict.regions["face"] == (0, 9409) and ict.regions["teeth"] == (17039, 21451)
    assert not ict.blendshapes[ARKIT_INDEX["tongueOut"]].any()  # ICT has no tongue shape
    assert ict.mouth_width() * ict.mm == pytest.approx(50.7, abs=0.3)


def test_jaw_open_moves_the_chin_down_and_the_nose_stays(ict):
    rest = ict.landmarks(ict.neutral)
    opened = ict.landmarks(ict.pose(weights(jawOpen=1.0)))
    chin = opened[8] - rest[8]
    assert chin[0] == pytest.approx(0.0, abs=1e-4)
    assert chin[1] < -2.5  # more than 25 mm down
    assert abs(opened[30] - rest[30]).max() < 0.1  # nose tip: under a millimetre
    half = ict.landmarks(ict.pose(weights(jawOpen=0.5)))
    np.testing.assert_allclose(half - rest, (opened - rest) / 2, atol=1e-5)  # linear


def test_mouth_close_brings_the_lips_together_on_an_open_jaw(ict):
    def gap(w):
        lm = ict.landmarks(ict.pose(w))
        return np.linalg.norm(lm[62] - lm[66])  # inner lip midpoints

    assert gap(weights(jawOpen=1.0)) > 3.0
    assert gap(weights(jawOpen=1.0, mouthClose=1.0)) < 1.0


def test_identity_coefficients_add_their_modes(ict):
    c = np.zeros(100, np.float32)
    c[[0, 3]] = (1.5, -2.0)
    expected = ict.neutral + 1.5 * ict.identity_basis[0] - 2.0 * ict.identity_basis[3]
    np.testing.assert_allclose(ict.identity(c), expected, atol=1e-4)
    posed = ict.pose(weights(jawOpen=0.3), identity=c)
    np.testing.assert_allclose(posed - ict.identity(c), ict.expression(weights(jawOpen=0.3)),
                               atol=1e-5)
    with pytest.raises(RigError, match="101 identity coefficients"):
        ict.identity(np.zeros(101))


def test_mesh_deform_with_another_vertex_count_is_refused(ict):
    ict.check_deform(np.zeros((26719, 3), np.float32))
    with pytest.raises(RigError, match="MeshDeform has 5023 vertices.*26719"):
        ict.check_deform(np.zeros((5023, 3), np.float32))


# -- a tiny npz rig: exact vertex moves ----------------------------------------------------


def grid(nx: int = 10, ny: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A flat grid of quads split into triangles (70 vertices by default)."""
    xs, ys = np.meshgrid(np.arange(nx, dtype=np.float32), np.arange(ny, dtype=np.float32))
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(nx * ny, np.float32)], axis=1)
    tris = []
    for j in range(ny - 1):
        for i in range(nx - 1):
            a = j * nx + i
            tris += [(a, a + 1, a + nx + 1), (a, a + nx + 1, a + nx)]
    return verts, np.array(tris, np.int32)


def write_npz_rig(path: Path, landmarks=None) -> np.ndarray:
    verts, tris = grid()
    shapes = np.zeros((3, len(verts), 3), np.float32)
    shapes[0, 3] = (0, -2.0, 0)  # jawOpen moves vertex 3 down by 2
    shapes[1, 5] = (0, 0, 1.0)  # mouthClose moves vertex 5 forward
    shapes[2, 7] = (9, 9, 9)  # not an ARKit name: ignored
    np.savez(path, neutral=verts, faces=tris, blendshapes=shapes,
             blendshape_names=np.array(["jawOpen", "mouthClose", "notAShape"]),
             landmarks68=np.arange(68) if landmarks is None else np.asarray(landmarks),
             unit=np.array("mm"))
    return verts


def test_npz_rig_poses_known_vertices_by_known_amounts(tmp_path):
    verts = write_npz_rig(tmp_path / "tiny.npz")
    rig = Rig.load(tmp_path / "tiny.npz")
    posed = rig.pose(weights(jawOpen=0.5, mouthClose=0.25))
    moved = np.nonzero(np.abs(posed - verts).max(axis=1))[0]
    assert moved.tolist() == [3, 5]
    np.testing.assert_allclose(posed[3] - verts[3], (0, -1.0, 0))
    np.testing.assert_allclose(posed[5] - verts[5], (0, 0, 0.25))
    assert rig.mm == 1.0 and rig.identity_basis.shape[0] == 0
    # corners are landmarks 48 and 54: grid vertices (8, 4) and (4, 5)
    assert rig.mouth_width() == pytest.approx(np.sqrt(17.0))


def test_landmark_index_beyond_the_mesh_is_a_clear_error(tmp_path):
    lm = np.arange(68)
    lm[30] = 70  # the grid has 70 vertices: 0..69
    write_npz_rig(tmp_path / "bad.npz", lm)
    with pytest.raises(RigError, match="landmark vertex index 70 is outside the mesh "
                                       r"\(70 vertices\)"):
        Rig.load(tmp_path / "bad.npz")


def test_missing_rig_and_missing_arrays(tmp_path):
    with pytest.raises(FileNotFoundError, match="rig not found"):
        Rig.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "half.npz", neutral=np.zeros((3, 3)))
    with pytest.raises(RigError, match="missing arrays"):
        Rig.load(tmp_path / "half.npz")


# -- glTF rigs ----------------------------------------------------------------------------


def test_target_names_map_to_arkit_in_common_spellings():
    assert arkit_name("blendShape1.jawOpen") == "jawOpen"
    assert arkit_name("JAWOPEN") == "jawOpen"
    assert arkit_name("MouthSmile_L") == "mouthSmileLeft"
    assert arkit_name("mouthSmile.R") == "mouthSmileRight"
    assert arkit_name("eye_blink_left") == "eyeBlinkLeft"
    assert arkit_name("ARKit_TongueOut") == "tongueOut"
    assert arkit_name("Fcl_MTH_A") is None and arkit_name("Custom") is None


def build_gltf(path: Path, targets: dict[str, np.ndarray] | None, extras: dict | None = None,
               sparse: str | None = None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """A one-mesh glTF/GLB made with pygltflib: the grid, morph targets by name (one of them
    optionally stored as a sparse accessor), and a node translation."""
    verts, tris = grid()
    blob = bytearray()
    views, accessors = [], []

    def add(arr: np.ndarray, comp: int, kind: str, target: int | None = None) -> int:
        data = arr.tobytes()
        views.append(pygltflib.BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data),
                                          target=target))
        blob.extend(data + b"\0" * (-len(data) % 4))
        return len(views) - 1

    def accessor(arr: np.ndarray, comp: int, kind: str, target: int | None = None) -> int:
        v = add(arr, comp, kind, target)
        acc = pygltflib.Accessor(bufferView=v, componentType=comp, count=len(arr), type=kind)
        if kind == "VEC3":
            acc.min, acc.max = arr.min(axis=0).tolist(), arr.max(axis=0).tolist()
        accessors.append(acc)
        return len(accessors) - 1

    pos = accessor(verts, pygltflib.FLOAT, "VEC3", pygltflib.ARRAY_BUFFER)
    idx = accessor(tris.astype(np.uint16).ravel(), pygltflib.UNSIGNED_SHORT, "SCALAR",
                   pygltflib.ELEMENT_ARRAY_BUFFER)
    prim = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=pos), indices=idx)
    names = list(targets or {})
    for name, delta in (targets or {}).items():
        if name == sparse:
            rows = np.nonzero(np.abs(delta).max(axis=1))[0].astype(np.uint16)
            iv = add(rows, pygltflib.UNSIGNED_SHORT, "SCALAR")
            vv = add(delta[rows].astype(np.float32), pygltflib.FLOAT, "VEC3")
            accessors.append(pygltflib.Accessor(
                componentType=pygltflib.FLOAT, count=len(delta), type="VEC3",
                sparse=pygltflib.Sparse(
                    count=len(rows),
                    indices=pygltflib.AccessorSparseIndices(
                        bufferView=iv, componentType=pygltflib.UNSIGNED_SHORT),
                    values=pygltflib.AccessorSparseValues(bufferView=vv))))
            a = len(accessors) - 1
        else:
            a = accessor(delta.astype(np.float32), pygltflib.FLOAT, "VEC3")
        prim.targets.append(pygltflib.Attributes(POSITION=a))
    mesh = pygltflib.Mesh(name="Face", primitives=[prim],
                          extras={"targetNames": names, **(extras or {})} if names
                          else dict(extras or {}))
    gltf = pygltflib.GLTF2(
        scene=0, scenes=[pygltflib.Scene(nodes=[0])],
        nodes=[pygltflib.Node(mesh=0, translation=list(translation))], meshes=[mesh],
        accessors=accessors, bufferViews=views,
        buffers=[pygltflib.Buffer(byteLength=len(blob))])
    if path.suffix == ".glb":
        gltf.set_binary_blob(bytes(blob))
        gltf.save_binary(str(path))
    else:
        gltf.buffers[0].uri = ("data:application/octet-stream;base64,"
                               + base64.b64encode(bytes(blob)).decode())
        gltf.save_json(str(path))
    return verts


def deltas() -> dict[str, np.ndarray]:
    n = len(grid()[0])
    jaw, smile, other = (np.zeros((n, 3), np.float32) for _ in range(3))
    jaw[3] = (0, -0.02, 0)
    smile[54] = (0.01, 0.005, 0)
    other[10] = (1, 1, 1)
    return {"blendShape1.jawOpen": jaw, "MouthSmile_L": smile, "Custom": other}


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_gltf_rig_poses_its_morph_targets(tmp_path, suffix):
    path = tmp_path / f"avatar{suffix}"
    verts = build_gltf(path, deltas(), sparse="MouthSmile_L", translation=(0, 1.5, 0))
    (tmp_path / "avatar.landmarks.json").write_text(json.dumps({"landmarks68": list(range(68))}))
    rig = Rig.load(path)
    assert rig.unit == "m" and rig.n_vertices == 70 and rig.faces.shape == (108, 3)
    np.testing.assert_allclose(rig.neutral, verts + (0, 1.5, 0))  # node translation applied
    posed = rig.pose(weights(jawOpen=0.5, mouthSmileLeft=1.0))
    np.testing.assert_allclose(posed[3] - rig.neutral[3], (0, -0.01, 0), atol=1e-6)
    np.testing.assert_allclose(posed[54] - rig.neutral[54], (0.01, 0.005, 0), atol=1e-6)
    assert np.abs(posed - rig.neutral).max(axis=1).nonzero()[0].tolist() == [3, 54]
    assert rig.mouth_width() * rig.mm == pytest.approx(np.sqrt(17.0) * 1000)  # metres
    assert rig.regions == {"Face": (0, 70)}


def test_gltf_landmarks_from_extras(tmp_path):
    lm = list(range(1, 69))
    build_gltf(tmp_path / "a.glb", deltas(), extras={"landmarks68": lm})
    assert Rig.load(tmp_path / "a.glb").landmarks68.tolist() == lm


def test_gltf_without_morph_targets_is_a_clear_error(tmp_path):
    build_gltf(tmp_path / "static.glb", None)
    with pytest.raises(RigError, match="no mesh has morph targets"):
        Rig.load(tmp_path / "static.glb")


def test_gltf_without_arkit_names_or_landmarks_says_what_to_do(tmp_path):
    build_gltf(tmp_path / "vrm.glb", {"Fcl_MTH_A": deltas()["Custom"]})
    with pytest.raises(RigError, match="none of the morph targets has an ARKit name"):
        Rig.load(tmp_path / "vrm.glb")
    build_gltf(tmp_path / "nolm.glb", deltas())
    with pytest.raises(RigError, match="nolm.landmarks.json"):
        Rig.load(tmp_path / "nolm.glb")
    (tmp_path / "bad.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    with pytest.raises(RigError, match="not a readable glTF"):
        Rig.load(tmp_path / "bad.glb")


# -- building the npz from an ICT-FaceKit checkout -----------------------------------------


def write_obj(path: Path, verts: np.ndarray, quads: list[tuple[int, ...]] | None = None) -> None:
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    if quads is not None:
        lines += [f"vt {x / 9:.4f} {y / 6:.4f}" for x, y, _ in verts]
        lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in q) for q in quads]
    path.write_text("\n".join(lines) + "\n")


def fake_ict(root: Path) -> np.ndarray:
    """A FaceXModel folder of OBJs on the 70-vertex grid (quads, like ICT's)."""
    folder = root / "FaceXModel"
    folder.mkdir(parents=True)
    verts, _ = grid()
    quads = [(j * 10 + i, j * 10 + i + 1, j * 10 + i + 11, j * 10 + i + 10)
             for j in range(6) for i in range(9)]
    write_obj(folder / "generic_neutral_mesh.obj", verts, quads)

    def shape(name: str, vertex: int, delta) -> None:
        v = verts.copy()
        v[vertex] += delta
        write_obj(folder / f"{name}.obj", v)

    shape("jawOpen", 3, (0, -2, 0))
    shape("mouthSmile_L", 54, (0.5, 0.25, 0))
    shape("browInnerUp_L", 60, (0, 1, 0))
    shape("browInnerUp_R", 61, (0, 1, 0))
    shape("cheekRaiser_L", 20, (1, 1, 1))  # no ARKit counterpart: left out
    shape("identity000", 0, (0, 0, 3))
    shape("identity001", 1, (0, 0, -1))
    return verts


def test_ict_names_map_to_arkit():
    assert ict_to_arkit("mouthSmile_L") == "mouthSmileLeft"
    assert ict_to_arkit("eyeBlink_R") == "eyeBlinkRight"
    assert ict_to_arkit("browInnerUp_R") == "browInnerUp"
    assert ict_to_arkit("jawOpen") == "jawOpen"
    assert ict_to_arkit("cheekRaiser_L") is None and ict_to_arkit("PupilDilate_L") is None


def test_build_ict_from_a_checkout_of_obj_files(tmp_path, capsys):
    verts = fake_ict(tmp_path / "ICT-FaceKit")
    (tmp_path / "lm.json").write_text(json.dumps(list(range(68))))
    out = tmp_path / "rig.npz"
    assert main(["rig", "build-ict", str(tmp_path / "ICT-FaceKit"), "--out", str(out),
                 "--landmarks", str(tmp_path / "lm.json")]) == 0
    assert "ARKit shapes: 3 of 52" in capsys.readouterr().out
    z = np.load(out)
    assert [str(n) for n in z["blendshape_names"]] == list(ARKIT_52)
    assert z["faces"].shape == (108, 3) and z["face_uvs"].shape == (108, 3)  # 54 quads
    assert z["uvs"].shape == (70, 2) and str(z["unit"]) == "cm"
    rig = Rig.load(out)
    np.testing.assert_allclose(rig.neutral, verts)
    bs = rig.blendshapes
    np.testing.assert_allclose(bs[ARKIT_INDEX["jawOpen"], 3], (0, -2, 0))
    np.testing.assert_allclose(bs[ARKIT_INDEX["mouthSmileLeft"], 54], (0.5, 0.25, 0))
    up = bs[ARKIT_INDEX["browInnerUp"]]  # the sum of ICT's two halves
    assert np.abs(up).max(axis=1).nonzero()[0].tolist() == [60, 61]
    moving = {ARKIT_52[i] for i in np.nonzero(np.abs(bs).max(axis=(1, 2)))[0]}
    assert moving == {"jawOpen", "mouthSmileLeft", "browInnerUp"}
    np.testing.assert_allclose(rig.identity(np.array([1.0, 2.0]))[[0, 1]],
                               verts[[0, 1]] + [(0, 0, 3), (0, 0, -2)])
    assert rig.regions == {"face": (0, 70)}


def test_build_ict_refuses_what_does_not_fit(tmp_path, capsys):
    fake_ict(tmp_path / "ict")
    # ICT's own landmark indices do not exist on a 70-vertex mesh
    assert main(["rig", "build-ict", str(tmp_path / "ict"), "--out",
                 str(tmp_path / "r.npz")]) == 2
    assert "landmark vertex index 1225 is outside the mesh (70 vertices)" in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()
    write_obj(tmp_path / "ict" / "FaceXModel" / "mouthPucker.obj", grid(5, 5)[0])
    assert main(["rig", "build-ict", str(tmp_path / "ict"), "--out", str(tmp_path / "r.npz"),
                 "--landmarks", str(_lm_file(tmp_path))]) == 2
    assert "mouthPucker.obj: 25 vertices, the neutral mesh has 70" in capsys.readouterr().err
    assert main(["rig", "build-ict", str(tmp_path), "--out", str(tmp_path / "r.npz")]) == 2
    assert "no generic_neutral_mesh.obj" in capsys.readouterr().err


def _lm_file(tmp_path: Path) -> Path:
    p = tmp_path / "lm.txt"
    p.write_text(" ".join(str(i) for i in range(68)))
    return p


def test_rig_info_describes_a_rig(tmp_path, capsys):
    write_npz_rig(tmp_path / "tiny.npz")
    assert main(["rig", "info", str(tmp_path / "tiny.npz")]) == 0
    out = capsys.readouterr().out
    assert "vertices:     70" in out and "mouth width:  4.1 mm" in out
    assert "ARKit shapes: 2 of 52" in out
    assert main(["rig", "info", str(tmp_path / "missing.npz")]) == 2
