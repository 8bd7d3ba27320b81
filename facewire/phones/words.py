"""The words path: known text (or a TextGrid) + audio -> timed phones, or the reason why not.

One entry, :meth:`WordsAligner.resolve`, decides which source animates a clip: timed phones
from a TextGrid's phones tier, a transcript force-aligned with pocketsphinx (numbers and
punctuation normalised, out-of-dictionary words pronounced by espeak-ng), or, when
neither exists or the alignment fails or is implausible, the audio alone, with the reason
in one line. :func:`fused_curves` then puts the teacher on those phones together with the
voice model's curves (facewire.phones.fusion).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewire.phones.arpabet import SIL, Phone
from facewire.phones.fusion import FusionParams, fuse_frames
from facewire.phones.plausibility import (
    check_alignment,
    coverage,
    silence_reason,
)
from facewire.phones.teacher import phones_to_curves
from facewire.phones.transcript import (
    TEXT_SUFFIXES,
    TEXTGRID_SUFFIX,
    TranscriptError,
    find_sidecar,
    normalize_transcript,
    read_text_file,
    read_textgrid,
)

SOURCES = ("transcript", "textgrid", "audio")
SAMPLE_RATE = 16000
LONG_S = 20.0  # longer clips align sentence by sentence (facewire.phones.chunking)
MIN_ALIGNED_SHARE = 0.5  # of a long clip's sentences, or the whole clip falls back
RETRY_NOTES = (" (noise-gated copy)", " (wide search)", " (noise-gated copy, wide search)")
# the bar a retry's alignment must clear (the first try's: facewire.phones.plausibility),
# chosen on validation data: the loosest that lets no other clip's line through in two
# runs of the selection
# (scripts/tune_retry_bar.py; docs/models.md "Words path")
RETRY_MIN_CONFIDENCE = -33.0
RETRY_MIN_COVERAGE = 0.9


@dataclass(frozen=True)
class PhoneSource:
    """Which path animates a clip: ``source`` is one of SOURCES; ``phones`` are None for
    ``"audio"``; ``reason`` says why audio (a fallback) or where the words came from."""

    source: str
    phones: list[Phone] | None
    reason: str
    confidence: float = float("nan")
    coverage: float = float("nan")
    known: list[tuple[float, float]] | None = None  # spans (s) the phones cover; None: all

    @property
    def fallback(self) -> bool:
        """True when words were given but could not be used."""
        return self.source == "audio" and bool(self.reason) and self.reason != NO_WORDS


NO_WORDS = "no transcript"


class WordsAligner:
    """Aligns transcripts to audio; one pocketsphinx decoder and phone loop reused across
    clips (a batch worker keeps one)."""

    def __init__(self) -> None:
        self._aligner = None
        self._wide = None
        self._loop = None
        self._added: dict[str, tuple[str, ...]] = {}

    @property
    def aligner(self):
        if self._aligner is None:
            from facewire.phones.align import ForcedAligner

            self._aligner = ForcedAligner()
        return self._aligner

    @property
    def wide(self):
        """The retry aligner: the same models searched with almost no pruning, loaded on
        the first clip that needs it."""
        if self._wide is None:
            from facewire.phones.align import WIDE_BEAMS, ForcedAligner

            self._wide = ForcedAligner(WIDE_BEAMS)
            self._wide.add_words(self._added)
        return self._wide

    def _add_words(self, pronunciations: dict[str, tuple[str, ...]]) -> None:
        self._added.update(pronunciations)
        self.aligner.add_words(pronunciations)
        if self._wide is not None:
            self._wide.add_words(pronunciations)

    @property
    def loop(self):
        if self._loop is None:
            from facewire.phones.plausibility import PhoneLoop

            self._loop = PhoneLoop()
        return self._loop

    def align_text(self, audio: np.ndarray, text: str) -> PhoneSource:
        """Force-align ``text`` to 16 kHz mono ``audio``: phones, or the audio fallback."""
        from facewire.phones.lexicon import PronunciationError, espeak_pronunciations

        try:
            words = normalize_transcript(text)
            dec = self.aligner.decoder
            self.loop  # noqa: B018 - both pocketsphinx searches load here
        except ImportError as exc:
            return PhoneSource("audio", None, f"{exc.name} is not installed; "
                               "pip install 'facewire[words]' to animate from transcripts")
        if not words:
            return PhoneSource("audio", None, "the transcript holds no words")
        why = silence_reason(audio)
        if why:
            return PhoneSource("audio", None, why)
        oov = sorted({w for w in words if dec.lookup_word(w) is None})
        try:
            self._add_words(espeak_pronunciations(oov))
        except PronunciationError as exc:
            return PhoneSource("audio", None, str(exc))
        if len(audio) > LONG_S * SAMPLE_RATE:
            return self._align_long(audio, text)
        got = self._align_checked(audio, words)
        if got.phones is None:
            return got
        return PhoneSource("transcript", got.phones, f"{len(words)} words aligned{got.reason}",
                           got.confidence, got.coverage)

    def _attempts(self, audio: np.ndarray):
        """(aligner, audio to align, note) in the order tried: the plain search on the clip,
        then, for clips it cannot align, a noise-gated copy and a search with almost no
        pruning (facewire.phones.conditioning, facewire.phones.align.WIDE_BEAMS)."""
        from facewire.phones.conditioning import denoised

        yield self.aligner, audio, ""
        clean = denoised(audio)
        yield self.aligner, clean, RETRY_NOTES[0]
        yield self.wide, audio, RETRY_NOTES[1]
        yield self.wide, clean, RETRY_NOTES[2]

    def _align_checked(self, audio: np.ndarray, words: list[str]) -> PhoneSource:
        """The first attempt whose alignment passes the plausibility check; otherwise the
        audio fallback with the first attempt's reason. Retries meet a stricter bar than
        the first try (RETRY_MIN_*), so that wrong transcripts gain little from the extra
        chances (false accepts measured in docs/models.md)."""
        from facewire.phones.align import AlignmentError

        first: PhoneSource | None = None
        for aligner, x, note in self._attempts(audio):
            try:
                phones = aligner.align(x, " ".join(words))
            except AlignmentError as exc:
                failed = PhoneSource("audio", None, f"alignment failed: {exc}")
            else:
                chk = self._check(phones, x, aligner, audio, retry=bool(note))
                if not chk.reason:
                    return PhoneSource("transcript", phones, note, chk.confidence,
                                       chk.coverage)
                failed = PhoneSource("audio", None, chk.reason, chk.confidence, chk.coverage)
            first = first or failed
        return first

    def _check(self, phones: list[Phone], scored: np.ndarray, aligner,
               audio: np.ndarray, retry: bool = False):
        """The plausibility check: confidence on the samples the aligner scored (the
        clip or its cleaned copy), coverage of the original clip's loud frames. A retry
        meets a stricter bar: it had more chances to squeeze a wrong line onto the audio."""
        from facewire.phones.align import padded_pcm

        pcm = padded_pcm(scored)  # the same samples the aligner scored
        bars = {"min_confidence": RETRY_MIN_CONFIDENCE,
                "min_coverage": RETRY_MIN_COVERAGE} if retry else {}
        return check_alignment(phones, audio, aligner.last_score,
                               aligner.last_frames, self.loop.score(pcm), **bars)

    def _align_long(self, audio: np.ndarray, text: str) -> PhoneSource:
        """Sentence by sentence (facewire.phones.chunking): a long clip keeps every
        sentence that aligns plausibly; the others' spans stay with the voice."""
        from facewire.phones.chunking import plan_chunks, split_units

        units = [u for u in (normalize_transcript(x) for x in split_units(text)) if u]
        dec = self.aligner.decoder
        counts = [sum(len((dec.lookup_word(w) or "x").split()) for w in u) for u in units]
        spans = plan_chunks(counts, audio)
        if spans is None:
            return PhoneSource("audio", None, f"the transcript has {len(units)} sentences but "
                               "the audio has fewer pauses between them; is it this file's "
                               "text?")
        phones: list[Phone] = []
        known: list[tuple[float, float]] = []
        for words, (start, end) in zip(units, spans):
            a, b = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
            piece = audio[a:b]
            if silence_reason(piece):
                continue
            got = self._align_checked(piece, words)
            if got.phones is None:
                continue
            phones += [Phone(p.phone, p.start + start, p.end + start) for p in got.phones]
            known.append((start, end))
        share = len(known) / len(units)
        why = f"{len(known)} of {len(units)} sentences aligned"
        if share < MIN_ALIGNED_SHARE:
            return PhoneSource("audio", None, f"only {why}; is it this file's text?")
        return PhoneSource("transcript", phones, why, coverage=coverage(phones, audio),
                           known=known)

    def resolve(self, audio: np.ndarray, text: str | None = None,
                textgrid: str | Path | None = None, sidecar_for: str | Path | None = None
                ) -> PhoneSource:
        """The phone source for a clip: ``text`` wins, then ``textgrid``, then a sidecar of
        the audio file ``sidecar_for`` (STEM.TextGrid/.lab/.txt), else audio only."""
        origin = "--text"
        if text is None and textgrid is None and sidecar_for is not None:
            side = find_sidecar(sidecar_for)
            if side is None:
                return PhoneSource("audio", None, NO_WORDS)
            if side.suffix == TEXTGRID_SUFFIX or side.suffix.lower() == ".textgrid":
                textgrid = side
            elif side.suffix.lower() in TEXT_SUFFIXES:
                origin = side.name
                try:
                    text = read_text_file(side)
                except TranscriptError as exc:
                    return PhoneSource("audio", None, str(exc))
        if text is not None:
            src = self.align_text(audio, text)
            if src.source == "audio":
                return PhoneSource("audio", None, f"{origin}: {src.reason}", src.confidence,
                                   src.coverage)
            return PhoneSource("transcript", src.phones, f"{origin}: {src.reason}",
                               src.confidence, src.coverage, src.known)
        if textgrid is not None:
            return self._from_textgrid(audio, Path(textgrid))
        return PhoneSource("audio", None, NO_WORDS)

    def _from_textgrid(self, audio: np.ndarray, path: Path) -> PhoneSource:
        try:
            tg = read_textgrid(path)
        except TranscriptError as exc:
            return PhoneSource("audio", None, str(exc))
        if tg.phones is None:  # a words tier only: align its words
            src = self.align_text(audio, tg.words)
            return PhoneSource(src.source if src.source == "audio" else "textgrid", src.phones,
                               f"{path.name} (words tier): {src.reason}", src.confidence,
                               src.coverage, src.known)
        why = silence_reason(audio)
        if why:
            return PhoneSource("audio", None, f"{path.name}: {why}")
        end = len(audio) / SAMPLE_RATE
        if tg.phones[-1].start >= end:
            return PhoneSource("audio", None, f"{path.name}: its phones run to "
                               f"{tg.phones[-1].end:.2f} s but the audio lasts {end:.2f} s; "
                               "is it this file's TextGrid?")
        cov = coverage(tg.phones, audio)
        return PhoneSource("textgrid", tg.phones, f"{path.name}: {len(tg.phones)} phones",
                           coverage=cov)


