"""Streaming smoothing of animation curves: Savitzky–Golay, One Euro, or none.

Savitzky–Golay (as in the speaker-agnostic blendshape paper) is a centred polynomial fit:
a frame can be smoothed only once ``(window - 1) / 2`` later frames exist, so it delays
the stream by that many frames; the delay is stated and the output keeps each frame's own
media_time. One Euro adapts its cut-off to speed (low jitter at rest, little lag in fast
moves) and adds no delay. Channels may use different filters; all outputs are delayed to
the slowest filter so that one frame stays one moment in time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

METHODS = ("savgol", "one_euro", "none")

# Curves that move the inner lips most on the ICT rig (``LipAperture.d``): closing, opening,
# funnelling, rolling, shrugging and pressing the lips, and the jaw.
LIP_CURVES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthRollLower", "mouthRollUpper",
              "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
              "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
              "mouthLowerDownRight")

# Named settings a smoother node's ``method`` may take besides METHODS: a default spec and
# per-curve overrides. ``closure_safe`` (the live default, chosen by measurement in
# docs/validation.md): One Euro (with the given cut-off, 1 Hz at rest by default) on every
# curve except those that move the lips, which pass unsmoothed. A /b/ in connected speech closes the lips for 30-60 ms;
# One Euro at 1 Hz (a 160 ms time constant) erased most of those closures on real speech,
# while the network's own lip curves are smooth enough to need no filter.
PRESETS: dict[str, tuple[dict, dict[str, dict]]] = {
    "closure_safe": ({"method": "one_euro"},
                     {name: {"method": "none"} for name in LIP_CURVES}),
}


def expand_preset(method: str, default: dict, per_channel: dict[str, dict]
                  ) -> tuple[dict, dict[str, dict]]:
    """A preset name -> its default spec and per-curve overrides (the caller's own
    per-curve overrides win); a plain method passes through unchanged."""
    if method not in PRESETS:
        return default, per_channel
    base, per = PRESETS[method]
    return {**default, **base}, {**per, **per_channel}


@dataclass(frozen=True)
class SmootherSpec:
    method: str = "savgol"
    window: int = 5  # savgol: odd number of frames
    order: int = 2  # savgol: polynomial order < window
    min_cutoff: float = 1.0  # one_euro: Hz at rest
    beta: float = 0.05  # one_euro: cut-off increase per unit of speed
    d_cutoff: float = 1.0  # one_euro: Hz for the speed estimate

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"smoothing method must be one of {METHODS}, got {self.method!r}")
        if self.method == "savgol":
            if self.window < 3 or self.window % 2 == 0:
                raise ValueError(f"savgol window must be odd and >= 3, got {self.window}")
            if not 0 <= self.order < self.window:
                raise ValueError(f"savgol order must be in [0, window), got {self.order}")
        if self.method == "one_euro" and (self.min_cutoff <= 0 or self.beta < 0):
            raise ValueError("one_euro needs min_cutoff > 0 and beta >= 0")

    @property
    def delay_frames(self) -> int:
        return (self.window - 1) // 2 if self.method == "savgol" else 0


def savgol_weights(window: int, order: int) -> np.ndarray:
    """scipy.signal.savgol_coeffs(window, order, use="dot") in numpy alone: importing
    scipy.signal takes over a second, which a respawned smoother cannot spend."""
    x = np.arange(window) - (window - 1) / 2  # centred (between two frames when even)
    a = x[None, :] ** np.arange(order + 1)[:, None]  # (order + 1, window)
    unit = np.zeros(order + 1)
    unit[0] = 1.0  # the fitted polynomial's value at the centre
    return np.linalg.lstsq(a, unit, rcond=None)[0]


@lru_cache(maxsize=32)
def _shared_weights(window: int, order: int) -> np.ndarray:
    """savgol_weights once per (window, order): offline runs build smoothers per file, and
    the least-squares solve cost more than a second of frames. Read-only, as it is shared."""
    coeffs = savgol_weights(window, order)
    coeffs.flags.writeable = False
    return coeffs


class _SavGol:
    def __init__(self, spec: SmootherSpec, width: int) -> None:
        self.coeffs = _shared_weights(spec.window, spec.order)
        self.half = spec.delay_frames
        self.buf: deque[np.ndarray] = deque(maxlen=spec.window)
        self.pushed = 0
        self.emitted = 0

    def _add(self, x: np.ndarray) -> np.ndarray | None:
        self.buf.append(x)
        if len(self.buf) < self.buf.maxlen:
            return None
        self.emitted += 1
        return self.coeffs @ np.asarray(self.buf)

    def push(self, x: np.ndarray) -> np.ndarray | None:
        if not self.buf:  # start: repeat the first frame into the past
            self.buf.extend([x] * self.half)
        self.pushed += 1
        return self._add(x)

    def flush(self) -> list[np.ndarray]:
        """End of stream: repeat the last frame into the future for the pending frames."""
        out = []
        while self.emitted < self.pushed:
            y = self._add(self.buf[-1])
            if y is not None:
                out.append(y)
        return out


class _OneEuro:
    """Casiez et al. 2012, per channel, with dt from the frames' media times."""

    def __init__(self, spec: SmootherSpec, width: int) -> None:
        self.spec = spec
        self.x: np.ndarray | None = None
        self.dx = np.zeros(width)
        self.t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def push(self, x: np.ndarray, t: float) -> np.ndarray:
        if self.x is None or self.t is None or t <= self.t:
            self.x, self.t = x.copy(), t
            return x
        dt = t - self.t
        dx = (x - self.x) / dt
        self.dx = self.dx + self._alpha(self.spec.d_cutoff, dt) * (dx - self.dx)
        cutoff = self.spec.min_cutoff + self.spec.beta * np.abs(self.dx)
        self.x = self.x + self._alpha(cutoff, dt) * (x - self.x)
        self.t = t
        return self.x


