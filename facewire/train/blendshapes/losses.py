"""Losses of the blendshape networks: the curve loss (MSE or seed 002's variance-normalised
L2 + L1), the lip-aperture loss on a rig, the lip-seal classification, and the training-only
auxiliary heads (phone recognition, the gradient-reversed voice classifier), and the
consistency of two augmented views."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from facewire.models.blendshape_nets import BlendshapeNet
from facewire.phones.arpabet import BILABIALS, LIPS_APART, PHONE_INDEX
from facewire.rig.arkit import ARKIT_INDEX


def loss_fn(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, sigma: torch.Tensor,
            kind: str, l1: float) -> torch.Tensor:
    """Masked MSE, or seed 002's eq. 2: mean over curves of ((e - e^)/sigma)^2 + lambda |e|."""
    m = mask.float()
    denom = m.sum().clamp_min(1.0)
    if kind == "mse":
        return (((pred - target) ** 2) * m).sum() / denom
    if kind == "vnl2":
        l2 = ((((pred - target) / sigma) ** 2) * m).sum() / denom
        return l2 + l1 * (pred.abs() * m).sum() / denom
    raise ValueError(f"unknown loss {kind!r} (mse or vnl2)")


class ApertureLoss:
    """L1 error of the inner-lip aperture (mm / 10) on a rig: a mouth loss in the spirit of
    seed 001, grounded in what a viewer sees. The aperture is linear in the weights, so this
    costs one matrix product; L1 (a median) lets the lips close when closure is the more
    likely answer instead of averaging to a half-open mouth."""

    def __init__(self, rig: str | None, outputs: Sequence[str], device: torch.device) -> None:
        from facewire.train.metrics import default_aperture

        ap = default_aperture(rig)
        if ap is None:
            raise FileNotFoundError(f"{rig or 'the shared ICT rig'}: rig not found for the "
                                    "aperture loss (pass --rig or --aperture 0)")
        self.a0 = float(ap.a0)
        self.d = torch.tensor(ap.d, dtype=torch.float32, device=device)
        cols = [ARKIT_INDEX[n] for n in outputs]
        self.relevant = torch.tensor([i for i, c in enumerate(cols) if abs(ap.d[c]) > 0.5],
                                     device=device)
        self.cols = torch.tensor(cols, device=device)

    def full(self, pred52: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The targets (network curves) as ARKit-52 vectors, zeros elsewhere."""
        full = torch.zeros_like(pred52)
        full[..., self.cols] = target
        return full

    def mm(self, weights52: torch.Tensor) -> torch.Tensor:
        """``[..., 52]`` weights -> inner-lip aperture in mm (as the evaluation measures it)."""
        return self.a0 + weights52 @ self.d

    def __call__(self, pred52: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
        full = self.full(pred52, target)
        m = mask[..., self.relevant].all(-1).float()
        err = ((pred52 - full) @ self.d).abs() / 10.0
        return (err * m).sum() / m.sum().clamp_min(1.0)


def phone_segments(phones: torch.Tensor, members: frozenset[str]) -> torch.Tensor:
    """``(B, T)`` phone ids -> ``(B, T)`` segment numbers 0..n-1 of the runs of one phone
    of ``members`` (a new phone or a new row starts a new segment); -1 elsewhere."""
    ids = torch.tensor(sorted(PHONE_INDEX[p] for p in members), device=phones.device)
    inside = torch.isin(phones, ids)
    first = torch.ones_like(phones[:, :1], dtype=torch.bool)
    starts = inside & torch.cat([first, phones[:, 1:] != phones[:, :-1]], 1)
    seg = torch.cumsum(starts.flatten().long(), 0) - 1
    return torch.where(inside.flatten(), seg, -1).view_as(phones)


def segment_softmin(values: torch.Tensor, seg: torch.Tensor, tau: float) -> torch.Tensor:
    """Smooth minimum, ``-tau * log(sum(exp(-v / tau)))``, of ``values`` over each segment
    of ``seg`` (:func:`phone_segments`) -> ``(n,)``. Its gradient goes to the frames nearest
    the minimum, so the network may close the lips at whichever frame it finds best."""
    keep = seg.flatten() >= 0
    s, z = seg.flatten()[keep], -values.flatten()[keep] / tau
    n = int(s.max()) + 1 if s.numel() else 0
    top = torch.full((n,), -torch.inf, device=z.device).scatter_reduce(0, s, z, "amax")
    tot = torch.zeros(n, device=z.device).index_add(0, s, torch.exp(z - top[s]))
    return -tau * (top + torch.log(tot))


def closure_loss(aperture: ApertureLoss, pred52: torch.Tensor, target: torch.Tensor,
                 phones: torch.Tensor, close_mm: float = 1.0, apart_mm: float = 2.5,
                 tau: float = 0.5) -> torch.Tensor:
    """Segment-level lip-closure loss, the evaluation's closure measure made differentiable
    (multiple-instance learning: a segment is right when *one* of its frames is).

    Each /p b m/ segment pays its smooth-minimum aperture above ``close_mm`` (a margin under
    the 2 mm that the evaluation counts as closed); each lips-apart consonant (t d n k g s ...)
    whose teacher aperture stays above ``apart_mm`` pays its smooth minimum below
    ``apart_mm``, so closing more bilabials is not bought with false closures. Frame-wise
    losses instead ask for the teacher's exact timing and are satisfied by a half-closed
    hedge between closing and not; this one is zero for a segment once it is right. In cm,
    as the aperture loss: the mean over the batch's bilabials plus that over its
    lips-apart consonants."""
    pred_mm = aperture.mm(pred52)
    loss = pred52.new_zeros(())
    seg = phone_segments(phones, BILABIALS)
    if (seg >= 0).any():
        loss = loss + torch.relu(segment_softmin(pred_mm, seg, tau) - close_mm).mean()
    seg = phone_segments(phones, LIPS_APART)
    if (seg >= 0).any():
        teacher_min = segment_softmin(aperture.mm(aperture.full(pred52, target)), seg, 1e-3)
        apart = teacher_min > apart_mm
        if apart.any():
            loss = loss + torch.relu(apart_mm - segment_softmin(pred_mm, seg, tau))[apart].mean()
    return loss / 10.0


def consistency_loss(pred: torch.Tensor, other: torch.Tensor, mask: torch.Tensor,
                     sigma: torch.Tensor) -> torch.Tensor:
    """Mean squared difference, in units of each curve's sigma, between the predictions for
    two augmented views of the same crops (another vocal-tract length, spectral envelope and
    level: what a different speaker changes). The curve loss only asks each view to be near
    the teacher; this asks the network to give both views the *same* face, including where
    it cannot tell what the teacher wants. ``other`` comes without gradient. It is the
    variance-normalised L2 of :func:`loss_fn` with ``other`` as the target and no L1."""
    return loss_fn(pred, other, mask, sigma, "vnl2", 0.0)


def seal_loss(net: BlendshapeNet, target: torch.Tensor, mask: torch.Tensor,
              pos_weight: float = 1.0, min_jaw: float = 0.02) -> torch.Tensor:
    """Binary cross-entropy of the network's lip-seal logit against the teacher's seal,
    recovered as mouthClose / jawOpen (the teacher builds mouthClose that way). Frames
    with a nearly shut jaw carry no seal information and are masked. Without it the seal
    learns only through mouthClose, whose gradient vanishes with the jaw: on /p b m/.
    ``pos_weight`` > 1 trades false closures for missed ones (sealed frames are rare)."""
    ci, ji = net.outputs.index("mouthClose"), net.outputs.index("jawOpen")
    jaw, close = target[..., ji], target[..., ci]
    m = (mask[..., ci] & mask[..., ji] & (jaw > min_jaw)).float()
    seal = (close / jaw.clamp_min(min_jaw)).clamp(0.0, 1.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        net.last_seal_logit, seal, reduction="none",
        pos_weight=torch.tensor(pos_weight, device=seal.device))
    return (bce * m).sum() / m.sum().clamp_min(1.0)


def phone_loss(net: BlendshapeNet, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the network's phone read-out against the aligned phones (-1 frames,
    i.e. unknown phones and burn-in, are ignored): the multi-task term that asks the encoder
    for what was said rather than who said it."""
    if not (labels >= 0).any():
        return labels.new_zeros((), dtype=torch.float32)
    logits = net.phone_logits()
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1), ignore_index=-1)


def voice_adversary_loss(net: BlendshapeNet, voices: torch.Tensor, scored: torch.Tensor
                         ) -> torch.Tensor:
    """Cross-entropy of the (gradient-reversed) voice classifier on the scored frames:
    minimised by its read-out, maximised by the encoder, so the encoder sheds the voice."""
    logits = net.voice_logits()
    labels = voices[:, None].expand(logits.shape[:2])
    if not scored.any():
        return logits.new_zeros(())
    return torch.nn.functional.cross_entropy(logits[scored], labels[scored])
