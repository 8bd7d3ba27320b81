"""Is a forced alignment believable? The check that sends a clip back to audio-only.

A forced aligner always finds *some* path when its beams are wide: a transcript of another
line gets squeezed onto the audio, and the teacher would then close the lips on the wrong
syllables, worse than no transcript at all. Two measurements catch that:

* confidence: the alignment's acoustic log-likelihood per frame minus that of a free phone
  loop over the same audio (the best any phone sequence can do). Right text costs little
  against the loop, wrong text a lot (thresholds measured, docs/models.md);
* coverage: the share of the audio's loud frames that the aligned words cover. Text that
  is too short, or speech the text omits, leaves loud audio without phones.

Silence (no loud frame at all) is caught before any alignment is tried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from facewire.phones.align import fresh_stream
from facewire.phones.arpabet import SIL, Phone

SAMPLE_RATE = 16000
FRAME_S = 0.01
SILENCE_DBFS = -55.0  # a clip whose loudest 10 ms is quieter than this holds no speech
ACTIVE_ABOVE_FLOOR_DB = 6.0
ACTIVE_RANGE_DB = 30.0
MIN_CONFIDENCE = -38.0  # per-frame log-likelihood against the phone loop (pocketsphinx units)
MIN_COVERAGE = 0.6


@dataclass(frozen=True)
class AlignmentCheck:
    """The measurements and, when the alignment is not to be used, why."""

    confidence: float
    coverage: float
    reason: str | None  # None: plausible


def frame_dbfs(audio: np.ndarray, frame_s: float = FRAME_S) -> np.ndarray:
    """Level of each 10 ms frame in dB re full scale."""
    hop = int(SAMPLE_RATE * frame_s)
    n = len(audio) // hop
    if n == 0:
        return np.full(1, -120.0)
    x = np.asarray(audio[: n * hop], np.float64).reshape(n, hop)
    return 20 * np.log10(np.sqrt(np.mean(x**2, axis=1)) + 1e-6)


def active_frames(audio: np.ndarray) -> np.ndarray:
    """Loud frames: within ``ACTIVE_RANGE_DB`` of the loudest, ``ACTIVE_ABOVE_FLOOR_DB``
    above the noise floor (10th percentile), and above the silence level. A clip with no
    pause (the floor is speech) still has its loud frames."""
    db = frame_dbfs(audio)
    floor = np.percentile(db, 10)
    act = (db > SILENCE_DBFS) & (db > db.max() - ACTIVE_RANGE_DB) & (db > floor + ACTIVE_ABOVE_FLOOR_DB)
    return act if act.any() else db > SILENCE_DBFS


def silence_reason(audio: np.ndarray) -> str | None:
    """Why a clip cannot be aligned before trying: empty or silent audio."""
    if len(audio) < SAMPLE_RATE * 0.1:
        return f"audio too short to align ({len(audio) / SAMPLE_RATE:.2f} s)"
    if float(np.max(frame_dbfs(audio))) < SILENCE_DBFS:
        return "no speech in the audio (silence only)"
    return None


class PhoneLoop:
    """pocketsphinx's free phone recogniser: the likelihood ceiling for any transcript."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        mp = get_model_path()
        self.decoder = Decoder(hmm=os.path.join(mp, "en-us", "en-us"),
                               allphone=os.path.join(mp, "en-us", "en-us-phone.lm.bin"),
                               beam=1e-20, pbeam=1e-20, loglevel="FATAL")
        self.initial_cmn = self.decoder.get_cmn()  # reset per clip, as ForcedAligner does

    def score(self, pcm: bytes) -> float:
        fresh_stream(self.decoder, self.initial_cmn)
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return float(hyp.score) if hyp is not None else float("-inf")


def coverage(phones: list[Phone], audio: np.ndarray) -> float:
    """Share of the loud frames that fall inside an aligned (non-silence) phone."""
    act = active_frames(audio)
    if not act.any():
        return 0.0
    covered = np.zeros(len(act), bool)
    for p in phones:
        if p.phone != SIL:
            covered[int(p.start / FRAME_S): int(np.ceil(p.end / FRAME_S))] = True
    return float(np.mean(covered[act]))


def check_alignment(phones: list[Phone], audio: np.ndarray, align_score: float,
                    align_frames: int, loop_score: float,
                    min_confidence: float = MIN_CONFIDENCE,
                    min_coverage: float = MIN_COVERAGE) -> AlignmentCheck:
    """Judge an alignment from its score, the phone loop's score on the same (padded)
    audio, and the loud frames it covers."""
    conf = (align_score - loop_score) / max(align_frames, 1)
    cov = coverage(phones, audio)
    reason = None
    if conf < min_confidence:
        reason = (f"the transcript does not match the speech (alignment confidence "
                  f"{conf:.0f} < {min_confidence:.0f}); check it is this file's text")
    elif cov < min_coverage:
        reason = (f"the transcript covers only {100 * cov:.0f}% of the speech "
                  f"(< {100 * min_coverage:.0f}%); is text missing?")
    return AlignmentCheck(conf, cov, reason)
