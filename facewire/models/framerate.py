"""Network frames (feature rate, e.g. 100 fps) -> animation frames (60 or 30 fps).

The networks run at the feature rate; their outputs are resampled here by linear
interpolation at the animation frame times, so one network serves any animation rate and
the blendshape curves (smooth, bounded) need no learned up/down-sampling.

Time convention: source frame ``j`` describes media time ``t0 + j / src_rate``. For causal
log-mel (:mod:`facewire.models.logmel`) ``t0 = hop / sample_rate``: frame ``j`` summarises
audio up to the end of its hop block. Animation frame ``k`` describes ``k / fps`` and is
interpolated at source position ``p = (k / fps - t0) * src_rate``, clamped to frame 0 before
the first source frame. Frame ``k`` is emitted as soon as source frame ``ceil(p)`` exists,
so streaming and offline emit the same frames, computed by the same arithmetic.
"""

from __future__ import annotations

import math

import numpy as np


def _position(k: np.ndarray, src_rate: float, fps: float, t0: float) -> np.ndarray:
    """Source position of animation frames ``k``; rounded to 1e-9 so that exact grid
    coincidences (e.g. k = 3 at 60 fps from 100 fps) do not flicker by float error."""
    p = np.asarray(k, np.float64) * (src_rate / fps) - t0 * src_rate
    return np.maximum(np.round(p, 9), 0.0)


def _needed(p: np.ndarray) -> np.ndarray:
    """Last source frame index each position needs."""
    return np.ceil(p).astype(np.int64)


def n_output_frames(n_src: int, src_rate: float, fps: float, t0: float) -> int:
    """How many animation frames ``n_src`` source frames determine (O(1): the estimate is
    checked against the exact rule on its neighbours, so float error cannot shift it)."""
    if n_src <= 0:
        return 0
    est = int(math.floor(((n_src - 1) / src_rate + t0) * fps))
    k = np.arange(max(est - 2, 0), est + 3)
    ok = k[_needed(_position(k, src_rate, fps, t0)) <= n_src - 1]
    return int(ok.max()) + 1 if len(ok) else 1


def _interp(frames: np.ndarray, p: np.ndarray, offset: int) -> np.ndarray:
    i0 = np.floor(p).astype(np.int64)
    a = (p - i0)[:, None]
    i1 = np.minimum(i0 + 1, offset + len(frames) - 1)
    f0 = frames[i0 - offset].astype(np.float64)
    f1 = frames[i1 - offset].astype(np.float64)
    return ((1.0 - a) * f0 + a * f1).astype(np.float32)


def resample(frames: np.ndarray, src_rate: float, fps: float, t0: float = 0.0) -> np.ndarray:
    """Offline: all animation frames that ``frames`` (n, C) determine."""
    frames = np.asarray(frames)
    m = n_output_frames(len(frames), src_rate, fps, t0)
    if m == 0:
        return np.zeros((0,) + frames.shape[1:], np.float32)
    return _interp(frames, _position(np.arange(m), src_rate, fps, t0), 0)


class StreamingResampler:
    """Streaming twin of :func:`resample`: push source frames, get the finished frames."""

    def __init__(self, src_rate: float, fps: float, t0: float = 0.0) -> None:
        self.src_rate, self.fps, self.t0 = float(src_rate), float(fps), float(t0)
        self.reset()

    def reset(self) -> None:
        self._keep: np.ndarray | None = None  # the last source frame (interpolation partner)
        self._n_src = 0  # source frames seen
        self._k = 0  # next animation frame

    def push(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if len(frames) == 0:
            c = frames.shape[1:] if self._keep is None else self._keep.shape[1:]
            return np.zeros((0,) + tuple(c), np.float32)
        offset = self._n_src
        if self._keep is not None:
            frames = np.concatenate([self._keep, frames.astype(self._keep.dtype)])
            offset -= 1
        self._n_src += len(frames) - (1 if self._keep is not None else 0)
        m = n_output_frames(self._n_src, self.src_rate, self.fps, self.t0)
        k = np.arange(self._k, m)
        self._k = m
        self._keep = frames[-1:].copy()
        if len(k) == 0:
            return np.zeros((0,) + frames.shape[1:], np.float32)
        return _interp(frames, _position(k, self.src_rate, self.fps, self.t0), offset)


def interpolation_delay(src_rate: float, fps: float, t0: float = 0.0) -> float:
    """Worst steady-state wait (s) from an animation frame's time to the media time of the
    last source frame it needs (at most one source period)."""
    period = int(round(fps * 1000))  # enough frames to cover the rate ratio's cycle
    k = np.arange(period)
    p = np.asarray(k, np.float64) * (src_rate / fps) - t0 * src_rate
    p = np.round(p[p >= 0], 9)
    if len(p) == 0:
        return 0.0
    return float(np.max(np.ceil(p) - p) / src_rate)


def source_times(n: int, src_rate: float, t0: float = 0.0) -> np.ndarray:
    """Media times of source frames 0..n-1 (to align training targets with the network)."""
    return t0 + np.arange(n) / src_rate
