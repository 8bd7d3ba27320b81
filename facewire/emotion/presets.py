"""The eight emotions as ARKit weight sets, and how a control message becomes one.

Each preset is split in two on purpose: ``PRIMARY`` is the expression itself (brows, eyes,
cheeks, mouth corners) and ``SECONDARY`` the mouth deformations that come with it in real
faces (surprise drops the jaw, a broad smile lifts the upper lip and parts the lips). A
naive sum of speech and ``expression_weights`` carries both, which is what opens the lips
on /p b m/; the fusion module learns to drop the secondary part (seed 004, Fig. 6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from facewire.messages.types import EMOTIONS
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

N_EMOTIONS = len(EMOTIONS)
EMOTION_INDEX = {name: i for i, name in enumerate(EMOTIONS)}


class EmotionError(ValueError):
    """A control value that cannot be turned into an expression; says what is allowed."""


def _sym(**groups: float) -> dict[str, float]:
    """``mouthSmile=0.6`` -> Left and Right; plain ARKit names pass through."""
    out: dict[str, float] = {}
    for name, value in groups.items():
        if name in ARKIT_INDEX:
            out[name] = value
        elif name + "Left" in ARKIT_INDEX:
            out[name + "Left"] = out[name + "Right"] = value
        else:
            raise KeyError(name)
    return out


# Expressions at intensity 1 (FACS-style prototypes; Ekman's action units mapped to ARKit).
PRIMARY: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": _sym(mouthSmile=0.75, cheekSquint=0.55, eyeSquint=0.35, mouthDimple=0.2),
    "sad": {**_sym(mouthFrown=0.6, browDown=0.1, eyeSquint=0.15, eyeLookDown=0.15),
            "browInnerUp": 0.75, "mouthShrugLower": 0.15},
    "angry": _sym(browDown=0.85, eyeSquint=0.45, noseSneer=0.35, mouthPress=0.3, mouthFrown=0.2),
    "surprised": {**_sym(browOuterUp=0.85, eyeWide=0.75), "browInnerUp": 0.8},
    "fearful": {**_sym(browOuterUp=0.45, eyeWide=0.7, mouthStretch=0.35, mouthFrown=0.1),
                "browInnerUp": 0.85},
    # ICT's noseSneer lifts the upper lip (3 mm per unit): most of a strong sneer is
    # a mouth deformation on this rig and goes with the secondary part below
    "disgusted": {**_sym(noseSneer=0.35, browDown=0.45, cheekSquint=0.35, mouthFrown=0.3,
                         eyeSquint=0.3), "mouthShrugLower": 0.15},
    "contempt": {"mouthSmileLeft": 0.45, "mouthDimpleLeft": 0.4, "cheekSquintLeft": 0.2,
                 "eyeSquintLeft": 0.1, "browDownRight": 0.15},
}

# Secondary mouth deformations that come with the expression and open the lips.
SECONDARY: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": _sym(mouthUpperUp=0.35, mouthLowerDown=0.25, mouthStretch=0.1) | {"jawOpen": 0.06},
    "sad": {"jawOpen": 0.05},
    "angry": _sym(mouthUpperUp=0.25) | {"jawOpen": 0.08},
    "surprised": {"jawOpen": 0.35, "mouthFunnel": 0.15, **_sym(mouthLowerDown=0.2)},
    "fearful": {"jawOpen": 0.2, **_sym(mouthLowerDown=0.3, mouthUpperUp=0.1)},
    "disgusted": _sym(mouthUpperUp=0.55, noseSneer=0.4) | {"jawOpen": 0.05},
    "contempt": {"mouthUpperUpLeft": 0.15},
}

UPPER_FACE: tuple[str, ...] = tuple(
    n for n in ARKIT_52 if n.startswith(("brow", "eye", "cheekSquint", "noseSneer")))
UPPER_INDEX = np.array([ARKIT_INDEX[n] for n in UPPER_FACE])
LOWER_FACE: tuple[str, ...] = tuple(n for n in ARKIT_52 if n not in UPPER_FACE)


def _table(src: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    out = np.zeros((N_EMOTIONS, len(ARKIT_52)), np.float32)
    for e, curves in src.items():
        for name, v in curves.items():
            out[EMOTION_INDEX[e], ARKIT_INDEX[name]] = v
    return out


PRIMARY_TABLE = _table(PRIMARY)  # [8, 52]
SECONDARY_TABLE = _table(SECONDARY)  # [8, 52]
PRESET_TABLE = PRIMARY_TABLE + SECONDARY_TABLE  # what an expression dataset would record


def check_intensity(intensity: float) -> float:
    try:
        x = float(intensity)
    except (TypeError, ValueError):
        raise EmotionError(f"intensity must be a number in [0, 1], got {intensity!r}") from None
    if not math.isfinite(x) or not 0.0 <= x <= 1.0:
        raise EmotionError(f"intensity must be in [0, 1], got {intensity!r}")
    return x


def emotion_index(name: str) -> int:
    key = str(name).strip().lower()
    if key not in EMOTION_INDEX:
        raise EmotionError(f"unknown emotion {name!r}; known: {', '.join(EMOTIONS)}")
    return EMOTION_INDEX[key]


def mix_vector(weights: np.ndarray | Sequence[float]) -> np.ndarray:
    """Validate weights over EMOTIONS and normalise them to sum 1 (intensity carries the
    amount). All zero means neutral."""
    w = np.asarray(weights, np.float64)
    if w.shape != (N_EMOTIONS,):
        raise EmotionError(f"emotion weights must have {N_EMOTIONS} values "
                           f"({', '.join(EMOTIONS)}), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise EmotionError("emotion weights must be finite (got NaN or inf)")
    if np.any(w < 0):
        raise EmotionError(f"emotion weights must be >= 0, got {w.round(3).tolist()}")
    total = w.sum()
    if total <= 0:
        w = np.zeros(N_EMOTIONS)
        w[EMOTION_INDEX["neutral"]] = 1.0
        return w.astype(np.float32)
    return (w / total).astype(np.float32)


def parse_mix(spec: str) -> np.ndarray:
    """``"happy"`` or ``"happy:0.6,surprised:0.4"`` -> normalised weights over EMOTIONS."""
    w = np.zeros(N_EMOTIONS)
    for part in str(spec).split(","):
        name, _, value = part.partition(":")
        i = emotion_index(name)
        try:
            w[i] += float(value) if value else 1.0
        except ValueError:
            raise EmotionError(f"emotion weight {value!r} for {name.strip()!r} is not a "
                               "number") from None
    return mix_vector(w)


def expression_weights(mix: np.ndarray, intensity: float,
                       table: np.ndarray = PRESET_TABLE) -> np.ndarray:
    """ARKit weights ``[..., 52]`` of an emotion mix ``[..., 8]`` at ``intensity``."""
    return (np.asarray(intensity, np.float32)[..., None]
            * (np.asarray(mix, np.float32) @ table)).astype(np.float32)


def one_hot(name: str) -> np.ndarray:
    w = np.zeros(N_EMOTIONS, np.float32)
    w[emotion_index(name)] = 1.0
    return w
