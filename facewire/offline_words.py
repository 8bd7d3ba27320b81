"""``facewire animate`` with known words: the audio graph, then the words path fused in.

The per-file entry point that ``animate`` and ``facewire batch`` call: the voice take comes
from the same in-process node graph as always (facewire.offline); when a transcript
(``text``, a TextGrid, or a STEM.txt/.lab/.TextGrid sidecar) aligns plausibly, the teacher
on its phones is fused with the voice (facewire.phones.fusion) and the take records that
the words made it. Otherwise the voice take stands and one warning names the file and why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facewire.messages.types import Blendshapes
from facewire.offline import Take, animate_file
from facewire.phones.fusion import FusionParams, load_fusion
from facewire.phones.words import PhoneSource, WordsAligner, fused_curves

_ALIGNER: WordsAligner | None = None


def shared_aligner() -> WordsAligner:
    """One aligner per process: pocketsphinx's model loads once (a batch worker reuses it)."""
    global _ALIGNER
    if _ALIGNER is None:
        _ALIGNER = WordsAligner()
    return _ALIGNER


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def apply_words(take: Take, src: PhoneSource, params: FusionParams | None = None) -> Take:
    """The take with the words path fused in (or unchanged, source "audio"), its
    Blendshapes messages carrying the fused weights so that the bag shows what the CSV has."""
    take.source, take.source_reason = src.source, src.reason
    if src.phones is None or len(take.weights) == 0:
        take.source = "audio"
        return take
    fused = fused_curves(src.phones, take.weights, take.times, params or load_fusion(),
                         take.fps, src.known)
    take.weights = fused
    i = 0
    for k, (topic, msg) in enumerate(take.messages):
        if isinstance(msg, Blendshapes) and i < len(fused):
            take.messages[k] = (topic, _with_weights(msg, fused[i]))
            i += 1
    return take


def _with_weights(msg: Blendshapes, weights: np.ndarray) -> Blendshapes:
    copy = msg.with_header()
    copy.__dict__["weights"] = np.ascontiguousarray(weights, np.float32)
    return copy


def animate_file_words(path: str | Path, text: str | None = None,
                       textgrid: str | Path | None = None, sidecar: bool = True,
                       model: str = "", smoothing: dict | None = None, fps: float = 60.0,
                       subject: str = "", device: str = "cpu",
                       fusion: FusionParams | None = None,
                       aligner: WordsAligner | None = None,
                       warn: Callable[[str], None] | None = warn_stderr,
                       emotion: str = "", intensity: float | None = None) -> Take:
    """Animate one file, from its words when it has any. ``text`` (a manifest row's or
    ``--text``) wins over ``textgrid``, which wins over a sidecar of ``path`` (when
    ``sidecar``). ``take.source`` says which path made it; a transcript that could not be
    used is reported once through ``warn`` (None: silent) and the take is audio-only.
    ``emotion`` (at ``intensity``) is fused in last, over whichever path made the take."""
    from facewire.offline_emotion import apply_emotion

    take = animate_file(path, model=model, smoothing=smoothing, fps=fps, subject=subject,
                        device=device)
    if text is None and textgrid is None and not sidecar:
        take.source, take.source_reason = "audio", "no transcript"
        return apply_emotion(take, emotion, intensity)
    src = (aligner or shared_aligner()).resolve(
        take.audio, text=text, textgrid=textgrid, sidecar_for=path if sidecar else None)
    if src.fallback and warn is not None:
        warn(f"{path}: {src.reason}; animated from the audio alone")
    return apply_emotion(apply_words(take, src, fusion), emotion, intensity)
