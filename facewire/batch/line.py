"""Animate one dialogue line into its files: what every batch worker runs, free of Ray.

A line is identified for resumption by a content hash of everything that shapes its
output: the audio bytes, the transcript, subject, emotion and intensity, the model's
ONNX and card bytes and the batch options. Same hash and all files present: skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from facewire.batch.manifest import Line, check_text
from facewire.batch.outputs import (
    complete_record,
    output_suffixes,
    render_outputs,
    write_line_files,
)
from facewire.offline_emotion import emotion_amounts, fusion_digest

DIGEST_VERSION = 1  # bump when the animation code changes what a line's files hold


@dataclass(frozen=True)
class BatchOptions:
    """What every line of one batch shares."""

    out: str
    model: str = ""  # default for lines without their own
    fps: float = 60.0
    smoothing: str = "savgol"
    bag: bool = False
    plot: bool = False
    force: bool = False
    ship: bool = False  # audio in and files out travel through Ray, not shared storage
    fsync: bool = False  # outputs survive a power cut too, not only a killed process

    @property
    def suffixes(self) -> list[str]:
        return output_suffixes(self.bag, self.plot)


@lru_cache(maxsize=32)
def model_digest(model: str) -> str:
    """sha256 over the model's ONNX and card bytes (the bundled default for "")."""
    from facewire.models.runtime import default_model_path, resolve_model

    onnx, card = resolve_model(model or default_model_path())
    h = hashlib.sha256()
    for path in (onnx, card):
        h.update(path.read_bytes())
    return h.hexdigest()


def line_digest(line: Line, audio: bytes, opts: BatchOptions) -> str:
    fields = {"v": DIGEST_VERSION, "audio": hashlib.sha256(audio).hexdigest(),
              "text": line.text, "subject": line.subject, "emotion": line.emotion,
              "intensity": line.intensity, "model": model_digest(line.model or opts.model),
              "fps": opts.fps, "smoothing": opts.smoothing, "files": opts.suffixes}
    if emotion_amounts(line.emotion, line.intensity) is not None:  # neutral hashes as before
        fields["fusion"] = fusion_digest()
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def read_audio_bytes(line: Line) -> bytes:
    try:
        return Path(line.audio).read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read {line.audio}: {exc.strerror} (every worker "
                                "reads audio by path: use shared storage or --ship)") from None


def skip_if_complete(line: Line, audio: bytes, opts: BatchOptions) -> tuple[str, dict | None]:
    """(digest, the line's record when its files are already complete for it)."""
    digest = line_digest(line, audio, opts)
    if opts.force:
        return digest, None
    return digest, complete_record(Path(opts.out), line.id, digest, opts.suffixes)


def animate_line(line: Line, opts: BatchOptions, audio: bytes | None = None,
                 device: str = "cpu") -> dict:
    """One report row; with ``audio`` given (shipped) the files come back in ``row['files']``
    instead of being written. Raises on a line that cannot be animated."""
    from facewire.offline_words import animate_file_words

    t0, cpu0 = time.perf_counter(), time.process_time()
    shipped = audio is not None
    audio = audio if shipped else read_audio_bytes(line)
    row = {"id": line.id, "audio": line.audio, "node": socket.gethostname(), "pid": os.getpid()}
    digest, done = skip_if_complete(line, audio, opts) if not shipped else ("", None)
    if done is not None:
        return {**row, **done, "status": "skipped", "timings": {"total_s": time.perf_counter() - t0}}
    text = check_text(line.text) if line.text is not None else None
    t1 = time.perf_counter()
    holder = tempfile.NamedTemporaryFile(suffix=Path(line.audio).suffix) if shipped \
        else contextlib.nullcontext()
    with holder as tmp:
        path = line.audio
        if shipped:  # the audio node reads a path: the shipped bytes go to a local file
            tmp.write(audio)
            tmp.flush()
            path = tmp.name
        # the row's transcript, else a sidecar beside the audio (none beside shipped bytes);
        # a transcript that cannot be used falls back to the audio, and the record says why
        take = animate_file_words(path, text=text, sidecar=not shipped,
                                  model=line.model or opts.model,
                                  smoothing={"method": opts.smoothing}, fps=opts.fps,
                                  subject=line.subject, device=device, warn=None,
                                  emotion=line.emotion, intensity=line.intensity)
    t2 = time.perf_counter()
    files = render_outputs(take, opts.bag, opts.plot)
    t3 = time.perf_counter()
    record = {**line.to_dict(), "text": text, "digest": digest or line_digest(line, audio, opts),
              "path": take.source, "path_reason": take.source_reason, "device": device,
              "emotion_applied": take.emotion, "intensity_applied": take.intensity,
              "audio_s": len(take.audio) / take.sample_rate, "frames": len(take.times),
              "take_s": float(take.times[-1]) if len(take.times) else 0.0,
              "options": asdict(opts)}
    if shipped:  # the driver writes them
        row["files"], row["record"] = files, record
    else:
        write_line_files(Path(opts.out), line.id, files, record, opts.fsync)
    t4 = time.perf_counter()
    return {**row, **record, "status": "done",
            "timings": {"read_s": t1 - t0, "animate_s": t2 - t1, "render_s": t3 - t2,
                        "write_s": t4 - t3, "total_s": t4 - t0,
                        "cpu_s": time.process_time() - cpu0}}

