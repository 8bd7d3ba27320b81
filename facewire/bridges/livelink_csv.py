"""Live Link Face CSV takes: write them, and read them back (ours or the phone app's).

The iPhone Live Link Face app records each take as ``<Slate>_<Take>_<Subject>.csv``;
Unreal's and Blender's Live Link Face importers read that file. We write the same header
and column order so our animation imports like a phone take, and read by column *name*
(case-insensitively), never by position: the CSV order differs from the UDP order
(JawRight before JawLeft, MouthRight before MouthLeft) and one app version swapped
MouthLeft/MouthRight columns.

Timecode ``HH:MM:SS:FF.fff``: FF.fff is a fractional frame in 60 fps units, even for 30 fps
takes. Values: shapes 0..1; rotations (HeadYaw .. RightEyeRoll) as degrees / 180 like the UDP
packets. In Python, rotations are degrees (the unit ``LiveLinkSender`` takes).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX, LIVELINK_61, camel_case

SHAPE_COUNT = 52
TIMECODE_FPS = 60
ROTATION_NAMES: tuple[str, ...] = LIVELINK_61[SHAPE_COUNT:]


def _csv_order() -> tuple[str, ...]:
    names = list(LIVELINK_61)
    for a, b in (("JawLeft", "JawRight"), ("MouthLeft", "MouthRight")):
        i, j = names.index(a), names.index(b)
        names[i], names[j] = names[j], names[i]
    return tuple(names)


# The phone app's column order after Timecode and BlendShapeCount.
CSV_COLUMNS: tuple[str, ...] = _csv_order()
HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount", *CSV_COLUMNS)


@dataclass
class LiveLinkTake:
    """A take in facewire's conventions."""

    times: np.ndarray  # [frames] seconds from the timecode (time of day for phone takes)
    weights: np.ndarray  # [frames, 52] float32, ARKIT_52 order
    rotations: np.ndarray  # [frames, 9] float32 degrees, ROTATION_NAMES order
    timecodes: list[str]  # as written in the file

    @property
    def fps(self) -> float:
        """Median frame rate of the take (the phone records 60 or 30)."""
        if len(self.times) < 2:
            return float("nan")
        return float(1.0 / np.median(np.diff(self.times)))


