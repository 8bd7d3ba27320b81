"""Alignment retries of the words path: a reverberant, noisy clip that the plain search
cannot align takes the words path after all, and the retries accept no wrong transcript.
Speech is real espeak-ng synthesis, the room a seeded exponential-decay impulse response
(RT60 0.8 s) with white noise at 5 dB SNR; alignment is real pocketsphinx."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from scipy.signal import fftconvolve

from facewire.phones.conditioning import FLOOR, denoised
from facewire.phones.words import WordsAligner

LINE_A = "Bob made a map of the moon by the pool."
LINE_B = "Judge Shaw chose the cheap shoes in June, and she was right."


def reverberant(x: np.ndarray, rt60: float = 0.8, snr_db: float = 5.0) -> np.ndarray:
    """A far-field copy: a late reverberant tail, white noise, -12 dB."""
    rng = np.random.default_rng(0)
    t = np.arange(int(rt60 * 16000)) / 16000
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    rir[0] = 10.0  # direct path
    wet = fftconvolve(x, rir)[: len(x)]
    wet *= np.abs(x).max() / np.abs(wet).max()
    noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(wet**2) / 10 ** (snr_db / 10))
    return ((wet + noise) * 0.25).astype(np.float32)


@pytest.fixture(scope="module")
def far_clip(tmp_path_factory) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    from facewire.train.data.loaders import load_audio

    wav = tmp_path_factory.mktemp("far") / "a.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), LINE_A], check=True)
    return reverberant(load_audio(wav))


def test_the_gate_lowers_noise_but_never_to_silence() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(32000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (t > 1.0)  # a second of noise, then a tone
    noise = 0.02 * rng.standard_normal(len(t))
    out = denoised(tone + noise)
    assert out.shape == t.shape
    quiet = slice(2000, 14000)
    ratio = np.std(out[quiet]) / np.std(noise[quiet])
    assert FLOOR * 0.5 < ratio < 0.5  # attenuated, down to the floor but not below
    loud = slice(20000, 30000)
    assert np.corrcoef(out[loud], tone[loud])[0, 1] > 0.95


def test_a_reverberant_noisy_clip_aligns_on_retry(far_clip) -> None:
    from facewire.phones.align import AlignmentError

    wa = WordsAligner()  # fresh: pocketsphinx's running mean normalisation has seen nothing
    with pytest.raises(AlignmentError):  # the plain search loses the path ...
        wa.aligner.align(far_clip, "bob made a map of the moon by the pool")
    src = wa.align_text(far_clip, LINE_A)  # ... a retry finds it, and it passes the check
    assert src.source == "transcript", src.reason
    assert "noise-gated" in src.reason or "wide search" in src.reason
    assert sum(p.phone in ("P", "B", "M") for p in src.phones) >= 8
    wrong = wa.align_text(far_clip, LINE_B)  # the retries accept no other line
    assert wrong.source == "audio" and wrong.fallback


def test_a_clip_aligns_the_same_whatever_was_aligned_before(tmp_path) -> None:
    """pocketsphinx keeps noise and cepstral statistics between utterances: a batch worker's
    take must not depend on the lines it did before (the aligner starts each clip afresh)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    from facewire.train.data.loaders import load_audio

    clips = {}
    for name, voice, line in (("a", "en-us", LINE_A), ("b", "en-gb", LINE_B)):
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(tmp_path / f"{name}.wav"), line],
                       check=True)
        clips[name] = load_audio(tmp_path / f"{name}.wav")
    aligner = WordsAligner()

    def phones() -> list[tuple[str, float, float]]:
        src = aligner.align_text(clips["a"], LINE_A)
        assert src.phones is not None, src.reason
        return [(p.phone, p.start, p.end) for p in src.phones]

    first = phones()
    assert phones() == first  # the same clip again
    aligner.align_text(clips["b"], LINE_B)  # another line and voice between
    assert phones() == first
