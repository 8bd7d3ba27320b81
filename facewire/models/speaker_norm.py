"""Online speaker normalisation of log-mel frames: the running mean of a voice's speech
frames is replaced by the training voices' mean.

A log-mel frame is roughly what is said plus a voice- and channel-specific offset (vocal
tract, microphone, level). Models trained on a few hundred synthetic voices read part of
that offset as phonetics, so the same word from two real speakers animates differently.
Subtracting the speaker's mean (cepstral mean normalisation, the classic remedy) needs the
whole utterance; this version is causal: it starts from the training prior and moves towards
the speaker's own mean over speech frames only (silence would pull it towards the noise
floor), with a prior weight of ``n0`` frames and a horizon of ``horizon`` frames once the
voice is known. It keeps its state across utterances of a stream, so a live speaker is
normalised from the first seconds on; ``reset()`` starts again from the prior.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SpeakerNormConfig:
    """What the normaliser needs; stored in the model card with the feature spec."""

    prior: tuple[float, ...]  # the training voices' mean speech frame
    floor: float  # frames with a lower mean log-mel are never speech
    gate_db: float = 35.0  # speech: within this many dB of the loudest frame so far
    n0: float = 10.0  # weight of the prior, in frames (100 ms of speech)
    horizon: float = 300.0  # longest memory, in frames (3 s at 100 fps)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prior"] = [float(v) for v in self.prior]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeakerNormConfig:
        return cls(**{**d, "prior": tuple(float(v) for v in d["prior"])})


# up to this many frames a call goes frame by frame (live chunks: numpy's cost per call
# dominates), above it the gate is computed for all frames at once (offline blocks)
FEW_FRAMES = 4


class SpeakerNormaliser:
    """Causal, stateful: ``frames -> frames - speaker_mean + prior`` (float32)."""

    def __init__(self, cfg: SpeakerNormConfig) -> None:
        self.cfg = cfg
        self.prior = np.asarray(cfg.prior, np.float64)
        self._gate = cfg.gate_db / 10.0 * np.log(10.0)  # dB of power -> natural log units
        self.reset()

    def reset(self) -> None:
        self.mean = self.prior.copy()
        self.count = 0
        self.loudest = -np.inf

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """The gate (energy, loudest so far) does not depend on the mean, so for a block of
        frames it is computed for all at once; only speech frames step the mean, one at a
        time with the per-frame arithmetic (a silent frame keeps the mean before it)."""
        x = np.asarray(frames, np.float64)
        if len(x) <= FEW_FRAMES:
            return self._frame_by_frame(x)
        cfg = self.cfg
        energy = x.mean(axis=1)
        loudest = np.maximum.accumulate(np.maximum(energy, self.loudest))
        self.loudest = float(loudest[-1])
        speech = (energy > cfg.floor) & (energy > loudest - self._gate)
        mean, history = self.mean, [self.mean]  # the mean after 0, 1, 2... speech frames
        for t in np.flatnonzero(speech).tolist():
            self.count += 1
            rate = max(1.0 / (cfg.n0 + self.count), 1.0 / cfg.horizon)
            mean = mean + rate * (x[t] - mean)
            history.append(mean)
        self.mean = mean.copy()
        means = np.stack(history)[np.cumsum(speech)]  # frame t: after the speech up to t
        return (x - means + self.prior).astype(np.float32)

    def _frame_by_frame(self, x: np.ndarray) -> np.ndarray:
        """The same steps one frame at a time: cheaper for the few frames of a live chunk."""
        out = np.empty_like(x)
        cfg = self.cfg
        for t, frame in enumerate(x):
            energy = float(frame.mean())
            self.loudest = max(self.loudest, energy)
            if energy > cfg.floor and energy > self.loudest - self._gate:
                self.count += 1
                rate = max(1.0 / (cfg.n0 + self.count), 1.0 / cfg.horizon)
                self.mean = self.mean + rate * (frame - self.mean)
            out[t] = frame - self.mean + self.prior
        return out.astype(np.float32)


def check_prior_weight(n0: float) -> None:
    """``--speaker-norm-prior``: a weight of 0 frames or less would divide by zero."""
    if not n0 > 0:
        raise ValueError(f"--speaker-norm-prior {n0:g}: needs a weight above 0 frames")


def with_prior_weight(norm: dict[str, Any], n0: float) -> dict[str, Any]:
    """A normaliser config (``SpeakerNormConfig.to_dict()``) with another prior weight
    ``n0``: what ``--speaker-norm-prior`` sets on training and on export."""
    check_prior_weight(n0)
    return {**norm, "n0": float(n0)}


def speech_statistics(clips: list[np.ndarray], floor_percentile: float = 20.0,
                      gate_db: float = 35.0) -> SpeakerNormConfig:
    """A config from training features: the floor is a low percentile of all frames'
    energy, the prior the mean of the frames that pass the gate within each clip."""
    if not clips:
        raise ValueError("speaker normalisation needs training clips to take its prior from")
    energies = np.concatenate([c.mean(1) for c in clips])
    floor = float(np.percentile(energies, floor_percentile))
    gate = gate_db / 10.0 * np.log(10.0)
    speech = []
    for c in clips:
        e = c.mean(1)
        keep = (e > floor) & (e > np.maximum.accumulate(e) - gate)
        if keep.any():
            speech.append(c[keep])
    prior = np.concatenate(speech).mean(0) if speech else np.concatenate(clips).mean(0)
    return SpeakerNormConfig(prior=tuple(float(v) for v in prior), floor=floor, gate_db=gate_db)
