"""smoother node: Blendshapes in, smoothed Blendshapes out (Savitzky–Golay, One Euro, none).

Each output frame keeps the media_time and capture_ns of the frame it describes, so the
smoothing delay shows up where it belongs: in the bridge's send time minus capture_ns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from facewire.bus.clock import StreamClock
from facewire.bus.node import Input, Node, Output, Param
from facewire.dsp.smoothing import METHODS, PRESETS, CurveSmoother, SmootherSpec, expand_preset
from facewire.messages.types import Blendshapes
from facewire.rig.arkit import NAME_SETS
from facewire.subjects import DEFAULT_MAX_SUBJECTS, LruDict

MAX_HELD = 1024  # capture times held per subject (frames inside the smoothing window)


def build_smoother(names: tuple[str, ...], default: dict[str, Any],
                   per_channel: dict[str, dict[str, Any]]) -> CurveSmoother:
    """A CurveSmoother from parameter dicts; per_channel keys are curve names."""
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(per_channel) - set(index))
    if unknown:
        raise ValueError(f"per_channel names unknown curves: {unknown}")
    base = SmootherSpec(**default)
    overrides = {index[n]: SmootherSpec(**{**default, **spec}) for n, spec in per_channel.items()}
    return CurveSmoother(len(names), base, overrides)


class Smoother(Node):
    inputs = {"input": Input(Blendshapes)}
    outputs = {"output": Output(Blendshapes)}
    params = {
        "method": Param(str, "savgol", "savgol | one_euro | none | closure_safe (one_euro, "
                        "lip curves unsmoothed)", choices=METHODS + tuple(PRESETS)),
        "window": Param(int, 5, "savgol window (odd, frames)", min=3),
        "order": Param(int, 2, "savgol polynomial order", min=0),
        "min_cutoff": Param(float, 1.0, "one_euro cut-off at rest (Hz)", min=1e-3),
        "beta": Param(float, 0.05, "one_euro speed coefficient", min=0.0),
        "per_channel": Param(dict, {}, "curve name -> {method, window, ...} overrides"),
        "fps": Param(float, 60.0, "frame rate, to state the delay in seconds", min=1.0),
        "max_subjects": Param(int, DEFAULT_MAX_SUBJECTS, "subjects whose filters are kept; "
                              "the least recently seen one is flushed and freed", min=1),
    }

    def on_start(self) -> None:
        self.default, self.per_channel = expand_preset(self.p.method, {
            "method": self.p.method, "window": self.p.window, "order": self.p.order,
            "min_cutoff": self.p.min_cutoff, "beta": self.p.beta}, self.p.per_channel)
        # per-subject state is bounded: one LRU table decides, the other maps follow it
        self.smoothers: LruDict = LruDict(self.p.max_subjects, self._evict)
        probe = build_smoother(NAME_SETS["arkit52"], self.default, self.per_channel)
        self.delay_s = probe.delay_frames / self.p.fps
        self.captures: dict[str, StreamClock] = {}  # per subject: its frames' capture times
        self.formats: dict[str, tuple[str, float]] = {}

    def _evict(self, key: str, smoother: CurveSmoother) -> None:
        self._send(key, smoother.flush())
        for table in (self.captures, self.formats):
            table.pop(key, None)
        self.counters["subjects_evicted"] += 1

    def on_input(self, msg: Blendshapes) -> None:
        # in-process graphs skip the codec's checks: one NaN would poison the filter state
        if not math.isfinite(msg.header.media_time) or not np.isfinite(msg.weights).all():
            self.counters["non_finite"] += 1
            return
        if msg.weights.size == 0:
            self.counters["empty"] += 1
            return
        key = msg.subject
        smoother = self.smoothers.use(key)
        # a frame not later than the last starts the stream again (a loop, a new take)
        if smoother is None or self.captures[key].starts_stream(msg.header.media_time):
            names = NAME_SETS.get(msg.name_set)
            if names is None or len(names) != msg.weights.size:
                names = tuple(f"c{i}" for i in range(msg.weights.size))
            per_channel = self.per_channel if msg.name_set in NAME_SETS else {}
            smoother = self.smoothers[key] = build_smoother(names, self.default, per_channel)
            self.captures[key] = StreamClock(keep=MAX_HELD)
        self.captures[key].arrive(msg.header)
        self.formats[key] = (msg.name_set, msg.fps)
        self._send(key, smoother.push(msg.weights, msg.header.media_time))

    def _send(self, key: str, frames: list[tuple[np.ndarray, float]]) -> None:
        if not frames:
            return
        name_set, fps = self.formats[key]
        clock = self.captures[key]
        # usually one frame: no stack, and ndarray.clip (np.clip's dispatch costs more than
        # clipping 52 values); the same values either way
        values = (frames[0][0][None] if len(frames) == 1 else np.stack([v for v, _ in frames])
                  ).clip(0.0, 1.0).astype(np.float32)
        for w, (_, media_time) in zip(values, frames):
            self.publish("output", Blendshapes(
                weights=w, name_set=name_set, fps=fps, subject=key,
                header=clock.stamp_at(media_time)))

    def end_of_stream(self) -> None:
        for key, smoother in list(self.smoothers.items()):
            self._send(key, smoother.flush())