class CurveSmoother:
    """Frames in (values, media_time), smoothed frames out, aligned to one delay."""

    def __init__(self, width: int, default: SmootherSpec, per_channel: dict[int, SmootherSpec]
                 | None = None) -> None:
        specs = [default] * width
        for ch, spec in (per_channel or {}).items():
            specs[ch] = spec
        groups: dict[SmootherSpec, list[int]] = {}
        for ch, spec in enumerate(specs):
            groups.setdefault(spec, []).append(ch)
        self.width = width
        self.groups = [(spec, np.array(chs)) for spec, chs in groups.items()]
        self.delay_frames = max(spec.delay_frames for spec in specs)
        self._filters = [self._make(spec, len(chs)) for spec, chs in self.groups]
        # per group: frames it has produced but that wait for the slowest group
        self._pending: list[deque[np.ndarray]] = [deque() for _ in self.groups]
        self._times: deque[float] = deque()
        # one filter for every channel (no per-channel overrides, the usual case): frames
        # need no splitting into groups and joining again (same values, less per frame)
        self._whole = len(self.groups) == 1

    @staticmethod
    def _make(spec: SmootherSpec, width: int) -> _SavGol | _OneEuro | None:
        if spec.method == "savgol":
            return _SavGol(spec, width)
        if spec.method == "one_euro":
            return _OneEuro(spec, width)
        return None

    def push(self, values: np.ndarray, media_time: float) -> list[tuple[np.ndarray, float]]:
        """One frame in; zero or more (smoothed frame, its media_time) out."""
        values = np.asarray(values, np.float64)
        self._times.append(media_time)
        for (_, chs), filt, pend in zip(self.groups, self._filters, self._pending):
            x = values.copy() if self._whole else values[chs]
            if filt is None:
                pend.append(x)
            elif isinstance(filt, _OneEuro):
                pend.append(filt.push(x, media_time))
            else:
                y = filt.push(x)
                if y is not None:
                    pend.append(y)
        return self._emit()

    def flush(self) -> list[tuple[np.ndarray, float]]:
        for filt, pend in zip(self._filters, self._pending):
            if isinstance(filt, _SavGol):
                pend.extend(filt.flush())
        return self._emit()

    def _emit(self) -> list[tuple[np.ndarray, float]]:
        out = []
        while self._times and all(self._pending):
            if self._whole:
                out.append((self._pending[0].popleft(), self._times.popleft()))
                continue
            frame = np.empty(self.width)
            for (_, chs), pend in zip(self.groups, self._pending):
                frame[chs] = pend.popleft()
            out.append((frame, self._times.popleft()))
        return out
