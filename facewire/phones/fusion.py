"""Fusion of the words path and the voice path: teacher curves on known phones + the
audio-only model's curves -> one ARKit-52 take.

Known words give the timing and identity of every phone, which audio alone guesses badly on
real voices (62-64 % of real /p b m/ closed by the networks, 100 % by the teacher
on aligned phones). The voice carries what the phones cannot: how loud and how wide a
speaker opens, and every curve the teacher does not drive (brows, eyes, cheeks). The blend is
a documented rule, not a network, and it is frame-wise (each output frame depends only on
the two input frames at that time), so a live node can call it per frame with no delay:

* ``mouthClose`` comes from the teacher's seal: ``seal = mouthClose / jawOpen`` of the
  teacher (1 on a bilabial, 0 elsewhere), applied to the fused jaw, so a closure stays
  closed whatever the voice's jaw does, and the voice cannot close lips on a vowel.
* lips (press, roll, shrug, upper-up, lower-down: bilabials and labiodentals), rounding
  (funnel, pucker), spread (stretch, smile) and the tongue: a linear blend per group, the
  phone weight near 1 (the phones decide the shape).
* ``jawOpen``: a weighted geometric mean of the teacher's and the voice's jaw times a gain:
  the phones set the open/close contrast of vowels, the voice scales it frame by frame with
  loudness and style. Under a seal the teacher's jaw is used, so lips never close over a
  wide-open jaw.
* the other 52 - 18 curves: the voice's, unchanged.

Parameters live in a model card (``facewire/models/weights/facewire_phone_fusion.json``)
with the figures that chose them (docs/models.md, "Words path: why this design").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from facewire.rig.arkit import ARKIT_INDEX

CARD_PATH = (Path(__file__).resolve().parents[1] / "models" / "weights"
             / "facewire_phone_fusion.json")
CARD_FORMAT = "facewire-phone-fusion-card"

# Curve groups of the teacher (facewire.phones.teacher.TARGETS); jawOpen and mouthClose
# are handled on their own.
LIPS = ("mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
        "mouthShrugLower", "mouthShrugUpper", "mouthUpperUpLeft", "mouthUpperUpRight",
        "mouthLowerDownLeft", "mouthLowerDownRight")
ROUNDING = ("mouthFunnel", "mouthPucker")
SPREAD = ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")
TONGUE = ("tongueOut",)
JAW = ARKIT_INDEX["jawOpen"]
CLOSE = ARKIT_INDEX["mouthClose"]
JAW_FLOOR = 0.02  # keeps the geometric mean defined (and smooth) where one jaw is 0
SEAL_MIN_JAW = 1e-3  # teacher jaw below this: no seal can be read from it


def _idx(names: tuple[str, ...]) -> np.ndarray:
    return np.array([ARKIT_INDEX[n] for n in names], dtype=np.intp)


_POSITIVE = {"jaw_gain": 3.0, "seal_sharpness": 8.0}  # not weights: in (0, upper bound]


@dataclass(frozen=True)
class FusionParams:
    """How much each curve group follows the phones (1) or the voice (0), and the jaw blend.

    ``jaw_phone_weight`` is the exponent share of the teacher in the geometric mean of the
    two jaws; ``jaw_gain`` scales the result (the teacher's table is drawn for a moderate
    speaker); ``seal_sharpness`` raises the teacher's seal to this power, so a half-formed
    seal in a short vowel between bilabials (aligned phones are coarse) lets the lips part.
    Weights lie in [0, 1], the gain in (0, 3], the sharpness in (0, 8].
    """

    lips_phone_weight: float = 1.0
    rounding_phone_weight: float = 1.0
    spread_phone_weight: float = 0.8
    tongue_phone_weight: float = 1.0
    jaw_phone_weight: float = 0.4  # the card's (scripts/tune_fusion.py)
    jaw_gain: float = 1.0
    seal_sharpness: float = 3.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            positive = f.name in _POSITIVE
            hi = _POSITIVE.get(f.name, 1.0)
            lo_ok = v > 0 if positive else v >= 0
            if not (isinstance(v, (int, float)) and np.isfinite(v) and lo_ok and v <= hi):
                raise ValueError(f"fusion parameter {f.name}={v!r} is out of range "
                                 f"({'(0' if positive else '[0'}, {hi:g}]); "
                                 "fix it in the fusion card")

    @classmethod
    def from_dict(cls, d: dict) -> FusionParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fusion parameters {unknown}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in d.items()})

    def to_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


def load_fusion(path: str | Path | None = None) -> FusionParams:
    """The fusion parameters of a card (``None``: the shipped card)."""
    p = Path(path) if path is not None else CARD_PATH
    try:
        card = json.loads(p.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: fusion card not found; pass an existing "
                                f"card or none for the shipped one") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not a JSON fusion card ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(f"{p}: not a fusion card (format must be {CARD_FORMAT!r})")
    return FusionParams.from_dict(card.get("params") or {})


_GROUPS = ((_idx(LIPS), "lips_phone_weight"), (_idx(ROUNDING), "rounding_phone_weight"),
           (_idx(SPREAD), "spread_phone_weight"), (_idx(TONGUE), "tongue_phone_weight"))


def fuse_frames(teacher: np.ndarray, voice: np.ndarray,
                params: FusionParams | None = None) -> np.ndarray:
    """Fuse ``(n, 52)`` teacher and voice curves at the same frame times -> ``(n, 52)``
    float32. Frame-wise: any row can be computed alone (a live node calls it per frame)."""
    p = params or FusionParams()
    t = np.asarray(teacher, np.float32)
    v = np.asarray(voice, np.float32)
    if t.ndim == 1:
        t = t[None]
    if v.ndim == 1:
        v = v[None]
    if t.shape != v.shape or t.shape[-1] != 52:
        raise ValueError(f"fuse_frames needs teacher and voice of the same shape (n, 52), "
                         f"got {t.shape} and {v.shape}")
    out = v.copy()
    for idx, name in _GROUPS:
        w = getattr(p, name)
        out[:, idx] = w * t[:, idx] + (1.0 - w) * v[:, idx]
    tj, vj = np.clip(t[:, JAW], 0, 1), np.clip(v[:, JAW], 0, 1)
    a = p.jaw_phone_weight
    jaw = p.jaw_gain * ((tj + JAW_FLOOR) ** a * (vj + JAW_FLOOR) ** (1.0 - a)) - JAW_FLOOR
    seal = np.where(tj > SEAL_MIN_JAW, np.clip(t[:, CLOSE], 0, None) / np.maximum(tj, SEAL_MIN_JAW),
                    0.0)
    seal = np.clip(seal, 0.0, 1.0) ** p.seal_sharpness
    jaw = seal * tj + (1.0 - seal) * np.clip(jaw, 0.0, 1.0)
    out[:, JAW] = jaw
    out[:, CLOSE] = seal * jaw
    return np.clip(out, 0.0, 1.0).astype(np.float32)
