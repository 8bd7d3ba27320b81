"""The rig's face region as the fusion module sees it: UV geometry maps, vertex weights,
mesh edges for the Laplacian, and the least-squares map back to ARKit weights.

Pure numpy. Per-vertex displacements become a square image by barycentric interpolation
in the rig's UV layout (seed 004, Eq. 1, after Fan et al.): nearby vertices stay nearby, so
a CNN can use locality. Everything is linear in the displacements, so a map of ARKit
weights is ``weights @ map_basis`` and costs one small matmul at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facewire.rig.rig import Rig


def rasterise_uv(uvs: np.ndarray, face_uvs: np.ndarray, faces: np.ndarray, size: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel centre of a ``size x size`` grid over UV [0, 1]^2: the three vertices
    of the triangle holding it and their barycentric weights. Returns ``(pixels, verts
    [n, 3], bary [n, 3])`` for the covered pixels (row 0 is the top, v = 1)."""
    tri_uv = uvs[face_uvs]  # [F, 3, 2]
    px = np.full((size, size), -1, np.int64)
    bary = np.zeros((size, size, 3), np.float64)
    lo = np.floor(tri_uv.min(1) * size - 0.5).astype(int) + 1
    hi = np.floor(tri_uv.max(1) * size - 0.5).astype(int)
    for f in np.nonzero(np.all(hi >= lo, axis=1))[0]:
        (x0, y0), (x1, y1) = np.maximum(lo[f], 0), np.minimum(hi[f], size - 1)
        if x1 < x0 or y1 < y0:
            continue
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        p = (np.stack([xs.ravel(), ys.ravel()], 1) + 0.5) / size
        a, b, c = tri_uv[f]
        m = np.array([b - a, c - a]).T
        det = np.linalg.det(m)
        if abs(det) < 1e-14:
            continue
        l12 = np.linalg.solve(m, (p - a).T).T
        lam = np.column_stack([1 - l12.sum(1), l12])
        inside = np.all(lam >= -1e-9, axis=1)
        for (xx, yy), w in zip(np.stack([xs.ravel(), ys.ravel()], 1)[inside], lam[inside]):
            px[size - 1 - yy, xx] = f
            bary[size - 1 - yy, xx] = w
    covered = np.nonzero(px.ravel() >= 0)[0]
    return covered, faces[px.ravel()[covered]], bary.reshape(-1, 3)[covered]


@dataclass(frozen=True)
class FaceGeometry:
    """Face-region arrays of a rig for the fusion module (see the module docstring)."""

    n_face: int  # vertices 0 .. n_face-1 are the face region
    n_vertices: int  # of the whole rig (MeshDeform size)
    basis: np.ndarray  # [52, n_face, 3] ARKit shapes on the face region
    vertex_weights: np.ndarray  # [n_face] loss weights, mean 1, high near the landmarks
    edges: np.ndarray  # [E, 2] mesh edges inside the face region
    map_pixels: np.ndarray  # [n] covered pixel indices in the size*size grid
    map_verts: np.ndarray  # [n, 3]
    map_bary: np.ndarray  # [n, 3]
    size: int

    @classmethod
    def from_rig(cls, rig: Rig, size: int = 64, region: str = "face") -> FaceGeometry:
        if rig.uvs is None or rig.face_uvs is None:
            raise ValueError(f"{rig.name}: the fusion module needs a rig with UVs")
        sl = rig.region(region) if region in rig.regions else slice(0, rig.n_vertices)
        if sl.start != 0:
            raise ValueError(f"{rig.name}: region {region!r} must start at vertex 0")
        n = sl.stop
        inside = np.all(rig.faces < n, axis=1)
        faces = rig.faces[inside]
        pixels, verts, bary = rasterise_uv(rig.uvs, rig.face_uvs[inside], faces, size)
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        edges = np.unique(np.sort(e, axis=1), axis=0)
        lm = rig.landmarks68[rig.landmarks68 < n]
        pos = rig.neutral[:n]
        dist = np.min(np.linalg.norm(pos[:, None, :] - pos[None, lm, :], axis=-1), axis=1)
        w = 1.0 / np.maximum(dist * rig.mm, 2.0)  # seed 001: 1 / distance to a landmark
        return cls(n, rig.n_vertices, rig.blendshapes[:, :n].astype(np.float32),
                   (w / w.mean()).astype(np.float32), edges.astype(np.int64), pixels, verts,
                   bary.astype(np.float32), size)

    def to_map(self, disp: np.ndarray) -> np.ndarray:
        """Displacements ``[..., n_face, 3]`` -> geometry maps ``[..., 3, size, size]``."""
        d = np.asarray(disp, np.float32)
        vals = np.einsum("...pkc,pk->...pc", d[..., self.map_verts, :], self.map_bary)
        out = np.zeros((*d.shape[:-2], self.size * self.size, 3), np.float32)
        out[..., self.map_pixels, :] = vals
        return np.moveaxis(out, -1, -2).reshape(*d.shape[:-2], 3, self.size, self.size)

    def map_basis(self) -> np.ndarray:
        """``[52, 3 * size * size]``: the geometry map of each ARKit shape (flattened)."""
        return self.to_map(self.basis).reshape(len(self.basis), -1)

    def arkit_projector(self, ridge: float = 1e-6) -> np.ndarray:
        """``P [52, n_face * 3]`` with ``weights = P @ disp.ravel()``: weighted ridge least
        squares onto the rig's ARKit basis (the seed maps to FLAME the same way). Shapes
        with no motion on the face (ICT's tongueOut) get weight 0."""
        a = self.basis.reshape(len(self.basis), -1).astype(np.float64)  # [52, 3n]
        wv = np.repeat(self.vertex_weights.astype(np.float64), 3)
        gram = (a * wv) @ a.T
        gram += ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
        return np.linalg.solve(gram, a * wv).astype(np.float32)
