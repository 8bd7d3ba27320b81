"""Eased emotion transitions on the media clock: a new target is reached along a
smoothstep over ``ease_s`` seconds, never in one frame.

The eased quantity is the amount vector ``intensity * mix`` over EMOTIONS: the expression
is linear in it, so easing it eases the face. Time is the frames' media time (not the wall
clock), so replaying a bag gives the same frames at any speed (DESIGN.md §3).
"""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    """0 -> 0, 1 -> 1, zero slope at both ends (no jerk at the start or the end)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class EmotionEaser:
    """Holds the current amount vector and glides to each new target."""

    def __init__(self, amounts: np.ndarray, ease_s: float = 0.4) -> None:
        if ease_s < 0:
            raise ValueError(f"ease_s must be >= 0, got {ease_s}")
        self.ease_s = float(ease_s)
        self.start = self.target = np.asarray(amounts, np.float32).copy()
        self.t0: float | None = None  # media time the current glide started (None: at rest)
        self.last = self.target.copy()

    def set_target(self, amounts: np.ndarray, now: float | None) -> None:
        """Glide from wherever the face is now (mid-glide included) to ``amounts``."""
        self.start = self.last.copy()
        self.target = np.asarray(amounts, np.float32).copy()
        self.t0 = now  # None: start at the next frame's time

    def value(self, t: float) -> np.ndarray:
        """Amounts at media time ``t``."""
        if self.t0 is None and not np.array_equal(self.start, self.target):
            self.t0 = t
        if self.t0 is None or self.ease_s == 0.0:
            self.last = self.target.copy()
            return self.last
        if t < self.t0:  # the stream restarted (new media clock): restart the glide there
            self.t0 = t
        k = float(smoothstep((t - self.t0) / self.ease_s))
        self.last = (self.start + k * (self.target - self.start)).astype(np.float32)
        if k >= 1.0:
            self.start, self.t0 = self.target.copy(), None
        return self.last

    @property
    def moving(self) -> bool:
        return self.t0 is not None or not np.array_equal(self.start, self.target)
