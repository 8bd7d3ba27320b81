"""User rigs from glTF 2.0 / GLB files: meshes with ARKit-named morph targets.

Read with pygltflib (file structure only; accessors are decoded here so that strided,
sparse and normalised data all work). Conventions, also in docs/rigs.md:

* Every mesh instance (a node with a mesh) whose morph targets include ARKit names is used;
  its primitives are merged and placed by the node's world transform. Meshes without such
  targets (hair, props) are left out: they would not move anyway.
* Target names come from ``mesh.extras.targetNames`` (what Blender, three.js and most
  exporters write) or the primitive's ``extras.targetNames``. Names match ARKit names ignoring
  case, separators, a node prefix up to the last dot (``blendShape1.jawOpen``), a leading
  ``ARKit`` and side suffixes (``mouthSmile_L`` = ``mouthSmileLeft``).
* Landmarks (68 vertex indices, iBUG order, indices into the merged vertex list) come from,
  in this order: the ``landmarks`` argument, a sidecar ``<name>.landmarks.json`` beside the
  file (a list of 68 ints or ``{"landmarks68": [...]}``), or ``landmarks68`` in the extras of
  the first used mesh or its node. A rig without them is refused: S2L training, metrics and
  mouth-width normalisation all need them.
* glTF positions are metres, so the rig's unit is ``"m"``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path

import numpy as np

from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX
from facewire.rig.rig import Rig, RigError

log = logging.getLogger("facewire.rig")

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32,
           5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_TRIANGLES = 4
_SIDE = re.compile(r"(?:[._\- ]([LRlr])|([a-z])(L|R))$")


def _key(name: str) -> str:
    """A spelling-free key: ``blendShape1.MouthSmile_L`` and ``mouthSmileLeft`` agree."""
    m = _SIDE.search(name)
    if m:
        side = (m.group(1) or m.group(3)).upper()
        name = name[: m.start()] + (m.group(2) or "") + ("Left" if side == "L" else "Right")
    name = name.rsplit(".", 1)[-1].lower()
    name = re.sub(r"[^a-z0-9]", "", name)
    return name[len("arkit"):] if name.startswith("arkit") and len(name) > 5 else name


_ARKIT_KEYS = {_key(n): n for n in ARKIT_52}


def arkit_name(name: str) -> str | None:
    """The ARKit name a morph target stands for, or None."""
    return _ARKIT_KEYS.get(_key(name))


class _Reader:
    """Decodes accessors of one loaded file."""

    def __init__(self, gltf, path: Path) -> None:
        self.gltf = gltf
        self.path = path
        self._buffers: dict[int, bytes] = {}

    def buffer(self, index: int) -> bytes:
        if index not in self._buffers:
            buf = self.gltf.buffers[index]
            uri = buf.uri
            if uri is None:
                data = self.gltf.binary_blob()
                if data is None:
                    raise RigError(f"{self.path}: buffer {index} has no data")
            elif uri.startswith("data:"):
                data = base64.b64decode(uri.split(",", 1)[1])
            else:
                file = self.path.parent / uri
                if not file.exists():
                    raise RigError(f"{self.path}: buffer file {uri} is missing")
                data = file.read_bytes()
            self._buffers[index] = bytes(data)
        return self._buffers[index]

    def _view(self, view_index: int, offset: int, count: int, dtype, width: int) -> np.ndarray:
        view = self.gltf.bufferViews[view_index]
        data = self.buffer(view.buffer)
        item = np.dtype(dtype).itemsize * width
        stride = view.byteStride or item
        start = (view.byteOffset or 0) + offset
        if count == 0:
            return np.zeros((0, width), dtype)
        end = start + stride * (count - 1) + item
        if end > len(data):
            raise RigError(f"{self.path}: accessor reads past the end of buffer {view.buffer}")
        raw = np.frombuffer(data, np.uint8, count=end - start, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, item), strides=(stride, 1))
        return np.ascontiguousarray(rows).view(dtype).reshape(count, width)

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf.accessors[index]
        dtype = _DTYPES[acc.componentType]
        width = _WIDTH[acc.type]
        if acc.bufferView is None:
            out = np.zeros((acc.count, width), dtype)
        else:
            out = self._view(acc.bufferView, acc.byteOffset or 0, acc.count, dtype, width)
        if acc.normalized and np.dtype(dtype).kind in "iu":
            out = np.maximum(out / np.iinfo(dtype).max, -1.0)
        out = out.astype(np.float64 if out.dtype.kind == "f" else out.dtype, copy=True)
        sparse = acc.sparse
        if sparse is not None and sparse.count:
            idx = self._view(sparse.indices.bufferView, sparse.indices.byteOffset or 0,
                             sparse.count, _DTYPES[sparse.indices.componentType], 1)[:, 0]
            val = self._view(sparse.values.bufferView, sparse.values.byteOffset or 0,
                             sparse.count, dtype, width)
            out = out.astype(np.float64)
            out[idx.astype(np.int64)] = val
        return out


def _local_matrix(node) -> np.ndarray:
    if node.matrix:
        return np.array(node.matrix, np.float64).reshape(4, 4).T  # glTF is column-major
    t = np.array(node.translation or (0, 0, 0), np.float64)
    x, y, z, w = node.rotation or (0, 0, 0, 1)
    r = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
    s = np.array(node.scale or (1, 1, 1), np.float64)
    m = np.eye(4)
    m[:3, :3] = r * s
    m[:3, 3] = t
    return m


def _world_matrices(gltf) -> dict[int, np.ndarray]:
    parent = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    out: dict[int, np.ndarray] = {}

    def world(i: int) -> np.ndarray:
        if i not in out:
            m = _local_matrix(gltf.nodes[i])
            out[i] = world(parent[i]) @ m if i in parent else m
        return out[i]

    for i in range(len(gltf.nodes)):
        world(i)
    return out


def _target_names(mesh) -> list[str]:
    for holder in (mesh, *mesh.primitives):
        extras = holder.extras if isinstance(holder.extras, dict) else {}
        names = extras.get("targetNames")
        if names:
            return [str(n) for n in names]
    return []


def _read_landmarks(path: Path, given, extras: list[dict]) -> tuple[np.ndarray, str]:
    if given is not None:
        return np.asarray(given, np.int64), "the landmarks argument"
    sidecar = path.with_name(path.stem + ".landmarks.json")
    if sidecar.exists():
        try:
            data = json.loads(sidecar.read_text())
        except json.JSONDecodeError as e:
            raise RigError(f"{sidecar}: not valid JSON ({e})") from e
        if isinstance(data, dict):
            data = data.get("landmarks68")
        return np.asarray(data, np.int64), str(sidecar)
    for ex in extras:
        if isinstance(ex, dict) and "landmarks68" in ex:
            return np.asarray(ex["landmarks68"], np.int64), "the glTF extras"
    raise RigError(
        f"{path}: no landmarks; write {sidecar.name} beside it with the 68 vertex indices "
        "(iBUG order) or put 'landmarks68' in the face mesh's extras (see docs/rigs.md)")


def load_gltf(path: str | Path, landmarks=None) -> Rig:
    """A :class:`Rig` from a .gltf/.glb whose morph targets carry ARKit names."""
    import pygltflib

    p = Path(path)
    try:
        gltf = pygltflib.GLTF2.load(str(p))
    except Exception as e:  # noqa: BLE001 - the library raises many kinds for bad files
        raise RigError(f"{p}: not a readable glTF/GLB file ({e})") from e
    if gltf is None:
        raise RigError(f"{p}: not a readable glTF/GLB file")
    reader = _Reader(gltf, p)
    worlds = _world_matrices(gltf)
    positions, faces, shapes, regions, extras = [], [], [], {}, []
    unmapped: set[str] = set()
    n_meshes_with_targets = 0
    base = 0
    for node_index, node in enumerate(gltf.nodes):
        if node.mesh is None:
            continue
        mesh = gltf.meshes[node.mesh]
        n_targets = max((len(pr.targets or []) for pr in mesh.primitives), default=0)
        if not n_targets:
            continue
        n_meshes_with_targets += 1
        names = _target_names(mesh)
        if len(names) != n_targets:
            raise RigError(f"{p}: mesh {mesh.name or node.mesh!r} has {n_targets} morph targets "
                           f"but {len(names)} names in extras.targetNames; name the targets "
                           "(your exporter's 'export shape key names' option)")
        mapped = {i: arkit_name(n) for i, n in enumerate(names)}
        unmapped |= {names[i] for i, a in mapped.items() if a is None}
        if not any(mapped.values()):
            continue
        world = worlds[node_index]
        first = base
        for prim in mesh.primitives:
            if (prim.mode if prim.mode is not None else _TRIANGLES) != _TRIANGLES:
                continue
            if prim.attributes.POSITION is None:
                continue
            pos = reader.accessor(prim.attributes.POSITION)[:, :3]
            n = len(pos)
            if prim.indices is not None:
                tri = reader.accessor(prim.indices)[:, 0].astype(np.int64).reshape(-1, 3)
            else:
                tri = np.arange(n - n % 3).reshape(-1, 3)
            disp = np.zeros((len(ARKIT_52), n, 3))
            for t, target in enumerate(prim.targets or []):
                a = mapped.get(t)
                acc = (target.get("POSITION") if isinstance(target, dict)
                       else getattr(target, "POSITION", None))
                if a is None or acc is None:
                    continue
                disp[ARKIT_INDEX[a]] += reader.accessor(acc)[:, :3]
            positions.append(pos @ world[:3, :3].T + world[:3, 3])
            shapes.append(disp @ world[:3, :3].T)
            faces.append(tri + base)
            base += n
        if base > first:
            regions[mesh.name or node.name or f"mesh{node.mesh}"] = (first, base)
            extras += [mesh.extras, node.extras]
    if not n_meshes_with_targets:
        raise RigError(f"{p}: no mesh has morph targets; export the face with its blend shapes "
                       "(shape keys) named after ARKit's 52 curves (jawOpen, mouthClose, ...)")
    if not positions:
        some = ", ".join(sorted(unmapped)[:6])
        raise RigError(f"{p}: none of the morph targets has an ARKit name (found {some}, ...); "
                       "rename them or see docs/rigs.md for the accepted spellings")
    if unmapped:
        log.info("%s: %d morph targets without an ARKit name ignored (%s)", p, len(unmapped),
                 ", ".join(sorted(unmapped)[:8]))
    lm, where = _read_landmarks(p, landmarks, extras)
    if lm.shape != (68,):
        raise RigError(f"{where}: landmarks must be 68 vertex indices, got shape {lm.shape}")
    return Rig(
        name=p.stem, neutral=np.concatenate(positions).astype(np.float32),
        faces=np.concatenate(faces).astype(np.int32),
        blendshapes=np.concatenate(shapes, axis=1).astype(np.float32),
        landmarks68=lm, unit="m", regions=regions, source=str(p),
    )
