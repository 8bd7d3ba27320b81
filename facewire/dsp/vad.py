"""Voice activity from log-mel frame energy, and the gain that relaxes the face in silence.

An energy gate with an adaptive noise floor: a frame is speech when its energy stands
``on_db`` above the floor (and stays speech until it falls below ``off_db``, plus a short
hangover), so steady background noise raises the floor instead of opening the mouth.
"""

from __future__ import annotations

import math

import numpy as np


class EnergyGate:
    def __init__(self, frame_rate: float = 100.0, on_db: float = 12.0, off_db: float = 7.0,
                 hangover_s: float = 0.03, min_db: float = -65.0,
                 floor_rise_db_per_s: float = 3.0) -> None:
        self.on_db, self.off_db, self.min_db = on_db, off_db, min_db
        self.hangover = int(round(hangover_s * frame_rate))
        self.rise = floor_rise_db_per_s / frame_rate
        self.floor: float | None = None
        self.active = False
        self.quiet_frames = 0

    @staticmethod
    def energy_db(logmel_frames: np.ndarray) -> np.ndarray:
        """Frame energy in dB from natural-log mel powers (log-sum-exp over bands)."""
        m = logmel_frames.max(axis=1, keepdims=True)
        total = m[:, 0] + np.log(np.exp(logmel_frames - m).sum(axis=1))
        return total * (10.0 / math.log(10.0))

    def push(self, logmel_frames: np.ndarray) -> np.ndarray:
        """One bool per frame: speech or not."""
        out = np.zeros(len(logmel_frames), bool)
        for i, e in enumerate(self.energy_db(logmel_frames)):
            # the floor follows quiet frames down at once and creeps up slowly
            self.floor = e if self.floor is None else min(e, self.floor + self.rise)
            level = e - self.floor
            if self.active:
                if level < self.off_db or e < self.min_db:
                    self.quiet_frames += 1
                    if self.quiet_frames > self.hangover:
                        self.active = False
                else:
                    self.quiet_frames = 0
            elif level >= self.on_db and e >= self.min_db:
                self.active, self.quiet_frames = True, 0
            out[i] = self.active
        return out


class RelaxGain:
    """A gain that follows voice activity: quick attack, exponential release to zero."""

    def __init__(self, fps: float, attack_s: float = 0.015, release_s: float = 0.015) -> None:
        self.a_up = 1.0 - math.exp(-1.0 / (attack_s * fps))
        self.a_down = 1.0 - math.exp(-1.0 / (release_s * fps))
        self.gain = 0.0

    def step(self, speech: bool) -> float:
        target = 1.0 if speech else 0.0
        self.gain += (self.a_up if speech else self.a_down) * (target - self.gain)
        return self.gain
