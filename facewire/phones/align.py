"""Forced alignment of known text with pocketsphinx: real speech gets phone timings.

The phonetic checks of ``facewire eval`` need phone segments; synthetic voices bring their
own, real recordings (the spoken digits) do not. pocketsphinx ships an English acoustic
model and CMUdict, so the words we know the speaker said are aligned to the audio in two
passes (word alignment, then phone alignment inside it), offline.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from facewire.phones.arpabet import SIL, Phone, arpabet_phones

SAMPLE_RATE = 16000
FRAME_S = 0.01  # pocketsphinx's frame rate is 100 per second
PAD_S = 0.25  # silence added around the clip: the aligner needs room for the first phone


DITHER = 1e-4  # ~3 LSB of int16


def padded_pcm(audio: np.ndarray) -> bytes:
    """16-bit PCM of the clip with ``PAD_S`` of silence each side and a fixed, seeded dither:
    runs of exact zeros (the pad, and the stop closures of synthetic voices such as
    espeak-ng) give pocketsphinx log-energies of minus infinity, and then no path through
    the text at all."""
    pad = np.zeros(int(PAD_S * SAMPLE_RATE))
    padded = np.concatenate([pad, np.asarray(audio, np.float64).ravel(), pad])
    padded += DITHER * np.random.default_rng(0).standard_normal(len(padded))
    return (np.clip(padded, -1, 1) * 32767).astype("<i2").tobytes()


def fresh_stream(decoder: object, cmn: str) -> None:
    """Forget the noise estimate and cepstral mean the last clip left in ``decoder``.
    pocketsphinx calls start_stream "unnecessary" and deprecates it, but without it a clip
    aligns differently after other clips (a batch line would depend on its neighbours)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        decoder.start_stream()
    decoder.set_cmn(cmn)


class AlignmentError(RuntimeError):
    """The text could not be aligned to the audio (wrong words, silence, too short)."""


BEAMS = {"beam": 1e-80, "pbeam": 1e-80, "wbeam": 1e-60}
# the retry's beams (facewire.phones.words): almost no pruning. Reverberant, noisy or
# oddly timed voices lose the right path under BEAMS (7 of 83 held-out synthetic clips);
# searched this wide they align, at a few times the cost, so only failures pay for it
WIDE_BEAMS = {"beam": 1e-200, "pbeam": 1e-200, "wbeam": 1e-200}


class ForcedAligner:
    """Aligns 16 kHz mono audio with its transcript; one decoder reused across clips."""

    def __init__(self, beams: dict[str, float] | None = None) -> None:
        from pocketsphinx import Decoder, get_model_path

        mp = get_model_path()
        # wide beams and the first pass only: the default pruning and the flat/best-path
        # passes drop words of fast synthetic speech from the alignment
        self.decoder = Decoder(hmm=os.path.join(mp, "en-us", "en-us"),
                               dict=os.path.join(mp, "en-us", "cmudict-en-us.dict"),
                               **(beams or BEAMS), bestpath=False, fwdflat=False,
                               loglevel="FATAL")
        self.last_score = 0.0
        self.last_frames = 0
        # pocketsphinx carries its noise estimate and cepstral mean from one utterance to
        # the next; each clip starts afresh, so it aligns the same whatever came before it
        self.initial_cmn = self.decoder.get_cmn()

    def add_words(self, pronunciations: dict[str, tuple[str, ...]]) -> None:
        """Add words (ARPAbet phones) to the dictionary for the rest of this aligner's life:
        out-of-dictionary words of a transcript (facewire.phones.lexicon)."""
        for word, phones in pronunciations.items():
            self.decoder.add_word(word, " ".join(phones), True)

    def _decode(self, pcm: bytes) -> None:
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()

    def align(self, audio: np.ndarray, text: str) -> list[Phone]:
        """Phones (ARPAbet, silence as SIL) covering the clip, in seconds."""
        words = [w for w in text.lower().split() if w]
        unknown = [w for w in words if self.decoder.lookup_word(w) is None]
        if unknown:
            raise AlignmentError(f"words not in the pocketsphinx dictionary: {unknown}")
        if not words:
            raise AlignmentError("nothing to align: empty text")
        pcm = padded_pcm(audio)
        fresh_stream(self.decoder, self.initial_cmn)
        self.decoder.set_align_text(" ".join(words))
        self._decode(pcm)
        try:
            self.decoder.set_alignment()
        except RuntimeError:  # the word pass found no path through the text
            alignment = None
        else:
            self._decode(pcm)
            alignment = self.decoder.get_alignment()
        if alignment is None:
            raise AlignmentError(f"pocketsphinx could not align {text!r} to "
                                 f"{len(audio) / SAMPLE_RATE:.2f} s of audio")
        # acoustic log-likelihood of the alignment (pocketsphinx log units) and its frames:
        # facewire.phones.plausibility compares it with a free phone loop's
        self.last_score = float(sum(w.score for w in alignment))
        self.last_frames = int(self.decoder.n_frames())
        phones: list[Phone] = []
        aligned = 0
        end_s = len(audio) / SAMPLE_RATE
        for word in alignment:
            aligned += word.name.split("(")[0] in words
            for ph in word:
                start = min(max(ph.start * FRAME_S - PAD_S, 0.0), end_s)
                end = min(max((ph.start + ph.duration) * FRAME_S - PAD_S, 0.0), end_s)
                try:
                    sym = arpabet_phones(ph.name)
                except KeyError:
                    sym = (SIL,)
                if end > start:
                    phones.append(Phone(sym[0], start, end))
        if aligned < len(words):
            raise AlignmentError(f"pocketsphinx aligned {aligned} of the {len(words)} words "
                                 f"of {text!r}")
        return phones

