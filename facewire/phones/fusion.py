"""Fusion of phone-driven and voice-driven curves: shapes from the words, energy from the sound.

When the phones are known (a transcript, a TTS engine) the co-articulation teacher gets lip
closures, labiodentals and rounding right every time, while a model listening to the audio
alone misses a third of real closures. The audio still knows what the phones do not: how
loud, how emphatic, how wide this speaker opens. So the mouth-shape curves come from the
teacher, the jaw's amplitude from the voice, and everything else (cheeks, brows, eyes) from
the voice.

The rule is documented in the model card ``facewire/models/weights/facewire_phone_fusion.json``
(its parameters live there): ``jawOpen = teacher jawOpen * gain`` with ``gain = voice jawOpen /
typical voice jawOpen`` clipped to a range, and ``mouthClose`` scaled by the same gain, so a
sealed lip (``mouthClose == jawOpen``) stays sealed whatever the gain. It is stateless and
frame-wise: a live node may call it one frame at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

CARD = Path(__file__).resolve().parents[1] / "models" / "weights" / "facewire_phone_fusion.json"
CARD_FORMAT = "facewire-phone-fusion-card"


@dataclass(frozen=True)
class FusionParams:
    """Parameters of the rule (see the module docstring); indices are into ARKit-52."""

    phone_channels: np.ndarray  # curves taken from the teacher
    jaw: int
    close: int
    typical_voice_jaw: float
    gain_min: float
    gain_max: float
    name: str = "facewire_phone_fusion"


def load_fusion(path: str | Path | None = None) -> FusionParams:
    """Read the fusion card (default: the shipped one); a clear error names a bad card."""
    path = Path(path) if path is not None else CARD
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read phone fusion card {path}: {exc}") from None
    if card.get("format") != CARD_FORMAT:
        raise ValueError(f"{path} is not a phone fusion card (format {card.get('format')!r}, "
                         f"expected {CARD_FORMAT!r})")
    rule = card.get("rule", {})
    unknown = [n for n in rule.get("phone_channels", []) if n not in ARKIT_INDEX]
    if unknown or "typical_voice_jaw" not in rule:
        raise ValueError(f"{path}: rule needs ARKit phone_channels and typical_voice_jaw "
                         f"(unknown names: {unknown})")
    return FusionParams(
        phone_channels=np.array([ARKIT_INDEX[n] for n in rule["phone_channels"]], np.int64),
        jaw=ARKIT_INDEX["jawOpen"], close=ARKIT_INDEX["mouthClose"],
        typical_voice_jaw=float(rule["typical_voice_jaw"]),
        gain_min=float(rule.get("gain_min", 0.5)), gain_max=float(rule.get("gain_max", 1.6)),
        name=str(card.get("name", path.stem)))


def fuse_frames(teacher: np.ndarray, voice: np.ndarray, params: FusionParams) -> np.ndarray:
    """``teacher`` and ``voice`` ``[n, 52]`` (same frames) -> fused ``[n, 52]`` float32."""
    teacher = np.asarray(teacher, np.float32).reshape(-1, len(ARKIT_52))
    voice = np.asarray(voice, np.float32).reshape(-1, len(ARKIT_52))
    if teacher.shape != voice.shape:
        raise ValueError(f"teacher {teacher.shape} and voice {voice.shape} frames differ")
    out = voice.copy()
    out[:, params.phone_channels] = teacher[:, params.phone_channels]
    gain = np.clip(voice[:, params.jaw] / max(params.typical_voice_jaw, 1e-6),
                   params.gain_min, params.gain_max)
    out[:, params.jaw] = teacher[:, params.jaw] * gain
    out[:, params.close] = teacher[:, params.close] * gain
    return np.clip(out, 0.0, 1.0)
