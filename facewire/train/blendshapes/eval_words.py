"""Scoring the words path (``facewire eval --words DATA``): transcript-fused takes beside
audio-only and beside the teacher on aligned phones alone.

Clips with transcripts come from three layouts:

* a synthetic corpus (``facewire data synth``): manifest text, and the synthesiser's exact
  phones as the reference the metrics judge against (the words path aligns the text
  itself and never sees them);
* the spoken digits (FSDD): real speech, the word is the digit; reference phones are the
  forced alignment of that word (as ``facewire eval`` does for its fsdd columns);
* any folder of audio with STEM.txt/.lab sidecars, or a Sphinx ``transcription`` file
  (``<s> words </s> (id)`` lines, e.g. Debian's pocketsphinx-testdata): real speech,
  reference phones from the alignment.

Each clip is animated three ways: ``audio-only`` (the model), ``teacher`` (the teacher on
the aligned phones) and ``fused`` (facewire.phones.fusion); where the alignment falls back
(implausible or failed), teacher and fused rows use the model's curves, as ``animate`` does,
and the fallbacks are counted. Columns: closure / false closure (bilabials, lips-apart
consonants), ``vowel_closure`` (vowels whose lips stay shut: ``vowel_closure_rate``),
open/close and rounding ratios, ``jaw_loud`` (correlation of jawOpen with log loudness, best lag within
+-50 ms, mean over clips), ``l2`` where target curves exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.phones.arpabet import SIL, VOWELS, Phone
from facewire.phones.fusion import FusionParams, fuse_frames
from facewire.phones.teacher import phones_to_curves
from facewire.phones.words import WordsAligner, known_mask
from facewire.train.metrics import (
    CLOSED_MM,
    LipAperture,
    bilabial_closure_rate,
    false_closure_rate,
    open_close_aperture_ratio,
    rounding_ratio,
)

Predict = Callable[[np.ndarray], np.ndarray]
FPS = 60.0
ROWS = ("audio-only", "teacher", "fused")
COLUMNS = ("clips", "aligned", "bilabials", "closure", "vowel_closure", "false_closure",
           "open_close", "rounding", "jaw_loud", "l2")
MAX_LAG = 3  # frames (50 ms): the jaw trails the sound it makes


@dataclass
class TextClip:
    """A clip with its transcript; ``phones`` are exact reference phones when known."""

    id: str
    voice: str
    audio: np.ndarray
    text: str
    phones: list[Phone] | None = None
    curves: np.ndarray | None = None


def _synth_clips(folder: Path) -> list[TextClip]:
    from facewire.train.data.loaders import load_audio

    out = []
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        curves = np.load(folder / r["curves"]) if r.get("curves") else None
        out.append(TextClip(r["id"], r.get("voice", ""), load_audio(folder / r["wav"]),
                            r["text"], [Phone(p[0], p[1], p[2]) for p in r["phones"]], curves))
    return out


def _fsdd_clips(folder: Path, per_digit: int, first_take: int = 0) -> list[TextClip]:
    from facewire.train.blendshapes.evaluate import DIGIT_WORDS, fsdd_clips
    from facewire.train.data.loaders import load_audio

    return [TextClip(f.stem, f"fsdd:{speaker}", load_audio(f), DIGIT_WORDS[int(digit)])
            for (digit, speaker), files in sorted(fsdd_clips(folder, per_digit,
                                                             first_take).items())
            for f in files]


_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$")


def _sidecar_clips(folder: Path) -> list[TextClip]:
    from facewire.phones.transcript import read_text_file
    from facewire.train.data.loaders import load_audio

    out = []
    trans = [f for f in folder.glob("*transcription") if f.is_file()]
    if trans:  # Sphinx layout: "<s> words </s> (id)" per line, id.wav beside
        for line in trans[0].read_text().splitlines():
            m = _SPHINX_LINE.match(line)
            if m and (folder / f"{m[2]}.wav").is_file():
                out.append(TextClip(m[2], folder.name, load_audio(folder / f"{m[2]}.wav"),
                                    m[1].strip()))
        return out
    for wav in sorted(folder.rglob("*.wav")):
        for side in (wav.with_suffix(".lab"), wav.with_suffix(".txt")):
            if side.is_file():
                out.append(TextClip(wav.stem, wav.parent.name, load_audio(wav),
                                    read_text_file(side)))
                break
    return out


def load_text_clips(spec: str | Path, per_digit: int = 3, first_take: int = 0
                    ) -> list[TextClip]:
    """Clips with transcripts from a synth corpus, an FSDD folder, or a folder of audio
    with sidecars (or a Sphinx transcription file); see the module docstring."""
    folder = Path(spec)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of clips with transcripts")
    if (folder / "manifest.jsonl").is_file():
        return _synth_clips(folder)
    if (folder / "recordings").is_dir() or any(folder.glob("[0-9]_*_[0-9]*.wav")):
        return _fsdd_clips(folder, per_digit, first_take)
    clips = _sidecar_clips(folder)
    if not clips:
        raise FileNotFoundError(f"{folder}: no audio with a STEM.txt/.lab transcript (or a "
                                "Sphinx 'transcription' file) found")
    return clips


def vowel_closure_rate(aperture_mm: np.ndarray, phones: Sequence[tuple[str, float, float]],
                       fps: float = FPS) -> float:
    """Share of vowels whose lips stay shut through their nucleus: mean aperture over the
    central half of the segment below 2 mm. (The edges of a vowel beside /p b m/ are the
    closure's own transition, closed in any correct take, so they are not counted.)"""
    hits = []
    for ph, start, end in phones:
        if ph in VOWELS and end > start:
            q = 0.25 * (end - start)
            a = int(np.floor((start + q) * fps))
            b = max(a + 1, int(np.ceil((end - q) * fps)))
            seg = aperture_mm[max(a, 0): min(b, len(aperture_mm))]
            if len(seg):
                hits.append(float(np.mean(seg)) < CLOSED_MM)
    return float(np.mean(hits)) if hits else float("nan")


def jaw_loudness(weights: np.ndarray, audio: np.ndarray, fps: float = FPS) -> float:
    """Correlation of jawOpen with log loudness per frame, best lag in +-MAX_LAG frames."""
    from facewire.rig.arkit import ARKIT_INDEX
    from facewire.train.data.loaders import loudness_envelope

    n = len(weights)
    jaw = weights[:, ARKIT_INDEX["jawOpen"]].astype(np.float64)
    loud = loudness_envelope(np.asarray(audio, np.float64), fps, n)
    best = -1.0
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        a = jaw[max(lag, 0): n + min(lag, 0)]
        b = loud[max(-lag, 0): n - max(lag, 0)]
        if len(a) > 3 and a.std() > 1e-6 and b.std() > 1e-6:
            best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best if best > -1.0 else float("nan")


@dataclass
class Prepared:
    """One clip animated by the model and aligned: what every fusion setting reuses."""

    voice: np.ndarray
    teacher: np.ndarray | None  # None: the alignment fell back
    ref: list[Phone]
    audio: np.ndarray
    target: np.ndarray | None
    known: np.ndarray | None = None  # frames whose phones are known (long clips)


def prepare(predict: Predict, clips: Sequence[TextClip], aligner: WordsAligner | None = None,
            progress: Callable | None = None) -> list[Prepared]:
    """Model curves and aligned-phone teacher curves per clip; real clips that do not align
    have no reference phones and are left out."""
    aligner = aligner or WordsAligner()
    out = []
    for c in (progress(clips) if progress else clips):
        voice = predict(c.audio)
        src = aligner.align_text(c.audio, c.text)
        ref = c.phones if c.phones is not None else src.phones
        if ref is None:
            continue
        teacher = (phones_to_curves([p for p in src.phones if p.phone != SIL], len(voice))
                   if src.phones is not None else None)
        known = known_mask(src.known, np.arange(len(voice)) / FPS)
        out.append(Prepared(voice, teacher, ref, c.audio, c.curves, known))
    return out


def score_prepared(prep: Sequence[Prepared], aperture: LipAperture,
                   fusion: FusionParams | None = None) -> dict[str, dict[str, float]]:
    """The three rows (audio-only, teacher, fused); fallbacks use the model's curves."""
    rows: dict[str, list[np.ndarray]] = {r: [] for r in ROWS}
    for p in prep:
        rows["audio-only"].append(p.voice)
        if p.teacher is None:
            rows["teacher"].append(p.voice)
            rows["fused"].append(p.voice)
            continue
        m = (np.ones(len(p.voice), bool) if p.known is None else p.known)[:, None]
        rows["teacher"].append(np.where(m, p.teacher, p.voice))
        rows["fused"].append(np.where(m, fuse_frames(p.teacher, p.voice, fusion), p.voice))
    aligned = float(sum(p.teacher is not None for p in prep))
    out: dict[str, dict[str, float]] = {}
    for row in ROWS:
        out[row] = _pooled(rows[row], [p.ref for p in prep], [p.audio for p in prep],
                           [p.target for p in prep], aperture)
        out[row].update(clips=float(len(prep)), aligned=aligned)
    return out


def score_words(predict: Predict, clips: Sequence[TextClip], aperture: LipAperture,
                aligner: WordsAligner | None = None, fusion: FusionParams | None = None,
                progress: Callable | None = None) -> dict[str, dict[str, float]]:
    """The three rows over clips with reference phones (see the module docstring)."""
    return score_prepared(prepare(predict, clips, aligner, progress), aperture, fusion)


def _pooled(preds: list[np.ndarray], refs: list[list[Phone]], audios: list[np.ndarray],
            targets: list[np.ndarray | None], aperture: LipAperture) -> dict[str, float]:
    """Closure and ratios pooled over all clips' phones (one clip may lack a vowel class)."""
    from facewire.phones.arpabet import BILABIALS

    phones: list[tuple[str, float, float]] = []
    t = 0.0
    jl, l2 = [], []
    for pred, ref, audio, tgt in zip(preds, refs, audios, targets):
        end = len(pred) / FPS
        phones += [(p.phone, p.start + t, min(p.end, end) + t) for p in ref if p.start < end]
        t += end
        jl.append(jaw_loudness(pred, audio))
        if tgt is not None:
            n = min(len(pred), len(tgt))
            l2.append(float(np.mean(np.linalg.norm(pred[:n] - tgt[:n], axis=1))))
    if not preds:
        return {}
    w = np.concatenate(preds)
    ap = aperture(w)
    return {"bilabials": float(sum(p[0] in BILABIALS for p in phones)),
            "closure": bilabial_closure_rate(ap, phones, FPS),
            "false_closure": false_closure_rate(ap, phones, FPS),
            "vowel_closure": vowel_closure_rate(ap, phones, FPS),
            "open_close": open_close_aperture_ratio(ap, phones, FPS),
            "rounding": rounding_ratio(w, phones, FPS),
            "jaw_loud": float(np.nanmean(jl)) if jl else float("nan"),
            "l2": float(np.mean(l2)) if l2 else float("nan")}


def words_table(models: Sequence[tuple[str, Predict, set[str]]], specs: Sequence[str],
                aperture: LipAperture, fusion: FusionParams | None = None,
                per_digit: int = 2, all_voices: bool = False,
                progress: Callable | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """``{data: {"MODEL: row": metrics}}`` for each corpus and model (name, predict, voices it
    trained on: dropped unless ``all_voices``). One aligner serves every clip."""
    aligner = WordsAligner()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for spec in specs:
        clips = load_text_clips(spec, per_digit)
        table: dict[str, dict[str, float]] = {}
        for name, predict, seen in models:
            use = [c for c in clips if all_voices or c.voice not in seen]
            rows = score_words(predict, use, aperture, aligner, fusion, progress)
            table.update({f"{name}: {row}": r for row, r in rows.items()})
        out[str(spec)] = table
    return out
