"""Mesh pyramid for the spiral decoder: decimation, down/up-sampling matrices, spirals.

Built once from a rig's neutral mesh (pure numpy/scipy + ``fast-simplification``, the
maintained quadric-error decimator of the PyVista project) and baked into the S2D network
as index/weight tables, so the runtime needs neither this module nor the library.

* Down-sampling (as in COMA / Neural3DMM): quadric decimation proposes a coarse mesh; each
  coarse vertex is snapped to its nearest *original* vertex (unique), so ``D`` is a 0/1
  selection matrix ``[V_coarse, V_fine]``.
* Up-sampling: each fine vertex is projected onto the closest triangle of the coarse mesh
  and written as barycentric weights of that triangle's corners, ``U`` ``[V_fine, V_coarse]``
  with at most three non-zeros per row. A kept vertex gets weight 1 on itself, so
  ``U @ D @ x`` reproduces the kept vertices exactly and interpolates the rest.
* Spirals (SpiralNet++): for each vertex the sequence [v, ring 1, ring 2, ...] truncated to
  ``length``. Within a ring, vertices are ordered by their angle around the vertex normal,
  starting from the projected up axis (+y), so every spiral turns the same way and starts
  in a consistent direction. Spirals shorter than ``length`` (tiny meshes) repeat ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


@dataclass
class MeshLevel:
    """One level of the pyramid: positions, triangles and spirals."""

    vertices: np.ndarray  # [V, 3] float32
    faces: np.ndarray  # [F, 3] int64
    spirals: np.ndarray  # [V, length] int64


@dataclass
class MeshPyramid:
    """``levels[0]`` is the full mesh; ``down[i]``: level i -> i+1, ``up[i]``: i+1 -> i."""

    levels: list[MeshLevel]
    down: list[sp.csr_matrix]
    up: list[sp.csr_matrix]

    @property
    def sizes(self) -> list[int]:
        return [len(lv.vertices) for lv in self.levels]


def submesh(vertices: np.ndarray, faces: np.ndarray, stop: int, start: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``start:stop`` and the triangles lying wholly inside them (re-indexed)."""
    keep = ((faces >= start) & (faces < stop)).all(1)
    return (np.asarray(vertices[start:stop], np.float32),
            (faces[keep] - start).astype(np.int64))


def _neighbours(n: int, faces: np.ndarray) -> list[np.ndarray]:
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2],
                        faces[:, 0]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1],
                        faces[:, 2]])
    a = sp.csr_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    return [a.indices[a.indptr[v]:a.indptr[v + 1]] for v in range(n)]


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (unit; zero for isolated vertices)."""
    v = np.asarray(vertices, np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def spirals(vertices: np.ndarray, faces: np.ndarray, length: int = 9) -> np.ndarray:
    """``[V, length]`` spiral index sequences (see the module docstring)."""
    v = np.asarray(vertices, np.float64)
    nbrs = _neighbours(len(v), faces)
    normals = vertex_normals(v, faces)
    out = np.empty((len(v), length), np.int64)
    up = np.array([0.0, 1.0, 0.0])
    side = np.array([1.0, 0.0, 0.0])
    for c in range(len(v)):
        n = normals[c]
        ref = up - n * (n @ up)
        if np.linalg.norm(ref) < 1e-6:
            ref = side - n * (n @ side)
        ref /= max(np.linalg.norm(ref), 1e-12)
        seq, seen, ring = [c], {c}, [c]
        while len(seq) < length and ring:
            nxt = sorted({int(u) for r in ring for u in nbrs[r]} - seen)
            if not nxt:
                break
            d = v[nxt] - v[c]
            ang = np.arctan2(np.cross(ref, d) @ n, d @ ref) % (2 * np.pi)
            ordered = [nxt[i] for i in np.argsort(ang, kind="stable")]
            seq.extend(ordered)
            seen.update(ordered)
            ring = ordered
        seq = (seq + [c] * length)[:length]
        out[c] = seq
    return out


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
                          ) -> np.ndarray:
    """Barycentric weights ``[N, 3]`` of the point of each triangle closest to each ``p``
    (Ericson, Real-Time Collision Detection 5.1.5, vectorised)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = p - b
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = p - c
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    denom = va + vb + vc
    safe = np.where(np.abs(denom) < 1e-20, 1e-20, denom)
    w = np.stack([va / safe, vb / safe, vc / safe], 1)  # interior
    # edges and corners override the interior solution where the point projects outside
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    cases = [
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - t_ab, t_ab, 0 * t_ab], 1)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - t_ac, 0 * t_ac, t_ac], 1)),
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
         np.stack([0 * t_bc, 1 - t_bc, t_bc], 1)),
        ((d6 >= 0) & (d5 <= d6), np.tile([0.0, 0.0, 1.0], (len(p), 1))),
        ((d3 >= 0) & (d4 <= d3), np.tile([0.0, 1.0, 0.0], (len(p), 1))),
        ((d1 <= 0) & (d2 <= 0), np.tile([1.0, 0.0, 0.0], (len(p), 1))),
    ]
    for mask, val in cases:  # later cases (corners) win, as in Ericson's early returns
        w = np.where(mask[:, None], val, w)
    return np.nan_to_num(w, nan=1.0 / 3.0)