def format_timecode(seconds: float) -> str:
    """``HH:MM:SS:FF.fff`` with FF.fff in 60 fps frames, rounded to 1/1000 frame."""
    millis = round(seconds * TIMECODE_FPS * 1000)  # integer milli-frames: no carry errors
    if millis < 0:
        raise ValueError(f"timecode cannot be negative: {seconds}")
    total_seconds, frac = divmod(millis, TIMECODE_FPS * 1000)
    hours, rest = divmod(total_seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frac // 1000:02d}.{frac % 1000:03d}"


def parse_timecode(text: str) -> float:
    """Seconds from ``HH:MM:SS:FF[.fff]`` (60 fps frames; ``;`` drop-frame separator accepted)."""
    parts = text.strip().replace(";", ":").split(":")
    if len(parts) != 4:
        raise ValueError(f"bad Live Link Face timecode {text!r}")
    h, m, s = (int(p) for p in parts[:3])
    frames = float(parts[3])
    return h * 3600 + m * 60 + s + frames / TIMECODE_FPS


def take_filename(slate: str, take: int, subject: str, suffix: str = "") -> str:
    """``<Slate>_<Take>_<Subject>[_cal|_raw|_neutral].csv`` as the phone app names takes."""
    if suffix and suffix not in ("cal", "raw", "neutral"):
        raise ValueError(f"suffix must be cal, raw or neutral, got {suffix!r}")
    return f"{slate}_{take}_{subject}" + (f"_{suffix}" if suffix else "") + ".csv"


def write_livelink_csv(
    path: str | os.PathLike[str] | io.TextIOBase,
    weights: np.ndarray | Sequence[Sequence[float]],
    times: np.ndarray | Sequence[float] | None = None,
    rotations: np.ndarray | None = None,
    fps: float = 60.0,
    start: float = 0.0,
) -> None:
    """Write a take: ``weights`` [frames, 52] in ARKIT_52 order, ``rotations`` [frames, 9] in
    degrees (optional), ``times`` seconds (default ``start + i / fps``). NaN becomes 0 and
    shapes are clamped to 0..1 (the importers do not expect otherwise).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != SHAPE_COUNT:
        raise ValueError(f"weights must be [frames, {SHAPE_COUNT}], got {w.shape}")
    n = w.shape[0]
    t = start + np.arange(n) / fps if times is None else np.asarray(times, dtype=np.float64)
    if t.shape != (n,):
        raise ValueError(f"times must be [{n}], got {t.shape}")
    r = np.zeros((n, 9)) if rotations is None else np.asarray(rotations, dtype=np.float64)
    if r.shape != (n, 9):
        raise ValueError(f"rotations must be [{n}, 9], got {r.shape}")
    shapes = np.clip(np.nan_to_num(w, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    rots = np.clip(np.nan_to_num(r / 180.0, nan=0.0), -1.0, 1.0)
    # Column j of the CSV comes from ARKit index cols[j] (shapes) or rotation j - 52.
    table = np.concatenate([shapes, rots], axis=1)
    source = [
        ARKIT_INDEX[camel_case(c)] if c not in ROTATION_NAMES else SHAPE_COUNT + ROTATION_NAMES.index(c)
        for c in CSV_COLUMNS
    ]
    # values as "%.8g", a zero as "0" (+ 0.0 turns -0.0 into 0.0, never written "-0")
    table = table[:, source] + 0.0
    # one %-format per row: what csv.writer wrote (numbers and timecodes need no quoting)
    # in a third of the time; a batch line spent longer here than in its animation graph
    row = "%s," + str(len(CSV_COLUMNS)) + "," + ",".join(["%.8g"] * table.shape[1]) + "\n"

    def _write(f: io.TextIOBase) -> None:
        f.write(",".join(HEADER) + "\n")
        f.write("".join([row % (format_timecode(ti), *values)
                         for ti, values in zip(t.tolist(), table.tolist())]))

    if isinstance(path, io.TextIOBase):
        _write(path)
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            _write(f)


def read_livelink_csv(path: str | os.PathLike[str] | io.TextIOBase) -> LiveLinkTake:
    """Read a take by column name (any order, any case, ``BlendShapeCount`` or
    ``BlendshapeCount``). Missing shape columns read as 0; an unparsable row raises with its
    line number.
    """
    if isinstance(path, io.TextIOBase):
        rows = list(csv.reader(path))
    else:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    if not rows:
        raise ValueError("empty Live Link Face CSV")
    header = [h.strip().lower() for h in rows[0]]
    col = {name: i for i, name in enumerate(header) if name}
    if "timecode" not in col:
        raise ValueError("not a Live Link Face CSV: no Timecode column")
    shape_cols = [(ARKIT_INDEX[n], col.get(n.lower())) for n in ARKIT_52]
    rot_cols = [(k, col.get(n.lower())) for k, n in enumerate(ROTATION_NAMES)]
    if all(c is None for _, c in shape_cols):
        raise ValueError("not a Live Link Face CSV: no blend shape columns")
    body = [r for r in rows[1:] if r and any(x.strip() for x in r)]
    n = len(body)
    weights = np.zeros((n, SHAPE_COUNT), dtype=np.float32)
    rotations = np.zeros((n, 9), dtype=np.float32)
    times = np.zeros(n, dtype=np.float64)
    tc_col = col["timecode"]
    timecodes: list[str] = []
    for i, row in enumerate(body):
        try:
            timecodes.append(row[tc_col].strip())
            times[i] = parse_timecode(row[tc_col])
            for k, c in shape_cols:
                if c is not None:
                    weights[i, k] = float(row[c])
            for k, c in rot_cols:
                if c is not None:
                    rotations[i, k] = float(row[c]) * 180.0
        except (ValueError, IndexError) as e:
            raise ValueError(f"Live Link Face CSV data row {i + 1}: {e}") from e
    if not (np.isfinite(weights).all() and np.isfinite(rotations).all()):
        raise ValueError("Live Link Face CSV holds non-finite values")
    return LiveLinkTake(times=times, weights=weights, rotations=rotations, timecodes=timecodes)
