"""A take's emotion: the speech (and words) take fused with one emotion, offline.

``facewire batch`` rows and ``facewire animate --emotion`` hold one emotion for the whole
take. It is applied after the speech and words paths, through the fusion module the live
``emotion`` node runs (``FusionRuntime``, seed 004), so the expression keeps its brows, eyes
and mouth corners while the lips still close on /p b m/. No emotion, ``neutral`` or
intensity 0 leaves the take untouched (the fusion's own reconstruction error never reaches
a neutral take).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from facewire.emotion.presets import EMOTION_INDEX, check_intensity, emotion_index, one_hot
from facewire.emotion.runtime import FusionRuntime, resolve_fusion
from facewire.messages.types import Blendshapes

if TYPE_CHECKING:  # the graph's nodes are not needed to fuse, nor to hash a line
    from facewire.offline import Take

# the emotion node's default intensity (its ``intensity`` parameter): a name without one
DEFAULT_INTENSITY = 0.5


def emotion_amounts(emotion: str, intensity: float | None) -> np.ndarray | None:
    """``intensity * one-hot(emotion)`` over EMOTIONS, as the node builds it from its
    parameters, or None when the take stays neutral. EmotionError on a bad name or value."""
    x = check_intensity(DEFAULT_INTENSITY if intensity is None else intensity)
    if not emotion:
        return None
    amounts = (x * one_hot(emotion)).astype(np.float32)
    return None if x == 0.0 or emotion_index(emotion) == EMOTION_INDEX["neutral"] else amounts


@lru_cache(maxsize=4)
def shared_fusion(model: str = "") -> FusionRuntime:
    """One fusion session per process and model (a batch worker reuses it)."""
    return FusionRuntime(model or None)


@lru_cache(maxsize=4)
def fusion_digest(model: str = "") -> str:
    """sha256 over the fusion model's card and ONNX bytes: a new model redoes emotional lines."""
    card = resolve_fusion(model or None)
    h = hashlib.sha256(card.read_bytes())
    h.update((card.parent / card.with_suffix(".onnx").name).read_bytes())
    return h.hexdigest()


def apply_emotion(take: Take, emotion: str, intensity: float | None = None,
                  model: str = "") -> Take:
    """The take fused with ``emotion`` at ``intensity`` (default DEFAULT_INTENSITY); its
    Blendshapes messages carry the fused weights so that the bag shows what the CSV has.
    ``take.emotion`` / ``take.intensity`` record what was applied ("" / 0 for none)."""
    amounts = emotion_amounts(emotion, intensity)
    if amounts is None or len(take.weights) == 0:
        return take
    fused = shared_fusion(model).fuse(take.weights, amounts).astype(np.float32)
    take.weights = fused
    i = 0
    for k, (topic, msg) in enumerate(take.messages):
        if isinstance(msg, Blendshapes) and i < len(fused):
            take.messages[k] = (topic, msg.with_fields(weights=fused[i]))
            i += 1
    take.emotion = emotion.strip().lower()
    take.intensity = check_intensity(DEFAULT_INTENSITY if intensity is None else intensity)
    return take
