"""Landmark and dense displacement targets: teacher curves posed on the ICT rig across
random identities, with held-out identities (and, through the corpora, held-out voices).

Why identity needs care here: the ICT rig's expression shapes are one set of offsets added
to every identity, so posing the same curves on two heads gives *identical* displacements;
an "identity-agnostic" S2D trained on them would never see two faces move differently.
Real faces do: a wider mouth opens wider, a longer chin travels further. We therefore give
each identity its own expression shapes by an approximate *deformation transfer*: at every
vertex, the local affine frame ``A_v`` (3x3) that maps the generic neutral's 1-ring edges
and normal onto the identity's (least squares; the normal scaled by the mean edge length,
like the fourth vertex of Sumner & Popović) is applied to the generic displacement:
``d_id(v) = A_v · d(v)``. A scaled head gets scaled motion, a stretched region stretched
motion; the generic head gets ``A_v = I`` and the rig's own shapes. Displacements stay linear
in the ARKit weights, so per-identity landmark shapes are ``[52, 68, 3]`` and dense frames
are made on the fly (``DenseFrames``) instead of stored (6706 x 3 floats a frame).

Dense displacements cover the rig's ``narrow_face`` region (vertices 0..6705: the facial
skin from brows to chin, all 68 landmarks inside it) rather than the whole 26719-vertex
head: the rest (scalp, neck, eyes, teeth, mouth socket) is either still during speech or
not skin, and the spiral decoder's cost grows with the vertex count. Identity coefficients
are N(0, 1) on the first ``n_modes`` modes (all 100 by default), seeded: training
identities from one seed stream, held-out test identities from another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facewire.rig.rig import LIP_LANDMARKS, Rig

DENSE_REGION = "narrow_face"
TRAIN_IDENTITY_SEED = 1000
TEST_IDENTITY_SEED = 2000
JAW_MOUTH = tuple(range(0, 17)) + LIP_LANDMARKS  # "mouth and jaw" landmarks of seed 001


def identity_coefficients(n: int, seed: int, n_modes: int = 100) -> np.ndarray:
    """``[n, n_modes]`` identity coefficients ~ N(0, 1)."""
    return np.random.default_rng(seed).standard_normal((n, n_modes)).astype(np.float32)


def split_identities(n_train: int, n_test: int, n_modes: int = 100
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out test identities from disjoint seed streams."""
    return (identity_coefficients(n_train, TRAIN_IDENTITY_SEED, n_modes),
            identity_coefficients(n_test, TEST_IDENTITY_SEED, n_modes))