def upsampling_matrix(fine: np.ndarray, coarse: np.ndarray, coarse_faces: np.ndarray,
                      candidates: int = 12) -> sp.csr_matrix:
    """``[V_fine, V_coarse]`` barycentric weights on each fine vertex's closest triangle."""
    fine = np.asarray(fine, np.float64)
    coarse = np.asarray(coarse, np.float64)
    tri = coarse[coarse_faces]  # [F, 3, 3]
    k = min(candidates, len(coarse_faces))
    _, cand = cKDTree(tri.mean(1)).query(fine, k=k)
    cand = cand.reshape(len(fine), k)
    best_w = np.zeros((len(fine), 3))
    best_f = np.zeros(len(fine), np.int64)
    best_d = np.full(len(fine), np.inf)
    for j in range(k):
        f = cand[:, j]
        a, b, c = tri[f, 0], tri[f, 1], tri[f, 2]
        w = _closest_on_triangles(fine, a, b, c)
        q = w[:, :1] * a + w[:, 1:2] * b + w[:, 2:] * c
        d = np.linalg.norm(q - fine, axis=1)
        better = d < best_d
        best_d[better], best_f[better], best_w[better] = d[better], f[better], w[better]
    rows = np.repeat(np.arange(len(fine)), 3)
    cols = coarse_faces[best_f].reshape(-1)
    m = sp.csr_matrix((best_w.reshape(-1), (rows, cols)), shape=(len(fine), len(coarse)))
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def _snap_unique(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of a distinct nearest ``targets`` vertex for each point (greedy by distance)."""
    k = min(16, len(targets))
    dist, idx = cKDTree(targets).query(points, k=k)
    dist, idx = dist.reshape(len(points), k), idx.reshape(len(points), k)
    out = np.full(len(points), -1, np.int64)
    taken: set[int] = set()
    for p in np.argsort(dist[:, 0], kind="stable"):
        for j in range(k):
            if int(idx[p, j]) not in taken:
                out[p] = idx[p, j]
                taken.add(int(idx[p, j]))
                break
        if out[p] < 0:  # all k neighbours taken: any free vertex
            free = np.setdiff1d(np.arange(len(targets)), list(taken))
            best = free[np.argmin(np.linalg.norm(targets[free] - points[p], axis=1))]
            out[p] = best
            taken.add(int(best))
    return out


def decimate(vertices: np.ndarray, faces: np.ndarray, factor: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """(kept original vertex indices, coarse triangles over them) with about ``1/factor`` of
    the vertices: quadric decimation, then each new vertex snapped to an original one."""
    import fast_simplification

    pts, tris = fast_simplification.simplify(
        np.asarray(vertices, np.float64), np.asarray(faces, np.int32),
        target_reduction=1.0 - 1.0 / factor, preserve_border=True)
    used = np.unique(tris)
    remap = np.full(len(pts), -1, np.int64)
    remap[used] = np.arange(len(used))
    tris = remap[tris]
    keep = _snap_unique(pts[used], np.asarray(vertices, np.float64))
    good = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
    return keep, tris[good]


def downsampling_matrix(keep: np.ndarray, n_fine: int) -> sp.csr_matrix:
    """0/1 selection ``[len(keep), n_fine]``."""
    return sp.csr_matrix((np.ones(len(keep), np.float32), (np.arange(len(keep)), keep)),
                         shape=(len(keep), n_fine))


def build_pyramid(vertices: np.ndarray, faces: np.ndarray, factors: tuple[float, ...],
                  spiral_length: int = 9) -> MeshPyramid:
    """Levels 0..len(factors) by repeated decimation; spirals on every level."""
    v = np.asarray(vertices, np.float32)
    f = np.asarray(faces, np.int64)
    levels = [MeshLevel(v, f, spirals(v, f, spiral_length))]
    down: list[sp.csr_matrix] = []
    up: list[sp.csr_matrix] = []
    for factor in factors:
        keep, cf = decimate(v, f, factor)
        cv = v[keep]
        down.append(downsampling_matrix(keep, len(v)))
        up.append(upsampling_matrix(v, cv, cf))
        v, f = cv, cf
        levels.append(MeshLevel(v, f, spirals(v, f, spiral_length)))
    return MeshPyramid(levels, down, up)


def as_gather(m: sp.csr_matrix, width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A sparse matrix with at most ``width`` non-zeros per row as (index, weight) tables
    ``[rows, width]`` (padding: index 0, weight 0): a gather + weighted sum in ONNX."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if counts.max(initial=0) > width:
        raise ValueError(f"a row has {counts.max()} non-zeros, more than {width}")
    idx = np.zeros((m.shape[0], width), np.int64)
    w = np.zeros((m.shape[0], width), np.float32)
    for r in range(m.shape[0]):
        a, b = m.indptr[r], m.indptr[r + 1]
        idx[r, : b - a] = m.indices[a:b]
        w[r, : b - a] = m.data[a:b]
    return idx, w
