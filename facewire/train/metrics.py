"""Phonetic metrics grounded in a rig: lip aperture, bilabial closure, vowel contrasts.

Curves are judged by what they do to a face, not by their numbers: the lip aperture is the
vertical gap between the inner-lip landmarks 62 (upper lip, centre) and 66 (lower lip,
centre) of the ICT rig posed with the curves. Vertex positions are linear in the blendshape
weights, so the aperture is ``a0 + weights @ d`` with one coefficient per curve, computed
once from the rig. The vertical component (not the 3D distance) is used because rolling or
protruding a lip moves it forward without opening the mouth; a negative gap means the lips
press into each other, which is closed.

Evaluation counts a bilabial /p b m/ as closed when the aperture drops below
2 mm at some frame inside its segment. See docs/teacher.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.phones.arpabet import (
    BILABIALS,
    CLOSE_VOWELS,
    LIPS_APART,
    OPEN_VOWELS,
    ROUNDED,
    SPREAD,
    VOWELS,
    Phone,
)
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

UPPER_LIP = 62  # iBUG-68 inner upper lip, centre
LOWER_LIP = 66  # iBUG-68 inner lower lip, centre
CLOSED_MM = 2.0


@dataclass(frozen=True)
class LipAperture:
    """Inner-lip vertical gap in mm as a linear function of ARKit-52 weights."""

    a0: float  # gap of the neutral face
    d: np.ndarray  # [52] gap change per unit weight

    @classmethod
    def from_rig(cls, path: str | Path) -> LipAperture:
        """Build from an npz in the ict_facekit layout (neutral, blendshapes, landmarks68,
        blendshape_names); curves the rig lacks contribute nothing."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: rig not found")
        with np.load(path) as z:
            lm = z["landmarks68"]
            up, lo = int(lm[UPPER_LIP]), int(lm[LOWER_LIP])
            names = [str(n) for n in z["blendshape_names"]]
            unit = str(z["unit"]) if "unit" in z.files else "cm"
            scale = {"mm": 1.0, "cm": 10.0, "m": 1000.0}[unit]
            neutral = z["neutral"]
            bs = z["blendshapes"]
            a0 = float(neutral[up, 1] - neutral[lo, 1]) * scale
            d = np.zeros(52)
            for i, name in enumerate(names):
                if name in ARKIT_INDEX:
                    d[ARKIT_INDEX[name]] = float(bs[i, up, 1] - bs[i, lo, 1]) * scale
        return cls(a0, d)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """``[..., 52]`` weights -> ``[...]`` aperture in mm."""
        return self.a0 + np.asarray(weights, dtype=np.float64) @ self.d


