"""Frames of a preview: one panel per track side by side, each labelled, on the video clock.

``render_frames`` is the renderer's API: give it tracks of weights ``[T, 52]`` or dense
displacements ``[T, V, 3]``; two tracks make the side-by-side comparison (blendshape path |
S2L -> S2D path) with nothing else to change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from facewire.preview.render import FaceRenderer, View
from facewire.preview.tracks import Track
from facewire.rig.rig import Rig


@lru_cache(maxsize=32)
def text_bitmap(text: str, height_px: int) -> np.ndarray:
    """Coverage ``[h, w]`` in 0..1 of ``text`` drawn by matplotlib's Agg (no font files)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(max(1, len(text)) * height_px * 0.8 / dpi, height_px * 1.6 / dpi),
                 dpi=dpi, facecolor=(0, 0, 0, 0))
    canvas = FigureCanvasAgg(fig)
    fig.text(0.0, 0.5, text, fontsize=height_px * 72 / dpi, va="center", ha="left",
             color="white", family="DejaVu Sans")
    canvas.draw()
    alpha = np.asarray(canvas.buffer_rgba())[:, :, 3].astype(np.float32) / 255
    cols = np.nonzero(alpha.max(axis=0) > 0)[0]
    rows = np.nonzero(alpha.max(axis=1) > 0)[0]
    if not len(cols):
        return np.zeros((1, 1), np.float32)
    return alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def draw_text(image: np.ndarray, text: str, x: int, y: int, height_px: int) -> None:
    """White text with a dark shadow, in place, clipped to the image."""
    a = text_bitmap(text, height_px)
    h, w = image.shape[:2]
    for dx, colour in ((1, 0.0), (0, 255.0)):
        x0, y0 = x + dx, y + dx
        hh, ww = min(a.shape[0], h - y0), min(a.shape[1], w - x0)
        if hh <= 0 or ww <= 0:
            continue
        region = image[y0:y0 + hh, x0:x0 + ww].astype(np.float32)
        m = a[:hh, :ww, None]
        image[y0:y0 + hh, x0:x0 + ww] = (region * (1 - m) + colour * m).astype(np.uint8)


def frame_count(duration_s: float, fps: float) -> int:
    return max(1, int(round(duration_s * fps)))


def render_frames(rig: Rig, tracks: Sequence[Track], fps: float, n_frames: int,
                  width: int, height: int, view: View | None = None,
                  labels: bool = True) -> Iterator[np.ndarray]:
    """Yield ``n_frames`` RGB frames ``[height, width * len(tracks), 3]``; frame k shows
    media time ``k / fps``."""
    for t in tracks:
        t.check(rig)
    renderer = FaceRenderer(rig, width, height, view)
    text_px = max(9, height // 26)
    for k in range(n_frames):
        t = k / fps
        panels = []
        for track in tracks:
            img = renderer.render(track.vertices(rig, t))
            if labels and height >= 120:
                draw_text(img, track.label, text_px // 2, text_px // 2, text_px)
            panels.append(img)
        frame = np.concatenate(panels, axis=1)
        if labels and height >= 120:
            draw_text(frame, f"{t:6.2f} s", 6, height - text_px * 2, text_px)
        yield frame


def save_png(image: np.ndarray, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(str(path), image)


def write_preview(rig: Rig, tracks: Sequence[Track], out: str | Path, fps: float = 30.0,
                  width: int = 512, height: int = 512, audio: np.ndarray | None = None,
                  sample_rate: int = 16000, view: View | None = None,
                  duration_s: float | None = None) -> dict:
    """Render ``tracks`` side by side to an MP4 with ``audio``; returns timing figures.

    The video lasts ``duration_s``, else the audio, else the longest track.
    """
    import time

    from facewire.preview.video import write_mp4

    if duration_s is None:
        if audio is not None and len(audio):
            duration_s = len(audio) / sample_rate
        else:
            duration_s = max(t.end for t in tracks)
    n = frame_count(duration_s, fps)
    start = time.perf_counter()
    frames = render_frames(rig, tracks, fps, n, width, height, view)
    written = write_mp4(frames, out, fps, width * len(tracks), height, audio, sample_rate, n)
    wall = time.perf_counter() - start
    return {"frames": written, "seconds": written / fps, "wall_s": wall,
            "frames_per_s": written / wall if wall > 0 else float("inf"), "path": str(out)}


def preview_bag(bag: str | Path, out: str | Path, rig_path: str | Path | None = None,
                size: int = 512, fps: float = 30.0) -> str:
    """The demo's video: the bag's Blendshapes on the rig, side by side with its MeshDeform
    when the bag has one. Returns a line for the terminal (why not, when it could not)."""
    from facewire.preview.tracks import PreviewInputError, tracks_from_bag
    from facewire.preview.video import VideoError
    from facewire.rig.rig import RigError, default_rig_path

    try:
        rig = Rig.load(rig_path or default_rig_path())
        tracks, audio, rate = tracks_from_bag(bag)
        kinds = [t.kind for t in tracks]
        if "weights" in kinds and "deform" in kinds:
            tracks = [tracks[kinds.index("weights")], tracks[kinds.index("deform")]]
        else:
            tracks = tracks[:1]
        stats = write_preview(rig, tracks, out, fps, size, size, audio, rate)
    except (PreviewInputError, RigError, VideoError, FileNotFoundError) as e:
        return f"video: not written ({e})"
    what = " | ".join(t.label for t in tracks)
    return (f"video: {out} ({what}; {stats['frames']} frames rendered at "
            f"{stats['frames_per_s']:.1f} frames/s)")
