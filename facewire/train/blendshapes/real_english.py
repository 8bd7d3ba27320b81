"""Real English read speech in ``facewire eval --real``: /p b m/ on real voices, audio only.

The digits (FSDD) hold no /p b m/ and FACEGOOD is Mandarin, so neither says whether a
model closes the lips on a real English bilabial. Debian's ``pocketsphinx-testdata``
(``apt-get install pocketsphinx-testdata``) ships real read English with transcripts: five
LibriVox sentences of one speaker (29 /p b m/) and five "cards" utterances (5). Their phones
come from forced alignment of the transcript (facewire.phones.align); the model hears the
audio only. No shipped model trained on them.

Columns, pooled over every aligned clip's phones: ``en_closure`` (/p b m/ whose aperture
drops under 2 mm), ``en_false_closure`` (lips-apart consonants shown closed),
``en_vowel_closure`` (vowels shut at their middle frame: false closure on vowels),
``en_open_close`` and ``en_rounding`` (the ratios of facewire.train.metrics), and the
counts ``en_clips``, ``en_bilabials``, ``en_unaligned``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.phones.arpabet import BILABIALS, Phone
from facewire.train.metrics import (
    LipAperture,
    bilabial_closure_rate,
    false_closure_rate,
    open_close_aperture_ratio,
    rounding_ratio,
    vowel_closure_rate,
)

Predict = Callable[[np.ndarray], np.ndarray]
FPS = 60.0
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
DEFAULT_DIRS = (TESTDATA / "librivox", TESTDATA / "cards")
INSTALL_HINT = ("real English skipped: pocketsphinx-testdata is not installed "
                "(apt-get install pocketsphinx-testdata), or pass --english DIR")


@dataclass
class EnglishClip:
    """A real recording, its transcript, and the phones aligned from that transcript."""

    id: str
    speaker: str
    audio: np.ndarray
    text: str
    phones: list[Phone]


def default_dirs() -> list[Path]:
    """The pocketsphinx-testdata folders that are installed here (none: an empty list)."""
    return [d for d in DEFAULT_DIRS if d.is_dir()]


def load_english(dirs: Sequence[str | Path], aligner: object | None = None
                 ) -> tuple[list[EnglishClip], int]:
    """Aligned clips from folders of audio with transcripts (a Sphinx ``transcription``
    file, or STEM.txt/.lab sidecars), and how many clips did not align (left out)."""
    from facewire.phones.align import AlignmentError, ForcedAligner
    from facewire.train.blendshapes.eval_words import load_text_clips

    aligner = aligner or ForcedAligner()
    out, failed = [], 0
    for d in dirs:
        for c in load_text_clips(d):
            try:
                phones = aligner.align(c.audio, c.text)  # type: ignore[attr-defined]
            except AlignmentError:
                failed += 1
                continue
            out.append(EnglishClip(c.id, c.voice, c.audio, c.text, phones))
    return out, failed


def english_scores(predict: Predict, clips: Sequence[EnglishClip], aperture: LipAperture,
                   failed: int = 0) -> dict[str, float]:
    """The ``en_*`` columns for one model, pooled over all clips' phones."""
    aps, ws, phones, t = [], [], [], 0.0
    for c in clips:
        pred = np.asarray(predict(c.audio))
        end = len(pred) / FPS
        aps.append(aperture(pred))
        ws.append(pred)
        phones += [(p.phone, p.start + t, min(p.end, end) + t) for p in c.phones
                   if p.start < end]
        t += end
    if not aps:
        return {"en_clips": 0.0, "en_unaligned": float(failed)}
    ap, w = np.concatenate(aps), np.concatenate(ws)
    return {"en_clips": float(len(clips)), "en_unaligned": float(failed),
            "en_bilabials": float(sum(p[0] in BILABIALS for p in phones)),
            "en_closure": bilabial_closure_rate(ap, phones, FPS),
            "en_false_closure": false_closure_rate(ap, phones, FPS),
            "en_vowel_closure": vowel_closure_rate(ap, phones, FPS),
            "en_open_close": open_close_aperture_ratio(ap, phones, FPS),
            "en_rounding": rounding_ratio(w, phones, FPS)}
