"""``facewire emotion eval``: the naive sum against the fusion module, per emotion.

For every emotion at intensities 0.5 and 1.0, over held-out teacher speech with phones:

* closure: share of /p b m/ whose lip aperture (inner-lip landmarks 62/66, the evaluation's
  definition) drops below 2 mm inside the segment;
* lip error: mean distance (mm) of the 20 lip landmarks from the same speech without
  emotion, and from the ideal (speech plus the expression's own part, no secondary mouth);
* upper kept: upper-face weights (brows, eyes, cheek squint, nose) in the output over those
  of the expression, in percent.

Neutral speech itself is the reference row. Everything is measured on the ARKit weights the
bridges receive (after the least-squares map for the fusion module).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facewire.emotion.presets import PRIMARY_TABLE, UPPER_INDEX, one_hot
from facewire.messages.types import EMOTIONS
from facewire.phones.arpabet import BILABIALS
from facewire.rig.rig import LIP_LANDMARKS, Rig
from facewire.train.metrics import LipAperture, bilabial_closure_rate

INTENSITIES = (0.5, 1.0)
Method = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (speech [T,52], amounts [8]) -> [T,52]


def closure_hits(aperture: np.ndarray, phones: list) -> list[float]:
    """1/0 per bilabial segment (the metric's own definition, one segment at a time)."""
    out = []
    for p in phones:
        if str(p[0]).upper().rstrip("012") in BILABIALS:
            r = bilabial_closure_rate(aperture, [p])
            if not np.isnan(r):
                out.append(r)
    return out


class Scorer:
    """Closure, lip error and upper-face retention of one method on a set of clips."""

    def __init__(self, rig: Rig, aperture: LipAperture,
                 clips: list[tuple[str, np.ndarray, list]]) -> None:
        self.lips = rig.landmark_blendshapes()[:, list(LIP_LANDMARKS)].reshape(52, -1) * rig.mm
        self.aperture = aperture
        self.clips = clips

    def lip_mm(self, a: np.ndarray, b: np.ndarray) -> float:
        d = ((a - b) @ self.lips).reshape(len(a), -1, 3)
        return float(np.linalg.norm(d, axis=-1).mean())

    def score(self, method: Method, amounts: np.ndarray) -> dict[str, float]:
        hits, err_n, err_i, kept, want = [], [], [], [], []
        ideal_expr = amounts @ PRIMARY_TABLE
        for _, speech, phones in self.clips:
            out = method(speech, amounts)
            hits += closure_hits(self.aperture(out), phones)
            err_n.append(self.lip_mm(out, speech))
            err_i.append(self.lip_mm(out, np.clip(speech + ideal_expr, 0, 1)))
            kept.append(float(np.clip(out[:, UPPER_INDEX] - speech[:, UPPER_INDEX], 0, None)
                              .sum(1).mean()))
            want.append(float(ideal_expr[UPPER_INDEX].sum()))
        upper = 100 * np.mean(kept) / np.mean(want) if np.mean(want) > 1e-6 else float("nan")
        return {"closure": 100 * float(np.mean(hits)), "bilabials": len(hits),
                "lip_vs_neutral_mm": float(np.mean(err_n)),
                "lip_vs_ideal_mm": float(np.mean(err_i)), "upper_kept": float(upper)}


def evaluate(methods: dict[str, Method], clips: list[tuple[str, np.ndarray, list]],
             rig: Rig, aperture: LipAperture, emotions: tuple[str, ...] = EMOTIONS,
             intensities: tuple[float, ...] = INTENSITIES,
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    scorer = Scorer(rig, aperture, clips)
    rows = [{"method": "neutral speech", "emotion": "-", "intensity": 0.0,
             **scorer.score(lambda s, a: s, np.zeros(len(EMOTIONS), np.float32))}]
    for emotion in emotions:
        for intensity in intensities if emotion != "neutral" else (1.0,):
            amounts = (intensity * one_hot(emotion)).astype(np.float32)
            for name, method in methods.items():
                if progress:
                    progress(f"{name} {emotion} {intensity}")
                rows.append({"method": name, "emotion": emotion, "intensity": intensity,
                             **scorer.score(method, amounts)})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = (f"{'method':15s} {'emotion':10s} {'int':>4s} {'closure%':>8s} {'lip/neu mm':>10s} "
            f"{'lip/ideal mm':>12s} {'upper kept%':>11s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        up = "-" if np.isnan(r["upper_kept"]) else f"{r['upper_kept']:.0f}"
        lines.append(f"{r['method']:15s} {r['emotion']:10s} {r['intensity']:4.1f} "
                     f"{r['closure']:8.1f} {r['lip_vs_neutral_mm']:10.2f} "
                     f"{r['lip_vs_ideal_mm']:12.2f} {up:>11s}")
    return "\n".join(lines)


def run_eval(data: list[str], model: str | None = None, max_clips: int | None = 100,
             rig_path: str | None = None, out_json: str | None = None,
             quiet: bool = False) -> list[dict[str, Any]]:
    from facewire.emotion.data import load_speech_curves
    from facewire.emotion.runtime import FusionRuntime, naive
    from facewire.rig.rig import default_rig_path

    rig_file = Path(rig_path) if rig_path else default_rig_path()
    rig = Rig.load(rig_file)
    aperture = LipAperture.from_rig(rig_file)
    clips = [c for c in load_speech_curves(data) if c[2]]
    if max_clips:
        clips = clips[:max_clips]
    if not clips:
        raise FileNotFoundError(f"no clips with phones in {data}")
    fusion = FusionRuntime(model)
    methods: dict[str, Method] = {"naive sum": naive, "fusion": fusion.fuse}
    rows = evaluate(methods, clips, rig, aperture,
                    progress=None if quiet else (lambda s: print(f"  {s}", flush=True)))
    if out_json:
        Path(out_json).write_text(json.dumps({"data": data, "clips": len(clips),
                                              "model": str(fusion.card_path), "rows": rows},
                                             indent=1) + "\n")
    return rows
