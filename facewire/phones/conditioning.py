"""Cleaner copies of a clip for the aligner's retries (facewire.phones.words).

pocketsphinx's acoustic model was trained on fairly clean close-talk speech; on a noisy
clip the right path through the transcript can fall out of even a wide search. Stationary
spectral gating gives the aligner a copy it can follow; the take keeps the original audio.

The gate is the stationary mode of ``noisereduce`` (Sainburg et al.), written here on
scipy because importing that package loads torch whenever torch is installed, and the
runtime never imports torch.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve
from scipy.signal import istft, stft

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 256
N_STD = 1.5  # a bin is speech when this many noise deviations above the noise's mean dB
SMOOTH_MS = 50.0  # mask smoothing along time ...
SMOOTH_HZ = 500.0  # ... and frequency, so the gate does not chirp
# gated bins keep this share of their amplitude (-20 dB): a copy gated to digital silence
# lets any transcript fit with silence filling the rest (the free phone loop then cannot
# tell right words from wrong ones: another line was accepted on a clean clip)
FLOOR = 0.1


def denoised(audio: np.ndarray) -> np.ndarray:
    """``audio`` with its stationary background noise gated away (same length)."""
    x = np.asarray(audio, np.float64).ravel()
    _, _, spec = stft(x, SAMPLE_RATE, nperseg=N_FFT, noverlap=N_FFT - HOP)
    db = 20 * np.log10(np.abs(spec) + 1e-10)
    thresh = db.mean(axis=1, keepdims=True) + N_STD * db.std(axis=1, keepdims=True)
    mask = (db > thresh).astype(np.float64)
    nf = max(int(SMOOTH_HZ / (SAMPLE_RATE / N_FFT)), 1)
    nt = max(int(SMOOTH_MS / 1000 * SAMPLE_RATE / HOP), 1)
    ker = np.outer(np.hanning(nf + 2)[1:-1], np.hanning(nt + 2)[1:-1])
    mask = FLOOR + (1 - FLOOR) * convolve(mask, ker / ker.sum(), mode="constant")
    _, y = istft(spec * mask, SAMPLE_RATE, nperseg=N_FFT, noverlap=N_FFT - HOP)
    out = np.zeros_like(x)
    out[: min(len(x), len(y))] = y[: len(x)]
    return out.astype(np.float32)