def teacher_at(phones: list[Phone], times: np.ndarray, fps: float = 60.0) -> np.ndarray:
    """The teacher's curves on ``phones`` sampled at ``times`` (s): ``(len(times), 52)``."""
    times = np.asarray(times, np.float64)
    if len(times) == 0:
        return np.zeros((0, 52), np.float32)
    n = int(np.ceil(max(times.max(), 0.0) * fps)) + 2
    grid = phones_to_curves([p for p in phones if p.phone != SIL], n)
    t = np.arange(n) / fps
    idx = np.rint(times * fps).astype(int)
    if np.allclose(idx / fps, times, atol=1e-6) and idx.min() >= 0:
        return grid[idx]
    return np.stack([np.interp(times, t, grid[:, k]) for k in range(52)], axis=1
                    ).astype(np.float32)


def known_mask(known: list[tuple[float, float]] | None, times: np.ndarray) -> np.ndarray:
    """Frames whose phones are known (all when ``known`` is None)."""
    times = np.asarray(times)
    if known is None:
        return np.ones(len(times), bool)
    mask = np.zeros(len(times), bool)
    for a, b in known:
        mask |= (times >= a) & (times < b)
    return mask


def fused_curves(phones: list[Phone], voice: np.ndarray, times: np.ndarray,
                 params: FusionParams | None = None, fps: float = 60.0,
                 known: list[tuple[float, float]] | None = None) -> np.ndarray:
    """The words-path take: teacher on ``phones`` fused with the voice curves at ``times``;
    frames outside the ``known`` spans (sentences that did not align) keep the voice."""
    fused = fuse_frames(teacher_at(phones, times, fps), voice, params)
    mask = known_mask(known, times)
    return np.where(mask[:, None], fused, np.asarray(voice, np.float32)).astype(np.float32)
