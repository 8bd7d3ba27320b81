"""Real-voice checks on the FACEGOOD captures: does the model close the lips when a real
face did, and does its jaw follow the real jaw?

Synthetic held-out voices overstate closure (a synthesiser's /b/ is clean silence; a
person's is often a short, voiced, reverberant dip), so model choices are judged on real
speech too. FACEGOOD is real Mandarin speech with the speaker's captured rig curves
(``load_facegood``); no shipped model trained on it. Its lips are "closed" where the ICT
rig posed with the captured curves has an inner-lip aperture under 2 mm, as ``facewire
eval`` scores closure everywhere else.

* ``fg_closure``: share of the captured closure events (closed runs with open lips on both
  sides: lip contacts and the pauses between syllables and phrases) during which the
  model's aperture also drops under 2 mm, with ``TOLERANCE_S`` of slack either side for the
  30 fps capture's timing;
* ``fg_closure_short``: the same over the short events only (at most ``MAX_EVENT_S``, at
  least one 30 fps capture frame): closures inside running speech, the hard ones;
* ``fg_false_closure``: share of frames where the captured lips are wide open (aperture at
  least ``OPEN_MM``) that the model shows closed;
* ``fg_jaw_r``: Pearson correlation of the model's jawOpen with the captured jawOpen over
  all frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from facewire.rig.arkit import ARKIT_INDEX
from facewire.train.metrics import CLOSED_MM, LipAperture

MAX_EVENT_S = 0.3
TOLERANCE_S = 1 / 30
OPEN_MM = 6.0
FPS = 60.0

Predict = Callable[[np.ndarray], np.ndarray]


def closure_events(aperture_mm: np.ndarray, fps: float = FPS, max_s: float | None = None,
                   min_frames: int = 1, threshold_mm: float = CLOSED_MM
                   ) -> list[tuple[int, int]]:
    """``(first, end)`` frame ranges where the lips are closed (for ``min_frames`` to
    ``max_s``) with open lips before and after (runs touching the clip's ends are the
    silence around the take, not speech)."""
    closed = np.asarray(aperture_mm) < threshold_mm
    edges = np.diff(np.r_[0, closed.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)
            if s > 0 and e < len(closed) and e - s >= min_frames
            and (max_s is None or e - s <= max_s * fps)]


def events_closed(pred_aperture_mm: np.ndarray, events: Sequence[tuple[int, int]],
                  fps: float = FPS, tolerance_s: float = TOLERANCE_S,
                  threshold_mm: float = CLOSED_MM) -> list[bool]:
    """For each event: does the predicted aperture drop under the threshold within it
    (widened by ``tolerance_s`` either side)?"""
    pad = int(round(tolerance_s * fps))
    n = len(pred_aperture_mm)
    out = []
    for s, e in events:
        a, b = max(0, s - pad), min(n, e + pad)
        out.append(bool(b > a and np.min(pred_aperture_mm[a:b]) < threshold_mm))
    return out


def facegood_scores(predict: Predict, takes: Sequence, aperture: LipAperture,
                    fps: float = FPS) -> dict[str, float]:
    """The figures above, pooled over ``takes`` (``facewire.train.data.loaders.Take``)."""
    hits: list[bool] = []
    short: list[bool] = []
    min_frames = int(round(fps / 30))
    wide, wide_closed = 0, 0
    jaw_p, jaw_t = [], []
    jaw = ARKIT_INDEX["jawOpen"]
    for take in takes:
        pred = np.asarray(predict(take.audio))
        n = min(len(pred), len(take.curves))
        pa, ta = aperture(pred[:n]), aperture(take.curves[:n])
        hits += events_closed(pa, closure_events(ta, fps), fps)
        short += events_closed(pa, closure_events(ta, fps, MAX_EVENT_S, min_frames), fps)
        open_ = ta >= OPEN_MM
        wide += int(open_.sum())
        wide_closed += int((open_ & (pa < CLOSED_MM)).sum())
        jaw_p.append(pred[:n, jaw])
        jaw_t.append(take.curves[:n, jaw])
    p, t = np.concatenate(jaw_p), np.concatenate(jaw_t)
    r = float(np.corrcoef(p, t)[0, 1]) if p.std() > 0 and t.std() > 0 else float("nan")
    return {"fg_closure": float(np.mean(hits)) if hits else float("nan"),
            "fg_events": float(len(hits)),
            "fg_closure_short": float(np.mean(short)) if short else float("nan"),
            "fg_short_events": float(len(short)),
            "fg_false_closure": wide_closed / wide if wide else float("nan"),
            "fg_jaw_r": r}
