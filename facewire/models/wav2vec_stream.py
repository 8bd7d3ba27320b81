"""wav2vec 2.0 hidden states for a live stream: overlapping windows, each frame computed once.

wav2vec 2.0's transformer looks at the whole input in both directions, so a live stream cannot
be encoded frame by frame. Instead, every ``hop`` of new audio the encoder runs on a window of
the last ``context`` seconds, and only the frames that became final are kept: those whose
convolutional span ends at least ``margin`` before the window's end (they have seen enough
right context). Each frame is computed exactly once, by exactly one window, so the features
do not depend on how the audio was chunked, and :func:`offline` (the same windows over a
whole file) gives the same numbers.

Geometry and time follow :class:`facewire.models.wav2vec.Wav2VecFeatures` (the model used for
training): frame ``j`` covers samples ``[j * stride, j * stride + receptive)`` of the stream
and describes media time ``t0 + j / rate`` with ``t0 = receptive / sr`` and ``rate = sr /
stride`` (50 fps for standard wav2vec 2.0). Window starts and ends fall on the stride grid, so
window frame ``i`` is stream frame ``start / stride + i``. The first windows start at the
stream start and are shorter than ``context``, like the whole-clip features there.

The encoder is passed in (any callable with ``receptive``, ``stride`` and ``dim``), so this
module needs no torch itself; ``Wav2VecFeatures`` normalises each window it is given, which
here means a per-window normalisation (a whole-clip one cannot exist live).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import numpy as np


class Encoder(Protocol):
    """What the windowing needs from a wav2vec 2.0 model (Wav2VecFeatures has it)."""

    receptive: int
    stride: int
    dim: int

    def __call__(self, audio: np.ndarray) -> np.ndarray: ...


def _to_grid(seconds: float, sample_rate: int, stride: int, least: int) -> int:
    """Seconds -> samples, rounded to whole strides (at least ``least`` strides)."""
    return max(least, int(round(seconds * sample_rate / stride))) * stride


class WindowPlan:
    """The window arithmetic shared by the streaming and the offline paths."""

    def __init__(self, receptive: int, stride: int, context_s: float = 1.0, hop_s: float = 0.1,
                 margin_s: float = 0.06, sample_rate: int = 16000) -> None:
        self.receptive, self.stride, self.sample_rate = int(receptive), int(stride), sample_rate
        self.hop = _to_grid(hop_s, sample_rate, stride, 1)
        self.margin = _to_grid(margin_s, sample_rate, stride, 0)
        self.context = _to_grid(context_s, sample_rate, stride, 1)
        # the first frame a window emits must lie inside it (see frames_before)
        need = self.hop + self.margin + (math.ceil(receptive / stride) - 1) * stride
        if self.context < need:
            raise ValueError(
                f"context_s={context_s} is too short: with hop_s={hop_s}, margin_s={margin_s} "
                f"and a {receptive}-sample receptive field it must be at least "
                f"{need / sample_rate:.3f} s (more gives each frame more left context)")

    @property
    def rate(self) -> float:
        return self.sample_rate / self.stride

    @property
    def t0(self) -> float:
        return self.receptive / self.sample_rate

    def frames_before(self, end: int, margin: int) -> int:
        """How many stream frames are final once the audio up to ``end`` is known."""
        return max(0, (end - margin - self.receptive) // self.stride + 1)

    def window_start(self, end: int) -> int:
        return max(0, end - self.context) // self.stride * self.stride

    def windows(self, n_samples: int) -> Iterator[tuple[int, int, int, int]]:
        """(start, end, first, stop) of every window a stream of ``n_samples`` runs, the last
        one (ending at the stream end, no margin) included: it emits frames [first, stop)."""
        done, end = 0, self.hop
        while end <= n_samples:
            stop = self.frames_before(end, self.margin)
            if stop > done:
                yield self.window_start(end), end, done, stop
                done = stop
            end += self.hop
        stop = self.frames_before(n_samples, 0)
        if stop > done:
            yield self.window_start(n_samples), n_samples, done, stop

    @property
    def delay_s(self) -> float:
        """Algorithmic delay: the longest wait from a frame's media time (the end of its span)
        to the end of the window that computes it (hop + margin, less the grid phase)."""
        base = 10 * self.context  # steady state, away from the stream start
        j = base // self.stride + np.arange(self.hop // self.stride + 1)
        ends = j * self.stride + self.receptive
        window_end = -(-(ends + self.margin) // self.hop) * self.hop
        return float((window_end - ends).max() / self.sample_rate)

    @property
    def compute_ratio(self) -> float:
        """Seconds of audio encoded per second of stream (context / hop)."""
        return self.context / self.hop


def _encode(encoder: Encoder, plan: WindowPlan, audio: np.ndarray, start: int, first: int,
            stop: int) -> np.ndarray:
    """Run one window (``audio`` starts at stream sample ``start``); keep frames [first, stop)."""
    h = encoder(audio)
    i0 = first - start // plan.stride
    if i0 < 0 or stop - start // plan.stride > len(h):
        raise RuntimeError(f"window at sample {start} gave {len(h)} frames, frames "
                           f"{first}..{stop} expected: encoder geometry does not match")
    return np.ascontiguousarray(h[i0:stop - start // plan.stride], dtype=np.float32)


class StreamingWav2Vec:
    """Feed 16 kHz mono audio in any chunk sizes; get each wav2vec frame once it is final.

    Same interface as :class:`facewire.models.logmel.StreamingLogMel`: ``process`` returns the
    new frames, ``frames_out`` counts them (the next one is stream frame ``frames_out``).
    ``flush`` ends the stream with one last window (no margin) so every frame comes out.
    """

    def __init__(self, encoder: Encoder, context_s: float = 1.0, hop_s: float = 0.1,
                 margin_s: float = 0.06, sample_rate: int = 16000) -> None:
        self.encoder = encoder
        self.plan = WindowPlan(encoder.receptive, encoder.stride, context_s, hop_s, margin_s,
                               sample_rate)
        self.dim = int(encoder.dim)
        self.reset()

    @property
    def rate(self) -> float:
        return self.plan.rate

    @property
    def t0(self) -> float:
        return self.plan.t0

    @property
    def delay_s(self) -> float:
        return self.plan.delay_s

    def reset(self) -> None:
        """A new stream: no audio, no frames."""
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # stream sample index of _buf[0]
        self._n_in = 0
        self._next_end = self.plan.hop
        self.frames_out = 0
        self.windows_run = 0

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), np.float32)

    def _window(self, end: int, margin: int) -> np.ndarray:
        stop = self.plan.frames_before(end, margin)
        if stop <= self.frames_out:
            return self._empty()
        start = self.plan.window_start(end)
        audio = self._buf[start - self._buf_start:end - self._buf_start]
        out = _encode(self.encoder, self.plan, audio, start, self.frames_out, stop)
        self.frames_out = stop
        self.windows_run += 1
        return out

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Mono float samples in; (frames, dim) float32 out (often zero frames)."""
        x = np.asarray(samples, np.float32).ravel()
        self._buf = np.concatenate([self._buf, x])
        self._n_in += len(x)
        outs = []
        while self._n_in >= self._next_end:
            outs.append(self._window(self._next_end, self.plan.margin))
            self._next_end += self.plan.hop
        # the next window (or a flush before it) starts here or later
        keep = self.plan.window_start(self._next_end - self.plan.hop)
        if keep > self._buf_start:
            self._buf = self._buf[keep - self._buf_start:]
            self._buf_start = keep
        return np.concatenate(outs) if outs else self._empty()

    def flush(self) -> np.ndarray:
        """End of stream: the frames still waiting for right context (one window, no margin).
        Call reset() before feeding a new stream."""
        return self._window(self._n_in, 0)


def offline(encoder: Encoder, audio: np.ndarray, context_s: float = 1.0, hop_s: float = 0.1,
            margin_s: float = 0.06, sample_rate: int = 16000) -> np.ndarray:
    """A whole file through the same windows as :class:`StreamingWav2Vec` (then flushed):
    the same frames, computed from the same samples."""
    x = np.asarray(audio, np.float32).ravel()
    plan = WindowPlan(encoder.receptive, encoder.stride, context_s, hop_s, margin_s,
                      sample_rate)
    outs = [_encode(encoder, plan, x[a:e], a, first, stop)
            for a, e, first, stop in plan.windows(len(x))]
    return np.concatenate(outs) if outs else np.zeros((0, int(encoder.dim)), np.float32)