@dataclass(frozen=True)
class LandmarkDistance:
    """Seed 000's landmark metric on a rig: mean L2 distance between the 68 landmarks posed
    with predicted and with target weights, over the neutral mouth width (corners 48-54).
    Landmarks are linear in the weights, so only the weight difference is posed."""

    basis: np.ndarray  # [52, 68, 3] landmark displacement per unit weight, mm
    mouth_width_mm: float

    @classmethod
    def from_rig(cls, path: str | Path) -> LandmarkDistance:
        from facewire.rig.rig import Rig

        rig = Rig.load(path)
        return cls(rig.landmark_blendshapes().astype(np.float64) * rig.mm,
                   rig.mouth_width() * rig.mm)

    def per_landmark(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``[T, 68]`` distances in mouth widths."""
        diff = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
        d = np.tensordot(diff, self.basis, axes=(1, 0))  # [T, 68, 3]
        return np.linalg.norm(d, axis=-1) / self.mouth_width_mm

    def __call__(self, pred: np.ndarray, target: np.ndarray,
                 landmarks: Sequence[int] = tuple(range(68))) -> float:
        return float(np.mean(self.per_landmark(pred, target)[:, list(landmarks)]))


def _frames(p: Phone, fps: float, n: int) -> slice:
    a = int(np.floor(p.start * fps))
    b = max(a + 1, int(np.ceil(p.end * fps)))
    return slice(max(0, a), min(n, b))


def _as_phone_list(phones: Iterable[Phone | Sequence]) -> list[Phone]:
    return [p if isinstance(p, Phone) else Phone(str(p[0]).upper().rstrip("012"),
                                                 float(p[1]), float(p[2])) for p in phones]


def bilabial_closure_rate(
    aperture_mm: np.ndarray,
    phones: Iterable[Phone | Sequence],
    fps: float = 60.0,
    threshold_mm: float = CLOSED_MM,
) -> float:
    """Share of /p b m/ segments whose minimum aperture is below ``threshold_mm``.

    NaN when there is no bilabial. ``aperture_mm`` is per frame (frame i at i / fps).
    """
    return closure_rate(aperture_mm, phones, BILABIALS, fps, threshold_mm)


def false_closure_rate(
    aperture_mm: np.ndarray,
    phones: Iterable[Phone | Sequence],
    fps: float = 60.0,
    threshold_mm: float = CLOSED_MM,
) -> float:
    """Share of consonants made with the lips apart (alveolar, velar, dental, postalveolar)
    whose minimum aperture is below ``threshold_mm``: the price of closing more bilabials."""
    return closure_rate(aperture_mm, phones, LIPS_APART, fps, threshold_mm)


def closure_rate(aperture_mm: np.ndarray, phones: Iterable[Phone | Sequence],
                 group: frozenset[str], fps: float = 60.0, threshold_mm: float = CLOSED_MM
                 ) -> float:
    """Share of segments of ``group`` whose minimum aperture is below ``threshold_mm``."""
    segs = [p for p in _as_phone_list(phones) if p.phone in group]
    hits = []
    for p in segs:
        sl = _frames(p, fps, len(aperture_mm))
        if sl.stop > sl.start:
            hits.append(float(np.min(aperture_mm[sl])) < threshold_mm)
    return float(np.mean(hits)) if hits else float("nan")


def vowel_closure_rate(aperture_mm: np.ndarray, phones: Iterable[Phone | Sequence],
                       fps: float = 60.0, threshold_mm: float = CLOSED_MM) -> float:
    """Share of vowels whose lips are closed (aperture below ``threshold_mm``) at the
    vowel's middle frame: lips shut where they must be open. The middle, not the minimum,
    because a vowel after /m/ or before /b/ rightly starts or ends closed."""
    hits = []
    for p in _as_phone_list(phones):
        if p.phone in VOWELS:
            k = int((p.start + p.end) / 2 * fps)
            if 0 <= k < len(aperture_mm):
                hits.append(float(aperture_mm[k]) < threshold_mm)
    return float(np.mean(hits)) if hits else float("nan")


def _mean_over(values: np.ndarray, phones: list[Phone], group: frozenset[str], fps: float) -> float:
    """Mean of per-segment means of ``values`` over segments whose phone is in ``group``."""
    means = []
    for p in phones:
        if p.phone in group:
            sl = _frames(p, fps, len(values))
            if sl.stop > sl.start:
                means.append(float(np.mean(values[sl])))
    return float(np.mean(means)) if means else float("nan")


def open_close_aperture_ratio(
    aperture_mm: np.ndarray, phones: Iterable[Phone | Sequence], fps: float = 60.0
) -> float:
    """Mean aperture on open vowels (AA AE AO AW AY) over close vowels (IY IH UW UH)."""
    ph = _as_phone_list(phones)
    open_ = _mean_over(aperture_mm, ph, OPEN_VOWELS, fps)
    close = _mean_over(aperture_mm, ph, CLOSE_VOWELS, fps)
    return open_ / max(close, 1e-3)


def rounding_ratio(
    weights: np.ndarray, phones: Iterable[Phone | Sequence], fps: float = 60.0
) -> float:
    """Mean mouthFunnel + mouthPucker on UW/OW/W over the same on IY."""
    ph = _as_phone_list(phones)
    r = weights[:, ARKIT_INDEX["mouthFunnel"]] + weights[:, ARKIT_INDEX["mouthPucker"]]
    rounded = _mean_over(r, ph, ROUNDED, fps)
    spread = _mean_over(r, ph, SPREAD, fps)
    return rounded / max(spread, 1e-3)


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Dynamic-time-warping distance between two curve sequences ``[T, C]``, normalised by
    the warping path length: the same word from two speakers differs in timing, not shape."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            choices = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
            k = int(np.argmin(choices))
            prev = ((i - 1, j - 1), (i - 1, j), (i, j - 1))[k]
            acc[i, j] = cost[i - 1, j - 1] + choices[k]
            steps[i, j] = steps[prev] + 1
    return float(acc[n, m] / steps[n, m])



def default_landmarks(rig: str | Path | None = None) -> LandmarkDistance | None:
    from facewire.rig.rig import default_rig_path

    p = Path(rig) if rig else default_rig_path()
    return LandmarkDistance.from_rig(p) if p.exists() else None


def default_aperture(rig: str | Path | None = None) -> LipAperture | None:
    from facewire.rig.rig import default_rig_path

    p = Path(rig) if rig else default_rig_path()
    return LipAperture.from_rig(p) if p.exists() else None


__all__ = [
    "ARKIT_52", "CLOSED_MM", "LandmarkDistance", "LipAperture", "bilabial_closure_rate",
    "closure_rate", "default_aperture", "default_landmarks", "dtw_distance", "false_closure_rate",
    "open_close_aperture_ratio", "rounding_ratio", "vowel_closure_rate",
]
