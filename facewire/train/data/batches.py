"""From examples to padded training batches: random crops with warm-up context, and the
augmentations that act on the audio (band-limiting) or on the log-mel crops (level,
spectral envelope, mel warp)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch

from facewire.train.data.dataset import Example, Utterance


def bandlimit(utts: Sequence[Utterance], share: float, rng: np.random.Generator
              ) -> list[Utterance]:
    """Low-pass ``share`` of the clips to 4 kHz (down to 8 kHz and back): real microphones
    and data sets (the spoken digits) are often 8 kHz, the synthetic voices never are."""
    from scipy.signal import resample_poly

    out = []
    for u in utts:
        if rng.random() < share:
            y = resample_poly(resample_poly(u.audio, 1, 2), 2, 1)[: len(u.audio)]
            u = replace(u, audio=np.pad(y, (0, len(u.audio) - len(y))).astype(np.float32))
        out.append(u)
    return out


def warp_mel(feats: np.ndarray, factor: float) -> np.ndarray:
    """Stretch log-mel frames along the frequency axis by ``factor`` (> 1 moves energy to
    higher bins): vocal-tract-length perturbation, so that formants of voices unlike the
    synthetic ones (children, real speakers) still map to the same mouth shapes."""
    n = feats.shape[1]
    src = np.clip(np.arange(n) / factor, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (src - lo).astype(feats.dtype)
    return feats[:, lo] * (1 - frac) + feats[:, hi] * frac


class Batch(NamedTuple):
    """Padded network inputs, targets, their mask, phone labels (-1: none / masked) and,
    for the consistency loss, a second view of the inputs."""

    x: torch.Tensor  # (B, T, F)
    y: torch.Tensor  # (B, T, C)
    m: torch.Tensor  # (B, T, C) bool
    phones: torch.Tensor  # (B, T) int64
    x2: torch.Tensor | None = None  # (B, T, F): a second augmented view of x, if asked for


def random_eq(n_bins: int, eq: float, rng: np.random.Generator) -> np.ndarray:
    """A random smooth log-gain curve over the mel bins: a tilt of up to ``eq`` from the
    lowest to the highest bin plus a ripple (1-3 half-cosines) of up to ``eq`` / 2. Voices
    and microphones differ by such envelopes (glottal source slope, vocal tract, channel);
    a network trained on few voices otherwise reads them as phonetics."""
    x = np.linspace(-0.5, 0.5, n_bins, dtype=np.float32)
    tilt = rng.uniform(-eq, eq) * x
    ripple = rng.uniform(-eq / 2, eq / 2) * np.cos(np.pi * rng.integers(1, 4) * (x + 0.5)
                                                   + rng.uniform(0, 2 * np.pi))
    return (tilt + ripple).astype(np.float32)


def augment(f: np.ndarray, rng: np.random.Generator, pad_value: float, gain: float = 0.0,
            warp: float = 0.0, eq: float = 0.0) -> np.ndarray:
    """One random view of a crop's log-mel frames: mel warp, spectral envelope, level (see
    :func:`collate` for the units)."""
    if warp:
        f = warp_mel(f, float(rng.uniform(1 - warp, 1 + warp)))
    if eq:
        f = np.maximum(f + random_eq(f.shape[1], eq, rng), pad_value)
    if gain:
        f = np.maximum(f + rng.uniform(-gain, gain), pad_value)
    return f


def _pad(frames: Sequence[np.ndarray], n: int, pad_value: float) -> torch.Tensor:
    x = np.full((len(frames), n, frames[0].shape[1]), pad_value, np.float32)
    for i, f in enumerate(frames):
        x[i, : len(f)] = f
    return torch.from_numpy(x)


def collate(examples: Sequence[Example], crop: int | None, rng: np.random.Generator | None,
            pad_value: float, burn_in: int = 50, gain: float = 0.0, warp: float = 0.0,
            eq: float = 0.0, second_view: bool = False) -> Batch:
    """Pad (and randomly crop) to one length; cropped clips keep ``burn_in`` frames of real
    left context whose outputs are masked, so recurrent state starts warm. ``gain`` shifts
    each crop's log-power features by a random level in [-gain, gain] (natural log units),
    never below the silence floor; ``eq`` adds a random spectral envelope
    (:func:`random_eq`, same units); ``warp`` stretches its mel axis by a random factor in
    [1 - warp, 1 + warp] (:func:`warp_mel`). ``second_view`` also returns, as ``x2``, the
    same crops under independently drawn augmentations (the consistency loss compares the
    two)."""
    items, views = [], []
    for e in examples:
        f, t, v = e.feats, e.targets, e.valid.copy()
        p = e.phones.copy() if e.phones is not None else np.full(len(f), -1, np.int64)
        if crop and len(f) > crop and rng is not None:
            s = int(rng.integers(0, len(f) - crop + 1))
            a = max(0, s - burn_in)
            f, t, v, p = f[a:s + crop], t[a:s + crop], v[a:s + crop], p[a:s + crop]
            v[: s - a] = False
            p[: s - a] = -1
        raw = f
        if rng is not None:
            f = augment(raw, rng, pad_value, gain, warp, eq)
            if second_view:
                views.append(augment(raw, rng, pad_value, gain, warp, eq))
        items.append((f, t, v, p))
    n = max(len(it[0]) for it in items)
    c = items[0][1].shape[1]
    y = np.zeros((len(items), n, c), np.float32)
    m = np.zeros((len(items), n, c), bool)
    ph = np.full((len(items), n), -1, np.int64)
    for i, (f, t, v, p) in enumerate(items):
        y[i, : len(f)], m[i, : len(f)], ph[i, : len(f)] = t, v, p
    return Batch(_pad([it[0] for it in items], n, pad_value), torch.from_numpy(y),
                 torch.from_numpy(m), torch.from_numpy(ph),
                 _pad(views, n, pad_value) if views else None)