def _padded_neighbours(n: int, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour table ``[n, k]`` and its validity mask from the triangles."""
    import scipy.sparse as sp

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    a = sp.csr_matrix((np.ones(len(e), np.int8), (e[:, 0], e[:, 1])), shape=(n, n))
    deg = np.diff(a.indptr)
    k = int(deg.max(initial=1))
    table = np.zeros((n, k), np.int64)
    mask = np.arange(k)[None, :] < deg[:, None]
    table[mask] = a.indices
    return table, mask


def local_frames(generic: np.ndarray, target: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[V, 3, 3]`` per-vertex affine maps taking the generic mesh's local geometry (1-ring
    edges and scaled normal) onto the target's, least squares. Isolated vertices get I."""
    from facewire.models.mesh_sampling import vertex_normals

    g = np.asarray(generic, np.float64)
    t = np.asarray(target, np.float64)
    nb, mask = _padded_neighbours(len(g), faces)
    m = mask[..., None]
    e0 = (g[nb] - g[:, None]) * m  # [V, k, 3]
    e1 = (t[nb] - t[:, None]) * m
    deg = np.maximum(mask.sum(1), 1)[:, None]
    s0 = np.linalg.norm(e0, axis=2).sum(1, keepdims=True) / deg
    s1 = np.linalg.norm(e1, axis=2).sum(1, keepdims=True) / deg
    x0 = np.concatenate([e0, (vertex_normals(g, faces) * s0)[:, None]], 1)
    x1 = np.concatenate([e1, (vertex_normals(t, faces) * s1)[:, None]], 1)
    gram = np.einsum("vki,vkj->vij", x0, x0)
    cross = np.einsum("vki,vkj->vij", x0, x1)
    ok = np.abs(np.linalg.det(gram)) > 1e-18
    a_t = np.tile(np.eye(3), (len(g), 1, 1))
    a_t[ok] = np.linalg.solve(gram[ok], cross[ok])  # X0 A^T = X1
    return np.transpose(a_t, (0, 2, 1)).astype(np.float32)


@dataclass
class IdentitySet:
    """Identities posed on a rig's dense region: neutral landmarks and local frames."""

    rig: Rig
    coeffs: np.ndarray  # [N, K]
    frames: np.ndarray  # [N, V, 3, 3]
    neutral_landmarks: np.ndarray  # [N, 68, 3] in rig units
    region: slice

    @classmethod
    def build(cls, rig: Rig, coeffs: np.ndarray, region: str = DENSE_REGION) -> IdentitySet:
        sl = rig.region(region)
        keep = ((rig.faces >= sl.start) & (rig.faces < sl.stop)).all(1)
        faces = rig.faces[keep] - sl.start
        generic = rig.neutral[sl]
        frames, lms = [], []
        for c in np.atleast_2d(coeffs):
            face = rig.identity(c)
            frames.append(local_frames(generic, face[sl], faces))
            lms.append(rig.landmarks(face))
        return cls(rig, np.atleast_2d(coeffs), np.stack(frames), np.stack(lms), sl)

    def __len__(self) -> int:
        return len(self.coeffs)

    @property
    def landmark_index(self) -> np.ndarray:
        """Landmark vertices as indices into the dense region."""
        return self.rig.landmarks68 - self.region.start

    def landmark_shapes(self, i: int) -> np.ndarray:
        """``[52, 68, 3]``: identity ``i``'s landmark displacement per unit ARKit weight."""
        lm = self.landmark_index
        return np.einsum("lij,klj->kli", self.frames[i][lm], self.rig.blendshapes[:, self.rig
                                                                                   .landmarks68])

    def identity_offsets(self) -> np.ndarray:
        """``[N, 68, 3]``: each identity's neutral landmarks minus the generic ones (S2D's
        identity conditioning; zero for the generic head)."""
        return self.neutral_landmarks - self.rig.landmarks(self.rig.neutral)[None]


class DenseFrames:
    """Pose ARKit frames as (landmark displacements, dense displacements) for identities."""

    def __init__(self, ids: IdentitySet) -> None:
        self.ids = ids
        self.shapes = ids.rig.blendshapes[:, ids.region].reshape(52, -1)  # [52, V*3]
        self.lm = ids.landmark_index

    @property
    def n_vertices(self) -> int:
        return self.ids.region.stop - self.ids.region.start

    def generic(self, weights: np.ndarray) -> np.ndarray:
        """``[B, V, 3]`` displacements of ``weights`` ``[B, 52]`` on the generic head."""
        return (np.asarray(weights, np.float32) @ self.shapes).reshape(len(weights), -1, 3)

    def pose(self, weights: np.ndarray, identity: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """(landmark displacements ``[B, 68, 3]``, dense ``[B, V, 3]``) for frames
        ``weights [B, 52]`` on identities ``identity [B]`` (indices into the set)."""
        d = self.generic(weights)
        dense = np.einsum("bvij,bvj->bvi", self.ids.frames[identity], d)
        return dense[:, self.lm], dense


def landmark_targets(curves: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """ARKit curves ``[T, 52]`` -> landmark displacements ``[T, 68, 3]`` (``shapes`` from
    ``IdentitySet.landmark_shapes``)."""
    return np.tensordot(np.asarray(curves, np.float32), shapes, axes=(1, 0)).astype(np.float32)


def vertex_weights(vertices: np.ndarray, landmarks: np.ndarray, floor: float) -> np.ndarray:
    """Seed 001's weighted-loss weights ``w_i = 1 / min_j |p_i - l_j|``, with the distance
    floored at ``floor`` (the landmark vertices themselves would get 1/0)."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(np.asarray(landmarks, np.float64)).query(np.asarray(vertices, np.float64))
    return (1.0 / np.maximum(d, floor)).astype(np.float32)


def lip_vertices(vertices: np.ndarray, landmarks: np.ndarray, radius: float) -> np.ndarray:
    """Dense-mesh lip vertices for the lip error: those whose nearest landmark is a lip
    landmark (48-67) and lies within ``radius``."""
    from scipy.spatial import cKDTree

    d, j = cKDTree(np.asarray(landmarks, np.float64)).query(np.asarray(vertices, np.float64))
    return np.flatnonzero((j >= LIP_LANDMARKS[0]) & (d <= radius))


def frame_pool(curves: Sequence[np.ndarray], stride: int = 1) -> np.ndarray:
    """All (every ``stride``-th) curve frames of a corpus stacked: S2D trains on frames."""
    return np.concatenate([np.asarray(c, np.float32)[::stride] for c in curves])
