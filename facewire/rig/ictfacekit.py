"""Build the ``ict_facekit.npz`` rig layout from an ICT-FaceKit checkout.

ICT-FaceKit (USC ICT, MIT license) ships its model as OBJ files in ``FaceXModel/``: the
``generic_neutral_mesh.obj``, 100 identity modes ``identity000.obj``... and 53 expression
shapes with ARKit names but ``_L``/``_R`` sides, each a full mesh of the same topology. This
module turns them into the arrays facewire uses (docs/rigs.md): offsets from the neutral,
ARKit names and order, ``browInnerUp``/``cheekPuff`` as the sums of their split halves,
``tongueOut`` zero (ICT has none), triangles from the quads, the 68 landmark vertices and the
named vertex ranges from the upstream README. Nothing is downloaded here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.rig.arkit import ARKIT_52
from facewire.rig.rig import Rig, RigError

log = logging.getLogger("facewire.rig")

NEUTRAL_FILE = "generic_neutral_mesh.obj"
# ARKit shapes that ICT splits into _L and _R halves: the ARKit shape is their sum.
SPLIT_SHAPES = ("browInnerUp", "cheekPuff")
# Multi-PIE/iBUG 68-point landmark vertices of the ICT topology (ICT-FaceKit README).
ICT_LANDMARKS68 = (
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272,
    4088, 3443, 268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942,
    4857, 1140, 2075, 1147, 4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756,
    3721, 3725, 3732, 5708, 5695, 2081, 0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841,
    5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
)
ICT_VERTICES = 26719
# Named vertex ranges [start, stop) of the ICT topology (ICT-FaceKit README tables).
ICT_REGIONS: dict[str, tuple[int, int]] = {
    "face": (0, 9409), "narrow_face": (0, 6706), "head_neck": (9409, 11248),
    "mouth_socket": (11248, 13294), "eye_socket_left": (13294, 13678),
    "eye_socket_right": (13678, 14062), "gums_tongue": (14062, 17039),
    "teeth": (17039, 21451), "eyeball_left": (21451, 23021), "eyeball_right": (23021, 24591),
    "lacrimal_left": (24591, 24795), "lacrimal_right": (24795, 24999),
    "eye_blend_left": (24999, 25023), "eye_blend_right": (25023, 25047),
    "eye_occlusion_left": (25047, 25199), "eye_occlusion_right": (25199, 25351),
    "eyelashes_left": (25351, 26035), "eyelashes_right": (26035, 26719),
}


@dataclass
class ObjMesh:
    vertices: np.ndarray  # [V, 3]
    uvs: np.ndarray  # [M, 2]
    polygons: list[list[int]]  # vertex indices per face (0-based)
    polygon_uvs: list[list[int]]  # uv indices per face corner (empty lists without uvs)


def read_obj_vertices(path: Path) -> np.ndarray:
    """Only the ``v`` lines: all a shape file contributes (fast path for 150 files)."""
    lines = [ln[2:] for ln in path.read_text().splitlines() if ln.startswith("v ")]
    if not lines:
        raise RigError(f"{path}: no vertices (is it an OBJ file?)")
    values = np.array(" ".join(lines).split(), np.float64)
    try:
        return values.reshape(len(lines), -1)[:, :3]
    except ValueError as e:
        raise RigError(f"{path}: vertex lines with differing numbers of values") from e


def read_obj(path: Path) -> ObjMesh:
    """Vertices, uvs and polygons of an OBJ (1-based and negative indices handled)."""
    verts: list[list[float]] = []
    uvs: list[list[float]] = []
    polys: list[list[int]] = []
    poly_uvs: list[list[int]] = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vt":
            uvs.append([float(x) for x in parts[1:3]])
        elif parts[0] == "f":
            vi, ti = [], []
            for corner in parts[1:]:
                fields = corner.split("/")
                v = int(fields[0])
                vi.append(v - 1 if v > 0 else len(verts) + v)
                if len(fields) > 1 and fields[1]:
                    t = int(fields[1])
                    ti.append(t - 1 if t > 0 else len(uvs) + t)
            polys.append(vi)
            poly_uvs.append(ti if len(ti) == len(vi) else [])
    if not verts or not polys:
        raise RigError(f"{path}: an OBJ mesh needs vertices and faces")
    return ObjMesh(np.array(verts, np.float64), np.array(uvs, np.float64).reshape(-1, 2),
                   polys, poly_uvs)


def triangulate(polygons: list[list[int]]) -> np.ndarray:
    """Fan-split polygons (ICT's quads) into triangles ``[F, 3]``."""
    tris = [(p[0], p[i], p[i + 1]) for p in polygons for i in range(1, len(p) - 1)]
    return np.array(tris, np.int32).reshape(-1, 3)


def find_model_folder(src: Path) -> Path:
    """``src`` itself or its ``FaceXModel`` folder: whichever holds the neutral mesh."""
    for folder in (src, src / "FaceXModel"):
        if (folder / NEUTRAL_FILE).exists():
            return folder
    raise RigError(f"{src}: no {NEUTRAL_FILE} here or in {src / 'FaceXModel'}; pass the "
                   "ICT-FaceKit checkout (or its FaceXModel folder)")


def ict_to_arkit(name: str) -> str | None:
    """``mouthSmile_L`` -> ``mouthSmileLeft``; ``browInnerUp_L`` -> ``browInnerUp`` (summed);
    None for shapes ARKit lacks (``cheekRaiser_L``, ``PupilDilate_L``)."""
    base, side = name, ""
    if name.endswith(("_L", "_R")):
        base, side = name[:-2], "Left" if name.endswith("_L") else "Right"
    if base in SPLIT_SHAPES:
        return base
    arkit = base + side
    return arkit if arkit in ARKIT_52 else None


def build_ict_arrays(src: Path, landmarks: np.ndarray | None = None,
                     n_identity: int | None = None) -> dict[str, np.ndarray]:
    """The npz arrays of an ICT-FaceKit checkout (see docs/rigs.md for the layout)."""
    folder = find_model_folder(Path(src))
    neutral_mesh = read_obj(folder / NEUTRAL_FILE)
    neutral = neutral_mesh.vertices
    v = len(neutral)

    def offsets(path: Path) -> np.ndarray:
        verts = read_obj_vertices(path)
        if verts.shape != neutral.shape:
            raise RigError(f"{path}: {len(verts)} vertices, the neutral mesh has {v}; all "
                           "shapes must share the neutral's topology")
        return verts - neutral

    blend = np.zeros((len(ARKIT_52), v, 3), np.float64)
    used, skipped = [], []
    shape_files = sorted(p for p in folder.glob("*.obj")
                         if p.name != NEUTRAL_FILE and not p.stem.startswith("identity"))
    for path in shape_files:
        arkit = ict_to_arkit(path.stem)
        if arkit is None:
            skipped.append(path.stem)
            continue
        blend[ARKIT_52.index(arkit)] += offsets(path)
        used.append(path.stem)
    if not used:
        raise RigError(f"{folder}: no expression shapes with ARKit names (jawOpen.obj, "
                       "mouthSmile_L.obj, ...)")
    if skipped:
        log.info("ICT shapes without an ARKit counterpart left out: %s", ", ".join(skipped))
    id_files = sorted(folder.glob("identity[0-9]*.obj"))[:n_identity]
    identity = (np.stack([offsets(p) for p in id_files]) if id_files
                else np.zeros((0, v, 3)))
    tris = triangulate(neutral_mesh.polygons)
    has_uvs = len(neutral_mesh.uvs) and all(neutral_mesh.polygon_uvs)
    lm = np.asarray(ICT_LANDMARKS68 if landmarks is None else landmarks, np.int32)
    regions = ICT_REGIONS if v == ICT_VERTICES else {"face": (0, v)}
    arrays = {
        "neutral": neutral.astype(np.float32),
        "faces": tris,
        "blendshape_names": np.array(ARKIT_52),
        "blendshapes": blend.astype(np.float16),
        "identity_basis": identity.astype(np.float16),
        "landmarks68": lm,
        "region_names": np.array(list(regions)),
        "region_ranges": np.array(list(regions.values()), np.int32),
        "unit": np.array("cm"),
    }
    if has_uvs:
        arrays["uvs"] = neutral_mesh.uvs.astype(np.float32)
        arrays["face_uvs"] = triangulate(neutral_mesh.polygon_uvs)
    return arrays


def build_ict_npz(src: Path, out: Path, landmarks: np.ndarray | None = None,
                  n_identity: int | None = None) -> Rig:
    """Write the npz and load it back (so a broken build fails here, not in training)."""
    arrays = build_ict_arrays(src, landmarks, n_identity)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.npz")
    np.savez_compressed(tmp, **arrays)
    try:
        Rig.from_npz(tmp)
    except RigError:
        tmp.unlink()
        raise
    tmp.replace(out)
    return Rig.from_npz(out)


def read_landmarks_file(path: Path) -> np.ndarray:
    """68 indices from JSON (a list or ``{"landmarks68": [...]}``) or whitespace/comma text."""
    text = Path(path).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = text.replace(",", " ").split()
    if isinstance(data, dict):
        data = data.get("landmarks68", [])
    try:
        return np.asarray([int(x) for x in data], np.int32)
    except (TypeError, ValueError) as e:
        raise RigError(f"{path}: landmarks must be 68 integers ({e})") from e
