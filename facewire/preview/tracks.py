"""What a preview panel shows: a timed sequence of ARKit weights or of dense displacements.

A :class:`Track` is sampled at the video's frame times by linear interpolation between the
two nearest frames on the media clock, so a 60 fps take renders correctly at 30 or 25 fps
and gaps do not shift later frames. Loaders read bags, ``facewire animate`` outputs and
npz files of displacements (the S2L -> S2D path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.rig.rig import Rig, RigError

WEIGHTS = "weights"
DEFORM = "deform"


class PreviewInputError(ValueError):
    """An input that cannot be previewed; the message says which and why."""


@dataclass
class Track:
    """``values`` is ``[T, 52]`` ARKit weights (kind "weights") or ``[T, V, 3]`` (or a list of
    ``[V, 3]``) displacements from the rig's neutral (kind "deform"), at ``times`` seconds."""

    label: str
    kind: str
    times: np.ndarray
    values: np.ndarray | list[np.ndarray]

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, np.float64).reshape(-1)
        if len(self.times) == 0:
            raise PreviewInputError(f"{self.label}: no frames")
        if len(self.values) != len(self.times):
            raise PreviewInputError(f"{self.label}: {len(self.values)} frames but "
                                    f"{len(self.times)} times")
        if np.any(np.diff(self.times) < 0):
            order = np.argsort(self.times, kind="stable")
            self.times = self.times[order]
            self.values = [self.values[i] for i in order]

    @property
    def end(self) -> float:
        """Time just after the last frame (one median frame interval after it)."""
        step = float(np.median(np.diff(self.times))) if len(self.times) > 1 else 1 / 60
        return float(self.times[-1] + step)

    def check(self, rig: Rig) -> None:
        """A clear error before rendering when the track does not fit the rig."""
        first = np.asarray(self.values[0])
        if self.kind == WEIGHTS:
            if first.shape != (52,):
                raise PreviewInputError(f"{self.label}: weights must be ARKit-52, got "
                                        f"{first.shape}")
        else:
            try:
                rig.check_deform(first)
            except RigError as e:
                raise PreviewInputError(f"{self.label}: {e}") from e

    def sample(self, t: float) -> np.ndarray:
        """Weights or displacements at time ``t`` (held at the ends)."""
        i = int(np.searchsorted(self.times, t, side="right"))
        if i <= 0:
            return np.asarray(self.values[0], np.float32)
        if i >= len(self.times):
            return np.asarray(self.values[-1], np.float32)
        t0, t1 = self.times[i - 1], self.times[i]
        a = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        v0 = np.asarray(self.values[i - 1], np.float32)
        v1 = np.asarray(self.values[i], np.float32)
        return v0 + np.float32(a) * (v1 - v0)

    def vertices(self, rig: Rig, t: float) -> np.ndarray:
        """Posed vertices of ``rig`` at time ``t``."""
        v = self.sample(t)
        return rig.pose(v) if self.kind == WEIGHTS else rig.neutral + v


def audio_from_chunks(chunks: list) -> tuple[np.ndarray, int]:
    """AudioChunk messages -> mono samples from media time 0 (gaps stay silent)."""
    if not chunks:
        return np.zeros(0, np.float32), 16000
    rate = int(chunks[0].sample_rate)
    end = max(int(round(c.header.media_time * rate)) + len(c.samples) for c in chunks)
    out = np.zeros(max(end, 0), np.float32)
    for c in chunks:
        start = int(round(c.header.media_time * rate))
        s = c.samples[:, 0]
        if start < 0:
            s, start = s[-start:], 0
        out[start:start + len(s)] = s
    return out, rate


def tracks_from_messages(messages: list[tuple[str, object]], blend_topic: str | None = None,
                         deform_topic: str | None = None) -> tuple[list[Track], list]:
    """Blendshapes and MeshDeform tracks (one each: the named topic or the first found) and
    the AudioChunks of a list of ``(topic, message)``."""
    from facewire.messages.types import AudioChunk, Blendshapes, MeshDeform

    def pick(cls, topic: str | None) -> tuple[str | None, list]:
        topics = [t for t, m in messages if isinstance(m, cls)]
        if topic is None:
            if not topics:
                return None, []
            topic = "/blendshapes" if cls is Blendshapes and "/blendshapes" in topics \
                else topics[0]
        return topic, [m for t, m in messages if t == topic and isinstance(m, cls)]

    tracks = []
    bt, frames = pick(Blendshapes, blend_topic)
    if blend_topic and not frames:
        raise PreviewInputError(f"no Blendshapes on {blend_topic}")
    if frames:
        tracks.append(Track(f"blendshapes {bt}", WEIGHTS,
                            [m.header.media_time for m in frames],
                            np.stack([m.weights for m in frames])))
    dt, frames = pick(MeshDeform, deform_topic)
    if deform_topic and not frames:
        raise PreviewInputError(f"no MeshDeform on {deform_topic}")
    if frames:
        tracks.append(Track(f"mesh deform {dt}", DEFORM, [m.header.media_time for m in frames],
                            [m.displacements for m in frames]))
    audio = [m for _, m in messages if isinstance(m, AudioChunk)]
    return tracks, audio


def tracks_from_bag(path: str | Path, blend_topic: str | None = None,
                    deform_topic: str | None = None) -> tuple[list[Track], np.ndarray, int]:
    from facewire.bag.reader import BagError, BagReader

    try:
        messages = [(m.topic, m.msg) for m in BagReader(path).read_all()]
    except BagError as e:
        raise PreviewInputError(str(e)) from e
    tracks, chunks = tracks_from_messages(messages, blend_topic, deform_topic)
    if not tracks:
        raise PreviewInputError(f"{path}: no Blendshapes or MeshDeform messages")
    audio, rate = audio_from_chunks(chunks)
    return tracks, audio, rate


def track_from_file(path: str | Path) -> Track:
    """``facewire animate`` output (npz with ``weights``, or its Live Link CSV), or an npz
    with ``displacements`` ``[T, V, 3]`` (dense path); ``times`` or ``fps`` give the clock."""
    p = Path(path)
    if not p.exists():
        raise PreviewInputError(f"{p}: no such file")
    if p.suffix.lower() == ".csv":
        from facewire.bridges.livelink_csv import read_livelink_csv

        try:
            take = read_livelink_csv(p)
        except ValueError as e:
            raise PreviewInputError(f"{p}: {e}") from e
        times = take.times - (take.times[0] if len(take.times) and take.times[0] > 60 else 0)
        return Track(f"blendshapes {p.name}", WEIGHTS, times, take.weights)
    try:
        z = np.load(p)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same message
        raise PreviewInputError(f"{p}: not an npz or Live Link CSV ({e})") from e
    with z:
        if "weights" in z.files:
            kind, values = WEIGHTS, z["weights"].astype(np.float32)
        elif "displacements" in z.files:
            kind, values = DEFORM, z["displacements"].astype(np.float32)
        else:
            raise PreviewInputError(f"{p}: needs a 'weights' [T, 52] or 'displacements' "
                                    f"[T, V, 3] array; it has {z.files}")
        if "times" in z.files:
            times = z["times"]
        else:
            fps = float(z["fps"]) if "fps" in z.files else 60.0
            times = np.arange(len(values)) / fps
    label = ("blendshapes " if kind == WEIGHTS else "mesh deform ") + p.name
    return Track(label, kind, times, values)
