"""Losses of the blendshape networks: the curve loss (MSE or seed 002's variance-normalised
L2 + L1), the lip-aperture loss on a rig, the lip-seal classification, and the training-only
auxiliary heads (phone recognition, the gradient-reversed voice classifier)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from facewire.models.blendshape_nets import BlendshapeNet
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
        from facewire.train.evaluate import default_aperture

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

    def __call__(self, pred52: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
        full = torch.zeros_like(pred52)
        full[..., self.cols] = target
        m = mask[..., self.relevant].all(-1).float()
        err = ((pred52 - full) @ self.d).abs() / 10.0
        return (err * m).sum() / m.sum().clamp_min(1.0)


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
