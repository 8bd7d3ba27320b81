"""Training data for the fusion module, as ARKit weight vectors on the rig.

Three kinds of frames, mirroring seed 004's two datasets plus what synthetic data can add:

* speech frames: teacher curves of a speech corpus (``facewire data synth``), plus a little
  free lower-face motion so the speech blendshapes span every curve a predictor may send,
  plus a *secondary* expression (speakers are seldom perfectly neutral);
* expression frames from short sequences (onset, apex, offset) of each emotion with an
  identity's style (per-curve gains) and intensity, plus their *secondary* mouth
  deformations, whose timing and amount vary on their own (the jaw of a surprise comes
  and goes faster than the brows);
* their clean combination: speech without its secondary part plus the expression without
  its own, i.e. what an emotional speaker does, lips closing on /p b m/.

Deformations are ``weights @ rig basis``, so frames stay 52-vectors until the model maps
them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.emotion.easing import smoothstep
from facewire.emotion.presets import (
    LOWER_FACE,
    N_EMOTIONS,
    PRIMARY_TABLE,
    SECONDARY_TABLE,
)
from facewire.rig.arkit import ARKIT_INDEX

LOWER_INDEX = np.array([ARKIT_INDEX[n] for n in LOWER_FACE if n != "tongueOut"])


def load_speech_curves(folders: Sequence[str | Path], max_clips: int | None = None
                       ) -> list[tuple[str, np.ndarray, list | None]]:
    """``(id, curves [T, 52], phones)`` of corpora in the ``facewire data synth`` layout,
    read without their audio."""
    if not folders:
        raise FileNotFoundError("no speech corpus given: pass --data DIR (a corpus built with "
                                "'facewire data synth')")
    out = []
    for folder in map(Path, folders):
        manifest = folder / "manifest.jsonl"
        if not manifest.exists():
            raise FileNotFoundError(f"{folder}: no manifest.jsonl (build a corpus with "
                                    "'facewire data synth')")
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            c = json.loads(line)
            out.append((str(c["id"]), np.load(folder / c["curves"]).astype(np.float32),
                        c.get("phones")))
            if max_clips and len(out) >= max_clips:
                return out
    if not out:
        raise FileNotFoundError(f"no clips in {list(folders)}")
    return out


@dataclass
class ExpressionSequence:
    """One performed expression: per-frame primary and secondary ARKit weights."""

    emotion: np.ndarray  # [8] mix
    intensity: float
    primary: np.ndarray  # [T, 52]
    secondary: np.ndarray  # [T, 52]

    @property
    def weights(self) -> np.ndarray:
        return self.primary + self.secondary


def identity_style(rng: np.random.Generator, spread: float = 0.25) -> np.ndarray:
    """Per-curve gains of one person's way of making the expressions (~1 +- spread)."""
    return np.exp(rng.normal(0.0, spread, 52)).astype(np.float32)


def expression_sequence(mix: np.ndarray, intensity: float, n_frames: int,
                        rng: np.random.Generator, style: np.ndarray | None = None,
                        fps: float = 60.0) -> ExpressionSequence:
    """Onset, apex and offset of an expression; the secondary mouth part has its own
    timing and a random amount (0.3-1.5 of the preset's)."""
    t = np.arange(n_frames) / fps
    dur = n_frames / fps

    def envelope(on: float, off: float, rise: float, fall: float) -> np.ndarray:
        return (smoothstep((t - on) / max(rise, 1e-3))
                * (1.0 - smoothstep((t - off) / max(fall, 1e-3))))

    env_p = envelope(rng.uniform(0, 0.2) * dur, rng.uniform(0.6, 1.0) * dur,
                     rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4))
    env_s = envelope(rng.uniform(0, 0.5) * dur, rng.uniform(0.3, 1.0) * dur,
                     rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.3))
    env_s = env_s * rng.uniform(0.3, 1.5) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4)
                                                               * t + rng.uniform(0, 6)))
    g = np.ones(52, np.float32) if style is None else style
    prim = intensity * np.asarray(mix, np.float32) @ PRIMARY_TABLE * g
    sec = intensity * np.asarray(mix, np.float32) @ SECONDARY_TABLE * g
    return ExpressionSequence(np.asarray(mix, np.float32), float(intensity),
                              np.clip(env_p[:, None] * prim, 0, 1).astype(np.float32),
                              np.clip(env_s[:, None] * sec, 0, 1).astype(np.float32))


def random_mix(rng: np.random.Generator, p_blend: float = 0.3) -> np.ndarray:
    w = np.zeros(N_EMOTIONS, np.float32)
    w[rng.integers(N_EMOTIONS)] = 1.0
    if rng.random() < p_blend:
        w[rng.integers(N_EMOTIONS)] += rng.uniform(0.2, 1.0)
    return w / w.sum()


class FusionData:
    """Endless batches of (speech, expression, clean combination) ARKit weight vectors."""

    def __init__(self, speech_curves: Sequence[np.ndarray], seed: int = 0,
                 n_sequences: int = 400, seq_frames: int = 90) -> None:
        self.rng = np.random.default_rng(seed)
        self.speech = np.concatenate(list(speech_curves)).astype(np.float32)
        frames_p, frames_s = [], []
        for _ in range(n_sequences):
            seq = expression_sequence(random_mix(self.rng), float(self.rng.uniform(0.2, 1.0)),
                                      seq_frames, self.rng, identity_style(self.rng))
            frames_p.append(seq.primary)
            frames_s.append(seq.secondary)
        self.expr_primary = np.concatenate(frames_p)
        self.expr_secondary = np.concatenate(frames_s)

    def batch(self, n: int) -> dict[str, np.ndarray]:
        rng = self.rng
        clean = self.speech[rng.integers(len(self.speech), size=n)].copy()
        free = rng.random((n, len(LOWER_INDEX))) < 0.15  # free lower-face motion
        clean[:, LOWER_INDEX] += free * rng.uniform(0, 0.3, (n, len(LOWER_INDEX)))
        clean = np.clip(clean, 0, 1)
        # speakers' own expression: a weak emotion on half of the frames
        amount = rng.uniform(0, 0.35, n) * (rng.random(n) < 0.5)
        mixes = np.stack([random_mix(rng) for _ in range(n)])
        speech_sec = (amount[:, None] * mixes) @ PRIMARY_TABLE
        j = rng.integers(len(self.expr_primary), size=n)
        prim, sec = self.expr_primary[j], self.expr_secondary[j]
        return {"speech": np.clip(clean + speech_sec, 0, 1).astype(np.float32),
                "expr": np.clip(prim + sec, 0, 1).astype(np.float32),
                "target": np.clip(clean + prim, 0, 1).astype(np.float32),
                "speech_clean": clean.astype(np.float32)}
