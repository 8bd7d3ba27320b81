"""Bilabial closures that sound like people's: augmentations of the /p b m/ intervals.

A synthesiser closes /b/ with clean silence; in fast connected speech a person's /b/ is
often a short, voiced, noisy or reverberant dip, and a network trained on the
clean kind misses it. Each augmentation changes only the audio inside a bilabial's
interval; its phones, and so the teacher's label, stay "closed":

* ``voiced``: a voice bar, a low-passed glottal buzz at the speaker's pitch range;
* ``noisy``: room or microphone noise a little under the neighbouring speech;
* ``smeared``: the sounds on either side run into the closure (a reverberant tail of the
  sound before and an early onset of the one after), which leaves a shorter, shallower dip.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from facewire.phones.arpabet import BILABIALS, SIL, Phone

SAMPLE_RATE = 16000
MODES = ("voiced", "noisy", "smeared")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _voice_bar(n: int, rng: np.random.Generator) -> np.ndarray:
    f0 = float(rng.uniform(85, 240))
    t = np.arange(n) / SAMPLE_RATE
    phase = 2 * np.pi * f0 * t + float(rng.uniform(0, 2 * np.pi))
    buzz = np.sign(np.sin(phase)) + 0.3 * rng.standard_normal(n)
    return sosfilt(butter(4, 400, fs=SAMPLE_RATE, output="sos"), buzz)


def _smear(x: np.ndarray, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """The closure filled from both sides with decaying copies of its neighbours."""
    n = b - a
    tau = float(rng.uniform(0.015, 0.05)) * SAMPLE_RATE
    decay = np.exp(-np.arange(n) / tau)
    src_before = x[max(0, a - n):a]
    src_after = x[b:b + n]
    out = np.zeros(n)
    if len(src_before):
        tail = np.resize(src_before[::-1], n)  # mirror the preceding sound into the gap
        out += tail * decay
    if len(src_after):
        onset = np.resize(src_after, n)[::-1]  # and the next one, early, backwards
        out += onset * decay[::-1]
    return out * float(rng.uniform(0.3, 0.7))


def closure_augment(x: np.ndarray, phones: list[Phone], rng: np.random.Generator,
                    strength: float = 1.0) -> tuple[np.ndarray, dict]:
    """Each /p b m/ interval is changed with probability ``0.6 * strength`` by one of
    ``MODES``; returns the new audio and how many of each were made (for the manifest).
    No random number is drawn when ``strength`` is 0, so earlier corpora rebuild as they
    were."""
    counts = dict.fromkeys(MODES, 0)
    if strength <= 0:
        return x, {}
    y = np.asarray(x, np.float64).copy()
    level = _rms(x)
    for p in phones:
        if p.phone not in BILABIALS or rng.random() >= 0.6 * strength:
            continue
        a, b = int(p.start * SAMPLE_RATE), min(len(y), int(p.end * SAMPLE_RATE))
        if b - a < SAMPLE_RATE // 200:  # under 5 ms: nothing to change
            continue
        mode = MODES[int(rng.integers(len(MODES)))]
        n = b - a
        ramp = np.hanning(n)
        if mode == "voiced":
            bar = _voice_bar(n, rng)
            gain = level * 10 ** (float(rng.uniform(-22, -10)) / 20) / (_rms(bar) + 1e-12)
            y[a:b] += bar * gain * ramp
        elif mode == "noisy":
            noise = rng.standard_normal(n)
            gain = level * 10 ** (float(rng.uniform(-26, -12)) / 20)
            y[a:b] += noise * gain * ramp
        else:
            y[a:b] += _smear(y, a, b, rng)
        counts[mode] += 1
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32), {f"closure_{k}": v for k, v in counts.items() if v}


def pad_silence(x: np.ndarray, phones: list[Phone], rng: np.random.Generator,
                strength: float = 1.0) -> tuple[np.ndarray, list[Phone], dict]:
    """0.3-3 s of low noise (-75 to -50 dBFS) or digital silence before and after the
    speech, phones shifted: a microphone's stream has long quiet stretches between
    utterances, and a network that only saw clips starting within a few hundred ms of
    speech closes the lips less after them (docs/validation.md). Nothing is drawn when
    ``strength`` is 0."""
    if strength <= 0 or rng.random() >= min(1.0, 0.7 * strength):
        return x, phones, {}
    lead, tail = (int(float(rng.uniform(0.3, 3.0)) * SAMPLE_RATE) for _ in range(2))
    level = float(rng.uniform(-75, -50))
    digital = bool(rng.random() < 0.25)

    def quiet(n: int) -> np.ndarray:
        if digital:
            return np.zeros(n, np.float32)
        return (rng.standard_normal(n) * 10 ** (level / 20)).astype(np.float32)

    shift = lead / SAMPLE_RATE
    moved = [Phone(p.phone, p.start + shift, p.end + shift) for p in phones]
    y = np.concatenate([quiet(lead), np.asarray(x, np.float32), quiet(tail)])
    return y, [Phone(SIL, 0.0, shift), *moved], {
        "pad_lead_s": shift, "pad_tail_s": tail / SAMPLE_RATE,
        "pad_level_db": None if digital else round(level, 1)}
