"""Audio files: reading them with clear errors, checking they will animate, playing in blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from facewire.audio import AudioSourceError

BUNDLED_AUDIO = Path(__file__).resolve().parents[1] / "data"
MIN_USEFUL_S = 0.2  # shorter than this, a model sees too little speech to animate


def resolve_audio_path(path: str) -> Path:
    """A file path, or the name of a clip bundled with facewire (``demo_clip.wav``)."""
    p = Path(path).expanduser()
    if not p.exists() and not p.is_absolute() and (BUNDLED_AUDIO / path).is_file():
        return BUNDLED_AUDIO / path
    return p


def read_audio_file(path: str) -> tuple[np.ndarray, int]:
    """(samples (n, channels) float32, rate) from wav/flac/ogg, or a clear error."""
    import soundfile as sf

    path = str(resolve_audio_path(path))
    if not Path(path).is_file():
        raise AudioSourceError(f"audio file {path!r} does not exist")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError variants
        raise AudioSourceError(
            f"cannot read audio file {path!r}: {exc}. Supported: wav, flac, ogg "
            "(convert others with: ffmpeg -i IN -ar 16000 OUT.wav)"
        ) from None
    if not np.isfinite(data).all():
        raise AudioSourceError(f"audio file {path!r} holds NaN or infinite samples")
    return data, int(rate)


def declared_frames(path: str) -> int | None:
    """The frame count a file's header promises (WAV data chunk, else libsndfile's view),
    to tell a truncated file from a short one; None when unknown."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # soundfile raises LibsndfileError/RuntimeError variants
        return None
    if info.format != "WAV":
        return int(info.frames)
    try:
        block = info.channels * {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
                                 "DOUBLE": 8, "PCM_U8": 1}[info.subtype]
    except KeyError:
        return None
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while len(chunk := f.read(8)) == 8:
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return size // block if size != 0xFFFFFFFF else None  # streaming: unknown
            f.seek(size + (size & 1), 1)
    return None


def audio_file_warnings(path: str, samples: int, rate: int) -> list[str]:
    """What is wrong with a file that reads but will not animate well, with its real
    duration: empty, truncated (fewer samples than its header says), or too short."""
    duration = samples / rate if rate else 0.0
    declared = declared_frames(path)
    out = []
    if samples == 0:
        out.append(f"audio file {path!r} holds no audio (0 samples)")
    elif declared is not None and declared > samples:
        out.append(f"audio file {path!r} is truncated: {duration:.3f} s of audio, its header "
                   f"promises {declared / rate:.3f} s (re-export or re-copy it)")
    if 0 < samples and duration < MIN_USEFUL_S:
        out.append(f"audio file {path!r} is only {duration:.4f} s long ({samples} samples); "
                   f"under {MIN_USEFUL_S} s gives little or no animation")
    return out


class FileBlocks:
    """A whole file in memory, handed out in blocks of ``block_ms`` at its own rate.

    The caller paces: it says how far the file is due (in samples) and takes the blocks up
    to there; ``at_end`` tells it the file ran out before that, ``rewind`` plays it again.
    """

    def __init__(self, path: str, block_ms: float) -> None:
        self.path = resolve_audio_path(path)
        self.data, self.rate = read_audio_file(path)
        self.block = max(1, int(self.rate * block_ms / 1000))
        self.pos = 0  # next sample to hand out
        self.at_end = False

    @property
    def duration(self) -> float:
        return len(self.data) / self.rate

    def warnings(self) -> list[str]:
        """:func:`audio_file_warnings` for this file."""
        return audio_file_warnings(str(self.path), len(self.data), self.rate)

    def take(self, due: int, whole: bool) -> Iterator[np.ndarray]:
        """The blocks due up to sample ``due``: with ``whole`` (real-time playback) only
        those whose whole span is due, else up to the first one reaching past ``due``.
        The file's last block may be short."""
        while self.pos + self.block <= due or (not whole and self.pos < due):
            if self.pos >= len(self.data):
                self.at_end = True
                return
            end = min(len(self.data), self.pos + self.block)
            yield self.data[self.pos:end]
            self.pos = end  # after the caller used it: a block it failed on comes again

    def rewind(self) -> None:
        self.pos, self.at_end = 0, False
