"""A face rig as arrays: neutral mesh, identity modes, ARKit expression shapes, landmarks.

Posing is linear: ``neutral + Σ c_i·identity_i + Σ w_k·blendshape_k``. Everything here is
pure numpy (no bus, no torch) so training, nodes and notebooks share one definition.
The on-disk layout is the one of ``ict_facekit.npz`` (see ../shared/assets/ICT_FACEKIT.md);
user rigs come in that layout or as glTF/GLB morph targets (``facewire.rig.gltf``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

UNIT_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
MOUTH_CORNERS = (48, 54)  # iBUG-68 outer mouth corners
LIP_LANDMARKS = tuple(range(48, 68))  # iBUG-68 outer and inner lips


class RigError(ValueError):
    """A rig file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class Rig:
    """Arrays of one rig. ``blendshapes`` is ``[52, V, 3]`` in ARKit order (missing shapes
    are zero); ``identity_basis`` is ``[K, V, 3]`` (K may be 0)."""

    name: str
    neutral: np.ndarray
    faces: np.ndarray
    blendshapes: np.ndarray
    landmarks68: np.ndarray
    unit: str = "cm"
    identity_basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    uvs: np.ndarray | None = None
    face_uvs: np.ndarray | None = None
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        v = self.neutral.shape[0]
        where = self.source or self.name
        if self.neutral.ndim != 2 or self.neutral.shape[1] != 3:
            raise RigError(f"{where}: neutral must be [vertices, 3], got {self.neutral.shape}")
        if self.blendshapes.shape != (len(ARKIT_52), v, 3):
            raise RigError(f"{where}: blendshapes must be [52, {v}, 3] in ARKit order, "
                           f"got {self.blendshapes.shape}")
        if self.landmarks68.shape != (68,):
            raise RigError(f"{where}: landmarks68 must hold 68 vertex indices, "
                           f"got {self.landmarks68.shape}")
        bad = self.landmarks68[(self.landmarks68 < 0) | (self.landmarks68 >= v)]
        if bad.size:
            raise RigError(f"{where}: landmark vertex index {int(bad[0])} is outside the mesh "
                           f"({v} vertices); fix landmarks68 for this mesh")
        if self.faces.size and (self.faces.max() >= v or self.faces.min() < 0):
            raise RigError(f"{where}: a face refers to vertex {int(self.faces.max())}, "
                           f"but the mesh has {v} vertices")
        if self.unit not in UNIT_TO_MM:
            raise RigError(f"{where}: unit {self.unit!r} unknown; use one of {sorted(UNIT_TO_MM)}")
        if self.identity_basis.size and self.identity_basis.shape[1:] != (v, 3):
            raise RigError(f"{where}: identity_basis must be [K, {v}, 3], "
                           f"got {self.identity_basis.shape}")

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Rig:
        """An npz in the ict_facekit layout, or a .gltf/.glb with ARKit-named morph targets."""
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(
                f"{p}: rig not found; pass --rig PATH or set FACEWIRE_DATA to the folder "
                "holding assets/ict_facekit.npz")
        if p.suffix.lower() in (".gltf", ".glb"):
            from facewire.rig.gltf import load_gltf

            return load_gltf(p)
        return cls.from_npz(p)

    @classmethod
    def from_npz(cls, path: str | Path) -> Rig:
        p = Path(path)
        try:
            z = np.load(p)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same message
            raise RigError(f"{p}: not a readable npz rig ({e})") from e
        with z:
            missing = [k for k in ("neutral", "faces", "blendshapes", "blendshape_names",
                                   "landmarks68") if k not in z.files]
            if missing:
                raise RigError(f"{p}: missing arrays {missing}; the layout is described in "
                               "docs/rigs.md")
            names = [str(n) for n in z["blendshape_names"]]
            neutral = z["neutral"].astype(np.float32)
            raw = z["blendshapes"]
            if raw.shape[0] != len(names):
                raise RigError(f"{p}: {raw.shape[0]} blendshapes but {len(names)} names")
            bs = np.zeros((len(ARKIT_52), neutral.shape[0], 3), np.float32)
            for i, n in enumerate(names):
                if n in ARKIT_INDEX:
                    bs[ARKIT_INDEX[n]] = raw[i]
            regions = {}
            if "region_names" in z.files:
                regions = {str(n): (int(a), int(b))
                           for n, (a, b) in zip(z["region_names"], z["region_ranges"])}
            return cls(
                name=p.stem, neutral=neutral, faces=z["faces"].astype(np.int32),
                blendshapes=bs, landmarks68=z["landmarks68"].astype(np.int64),
                unit=str(z["unit"]) if "unit" in z.files else "cm",
                identity_basis=(z["identity_basis"].astype(np.float32)
                                if "identity_basis" in z.files
                                else np.zeros((0, neutral.shape[0], 3), np.float32)),
                uvs=z["uvs"].astype(np.float32) if "uvs" in z.files else None,
                face_uvs=z["face_uvs"].astype(np.int32) if "face_uvs" in z.files else None,
                regions=regions, source=str(p),
            )

    # -- posing --------------------------------------------------------------------------

    @property
    def n_vertices(self) -> int:
        return int(self.neutral.shape[0])

    @property
    def mm(self) -> float:
        """Millimetres per rig unit."""
        return UNIT_TO_MM[self.unit]

    def identity(self, coeffs: np.ndarray | None = None) -> np.ndarray:
        """Neutral face of an identity: ``neutral + coeffs @ identity_basis``."""
        if coeffs is None or not np.size(coeffs):
            return self.neutral.copy()
        c = np.asarray(coeffs, np.float32)
        k = self.identity_basis.shape[0]
        if c.shape[-1] > k:
            raise RigError(f"{self.name}: {c.shape[-1]} identity coefficients, the rig has {k}")
        return self.neutral + np.tensordot(c, self.identity_basis[: c.shape[-1]], axes=(0, 0))

    def expression(self, weights: np.ndarray) -> np.ndarray:
        """Displacements of ARKit-52 ``weights`` ``[..., 52]`` -> ``[..., V, 3]``."""
        w = np.asarray(weights, np.float32)
        if w.shape[-1] != len(ARKIT_52):
            raise RigError(f"weights must have 52 ARKit curves in the last axis, got {w.shape}")
        flat = self.blendshapes.reshape(len(ARKIT_52), -1)
        return (w.reshape(-1, len(ARKIT_52)) @ flat).reshape(*w.shape[:-1], self.n_vertices, 3)

    def pose(self, weights: np.ndarray, identity: np.ndarray | None = None) -> np.ndarray:
        """Vertices posed with ARKit ``weights`` on an identity's face (``[..., V, 3]``)."""
        return self.identity(identity) + self.expression(weights)

    def landmarks(self, vertices: np.ndarray) -> np.ndarray:
        """The 68 landmarks of posed ``vertices`` ``[..., V, 3]`` -> ``[..., 68, 3]``."""
        return np.asarray(vertices)[..., self.landmarks68, :]

    def landmark_blendshapes(self) -> np.ndarray:
        """``[52, 68, 3]``: landmark displacement per unit of each ARKit weight."""
        return self.blendshapes[:, self.landmarks68, :]

    def mouth_width(self, vertices: np.ndarray | None = None) -> float:
        """Distance between the mouth corners (landmarks 48, 54) of ``vertices`` (neutral when
        None), in rig units: the normaliser of landmark distances (seed 000)."""
        v = self.neutral if vertices is None else vertices
        a, b = MOUTH_CORNERS
        return float(np.linalg.norm(v[self.landmarks68[a]] - v[self.landmarks68[b]]))

    def region(self, name: str) -> slice:
        if name not in self.regions:
            raise RigError(f"{self.name}: no region {name!r}; it has {sorted(self.regions)}")
        a, b = self.regions[name]
        return slice(a, b)

    def check_deform(self, displacements: np.ndarray) -> None:
        """A clear error when dense displacements do not fit this rig."""
        d = np.asarray(displacements)
        if d.ndim != 2 or d.shape != (self.n_vertices, 3):
            raise RigError(
                f"MeshDeform has {d.shape[0] if d.ndim else 0} vertices, rig {self.name} has "
                f"{self.n_vertices}; use the rig the deformation was made for")


def default_rig_path() -> Path:
    """``$FACEWIRE_DATA/assets/ict_facekit.npz`` (FACEWIRE_DATA is the shared folder) or
    ``../shared/assets/ict_facekit.npz`` beside the repository."""
    import os

    env = os.environ.get("FACEWIRE_DATA")
    if env:
        return Path(env) / "assets" / "ict_facekit.npz"
    return Path(__file__).resolve().parents[3] / "shared" / "assets" / "ict_facekit.npz"


def load_default_rig() -> Rig:
    return Rig.load(default_rig_path())
