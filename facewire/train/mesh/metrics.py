"""Seed 001's displacement metrics: lip error LE, dense error DE, displacement angle DAE.

All take predicted and true displacements ``[T, P, 3]`` (frames of P points: 68 landmarks
or the mesh's vertices) in the same unit and return that unit (the evaluation passes mm).

* LE (FaceFormer's lip vertex error, which the paper adopts): per frame the *maximum* L2
  error over the lip points, averaged over frames.
* DE: the mean per-point L2 error over all points and frames.
* DAE (radians): per frame the angle between the flattened predicted and true displacement
  fields (the quantity the cosine loss, eq. 5, minimises), averaged over frames; frames
  whose true field is at rest (norm below ``rest``) have no direction and are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _check(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if p.shape != t.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"predicted {p.shape} and true {t.shape} displacements must both be "
                         "[frames, points, 3]")
    return p, t


def lip_error(pred: np.ndarray, true: np.ndarray, lips: Sequence[int] | np.ndarray) -> float:
    p, t = _check(pred, true)
    idx = np.asarray(lips)
    return float(np.linalg.norm(p[:, idx] - t[:, idx], axis=-1).max(1).mean())


def dense_error(pred: np.ndarray, true: np.ndarray) -> float:
    p, t = _check(pred, true)
    return float(np.linalg.norm(p - t, axis=-1).mean())


def angle_error(pred: np.ndarray, true: np.ndarray, rest: float = 1e-6) -> float:
    p, t = _check(pred, true)
    pf, tf = p.reshape(len(p), -1), t.reshape(len(t), -1)
    tn, pn = np.linalg.norm(tf, axis=1), np.linalg.norm(pf, axis=1)
    keep = tn > rest
    if not keep.any():
        return float("nan")
    cos = (pf[keep] * tf[keep]).sum(1) / np.maximum(pn[keep] * tn[keep], 1e-12)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)).mean())


def all_metrics(pred: np.ndarray, true: np.ndarray, lips: Sequence[int] | np.ndarray,
                rest: float = 1e-6) -> dict[str, float]:
    return {"LE": lip_error(pred, true, lips), "DE": dense_error(pred, true),
            "DAE": angle_error(pred, true, rest)}


# seed 001, Table 1 (VOCASET test subjects; LE/DE in mm, DAE in radians)
PAPER_TABLE1 = {
    "VOCA": {"landmarks": (8.72, 7.71, 0.29), "dense": (7.24, 6.29, 0.23)},
    "FaceFormer": {"landmarks": (6.1, 5.6, 0.20), "dense": (5.12, 4.24, 0.17)},
    "S2L+S2D (paper)": {"landmarks": (5.01, 4.42, 0.13), "dense": (4.31, 3.42, 0.12)},
}
