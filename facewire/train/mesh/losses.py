"""Seed 001's losses for S2L (eq. 2-6) and S2D (eq. 7-9), as torch functions.

Displacements are ``[B, T, P, 3]`` (S2L: sequences of P=68 landmarks) or ``[B, P, 3]``
(S2D: frames of P vertices); ``mask`` ``[B, T]`` marks valid frames. The paper's L2 terms
are *norms*, not squared: ``||d_t - d^_t||_2`` over the whole frame's displacement vector,
averaged over each sequence's frames and then over sequences (eq. 3). The cosine loss
(eq. 5) is ``1 - cos`` between a frame's flattened predicted and true displacement fields.

Units: the paper's weights (S2L 0.1, 1, 1e-4, 10; S2D 0.1, 1e-4, 1) were set for VOCASET,
whose meshes are in metres, so the trainers feed these losses metres: in other units the
norm terms scale and the balance against the unit-free cosine term moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

EPS = 1e-12  # inside square roots: a 1e-6 floor, a micrometre when fed metres


def _seq_mean(per_frame: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over each sequence's valid frames, then over sequences with any (eq. 3's
    1/N sum_n 1/T_n sum_t)."""
    if per_frame.dim() == 1:  # frames, not sequences (S2D)
        per_frame = per_frame[:, None]
        mask = None if mask is None else mask.reshape(-1, 1)
    m = torch.ones_like(per_frame) if mask is None else mask.to(per_frame.dtype)
    count = m.sum(1)
    per_seq = (per_frame * m).sum(1) / count.clamp_min(1.0)
    has = (count > 0).to(per_frame.dtype)
    return (per_seq * has).sum() / has.sum().clamp_min(1.0)


def frame_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||d - d^||_2`` over each frame's points and coordinates: ``[..., P, 3] -> [...]``."""
    return ((pred - target) ** 2).sum((-1, -2)).add(EPS).sqrt()


def reconstruction(pred: torch.Tensor, target: torch.Tensor,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 3 / eq. 8."""
    return _seq_mean(frame_l2(pred, target), mask)


def mouth(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
          points: Sequence[int] = ()) -> torch.Tensor:
    """Eq. 4: reconstruction on the mouth and jaw landmarks only."""
    idx = torch.as_tensor(list(points), dtype=torch.long, device=pred.device)
    return reconstruction(pred.index_select(-2, idx), target.index_select(-2, idx), mask)


def cosine(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
           ) -> torch.Tensor:
    """Eq. 5: ``1 - cos`` between flattened frame displacement fields."""
    p = pred.flatten(-2)
    t = target.flatten(-2)
    cos = (p * t).sum(-1) / (p.norm(dim=-1) * t.norm(dim=-1)).clamp_min(EPS)
    return _seq_mean(1.0 - cos, mask)


def velocity(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
             ) -> torch.Tensor:
    """Eq. 6: L2 of the difference of frame-to-frame motion (t >= 2, both frames valid)."""
    dv = frame_l2(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1])
    m = None if mask is None else mask[:, 1:] & mask[:, :-1]
    return _seq_mean(dv, m)


def weighted_vertex(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 9: ``1/N sum_i w_i ||p_i - p^_i||_2`` over vertices (``p = neutral + d``, so the
    neutral cancels), averaged over frames."""
    per_vertex = ((pred - target) ** 2).sum(-1).add(EPS).sqrt()
    return _seq_mean((per_vertex * weights).mean(-1), mask)


@dataclass(frozen=True)
class S2LWeights:
    """Eq. 2's lambdas (section 4.3): rec 0.1, mouth 1, cosine 1e-4, velocity 10."""

    rec: float = 0.1
    mouth: float = 1.0
    cos: float = 1e-4
    vel: float = 10.0


@dataclass(frozen=True)
class S2DWeights:
    """Eq. 7's lambdas (section 4.3): rec 0.1, cosine 1e-4, weighted 1."""

    rec: float = 0.1
    cos: float = 1e-4
    weighted: float = 1.0


def s2l_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None,
             w: S2LWeights, mouth_points: Sequence[int]) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 2 on ``[B, T, 68, 3]``; returns the total and each term (for logs)."""
    terms = {"rec": reconstruction(pred, target, mask),
             "mouth": mouth(pred, target, mask, mouth_points),
             "cos": cosine(pred, target, mask),
             "vel": velocity(pred, target, mask)}
    total = (w.rec * terms["rec"] + w.mouth * terms["mouth"] + w.cos * terms["cos"]
             + w.vel * terms["vel"])
    return total, {k: float(v.detach()) for k, v in terms.items()}


def s2d_loss(pred: torch.Tensor, target: torch.Tensor, vertex_w: torch.Tensor, w: S2DWeights
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 7 on frames ``[B, V, 3]``."""
    terms = {"rec": reconstruction(pred, target),
             "cos": cosine(pred, target),
             "weighted": weighted_vertex(pred, target, vertex_w)}
    total = w.rec * terms["rec"] + w.cos * terms["cos"] + w.weighted * terms["weighted"]
    return total, {k: float(v.detach()) for k, v in terms.items()}
