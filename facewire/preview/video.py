"""MP4 out of raw RGB frames: ffmpeg (Debian's) through a pipe, audio muxed, H.264 yuv420p.

The audio is padded or cut to exactly the video's length before muxing, so the file's
duration is the frame count over the frame rate and players stay in sync to the frame.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class VideoError(RuntimeError):
    """ffmpeg is missing or failed; the message says which and why."""


def ffmpeg_path() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise VideoError("ffmpeg not found: install it (apt-get install ffmpeg) to write MP4")
    return exe


def fit_audio(audio: np.ndarray, sample_rate: int, n_frames: int, fps: float) -> np.ndarray:
    """Mono float audio padded with silence or cut to ``n_frames / fps`` seconds."""
    n = int(round(n_frames / fps * sample_rate))
    a = np.asarray(audio, np.float32).reshape(len(audio), -1)[:, 0] if len(audio) else \
        np.zeros(0, np.float32)
    return np.pad(a[:n], (0, max(0, n - len(a))))


def write_mp4(frames: Iterable[np.ndarray], out: str | Path, fps: float, width: int,
              height: int, audio: np.ndarray | None = None, sample_rate: int = 16000,
              n_frames: int | None = None, crf: int = 20) -> int:
    """Encode ``frames`` (uint8 ``[height, width, 3]``) to ``out``; returns the frame count.

    ``n_frames`` is needed with audio (to fit it); frames beyond it are not written.
    """
    if width % 2 or height % 2:
        raise VideoError(f"H.264 yuv420p needs even sizes, got {width}x{height}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg_path(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"]
    tmp = None
    if audio is not None and len(audio):
        if n_frames is None:
            raise VideoError("write_mp4 with audio needs n_frames")
        import soundfile as sf

        tmp = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)  # noqa: SIM115
        tmp.close()
        sf.write(tmp.name, fit_audio(audio, sample_rate, n_frames, fps), sample_rate,
                 subtype="PCM_16")
        cmd += ["-i", tmp.name, "-c:a", "aac", "-b:a", "128k"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(out)]
    written = 0
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in frames:
                if n_frames is not None and written >= n_frames:
                    break
                if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                    raise VideoError(f"frame {written} is {frame.shape} {frame.dtype}, "
                                     f"expected ({height}, {width}, 3) uint8")
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
                written += 1
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise VideoError(f"ffmpeg failed writing {out}: {err.strip()[-500:]}")
    finally:
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
    return written


def probe(path: str | Path) -> dict:
    """ffprobe's view of a file: format duration and the streams (codec, size, frames)."""
    exe = shutil.which("ffprobe")
    if exe is None:
        raise VideoError("ffprobe not found: install ffmpeg")
    proc = subprocess.run([exe, "-v", "error", "-print_format", "json", "-show_format",
                           "-show_streams", "-count_frames", str(path)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise VideoError(f"ffprobe cannot read {path}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)
