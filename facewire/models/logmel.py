"""Causal streaming log-mel spectrogram; the same code computes offline features.

Frame ``t`` describes the hop block ``[t*hop, (t+1)*hop)`` of the signal. Its analysis
window ends ``lookahead`` samples after that block, so a frame needs no audio later
than ``(t+1)*hop + lookahead``: with ``lookahead=0`` the features are strictly causal.
Samples before the start of the stream are zeros. Streaming and offline runs compute
each frame from the same samples with the same arithmetic, so they agree exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16000
    n_fft: int = 400  # 25 ms analysis window
    hop: int = 160  # 10 ms: 100 frames per second
    n_mels: int = 80
    fmin: float = 20.0
    fmax: float = 7600.0
    lookahead: int = 0  # samples of future audio each frame may use
    floor: float = 1e-6  # power floor before the log (silence maps to log(floor))

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def delay_s(self) -> float:
        """Algorithmic delay: how much future audio a frame waits for."""
        return self.lookahead / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(cfg: LogMelConfig) -> np.ndarray:
    """Triangular HTK-mel filters, shape (n_mels, n_fft // 2 + 1), area-normalised."""
    freqs = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank *= (2.0 / (upper - lower))
    return bank.astype(np.float64)


@lru_cache(maxsize=16)
def _analysis(cfg: LogMelConfig) -> tuple[np.ndarray, np.ndarray]:
    """(periodic Hann window, mel filterbank transposed and contiguous), made once per config:
    an offline run starts a stream per file, and building the bank cost more than a second of
    audio's frames. Contiguous, because BLAS multiplies by a transposed view several times
    slower. Read-only, as they are shared."""
    window = np.hanning(cfg.n_fft + 1)[:-1]
    bank_t = np.ascontiguousarray(mel_filterbank(cfg).T)
    window.flags.writeable = bank_t.flags.writeable = False
    return window, bank_t


class StreamingLogMel:
    """Feed audio in any block sizes; get every frame whose window is complete."""

    def __init__(self, cfg: LogMelConfig | None = None) -> None:
        self.cfg = cfg or LogMelConfig()
        self.window, self.bank_t = _analysis(self.cfg)
        # history before t=0 is silence; the first window ends at hop + lookahead
        self._buf = np.zeros(self.cfg.n_fft - self.cfg.hop - self.cfg.lookahead, np.float64)
        if self._buf.size < 0:
            raise ValueError("lookahead must not exceed n_fft - hop")
        self.frames_out = 0

    def reset(self) -> None:
        self.__init__(self.cfg)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Mono float samples in; (frames, n_mels) float32 out (possibly zero frames)."""
        cfg = self.cfg
        self._buf = np.concatenate([self._buf, np.asarray(samples, np.float64).ravel()])
        n = 0 if self._buf.size < cfg.n_fft else 1 + (self._buf.size - cfg.n_fft) // cfg.hop
        if n == 0:
            return np.zeros((0, cfg.n_mels), np.float32)
        # the frames as a strided view of the (contiguous) buffer: no index arrays, and
        # cheap enough for the one frame of a live 10 ms chunk
        item = self._buf.itemsize
        frames = np.ndarray((n, cfg.n_fft), self._buf.dtype, buffer=self._buf,
                            strides=(cfg.hop * item, item))
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2
        mel = np.log(np.maximum(power @ self.bank_t, cfg.floor))
        self._buf = self._buf[n * cfg.hop:]
        self.frames_out += n
        return mel.astype(np.float32)

    def flush(self) -> np.ndarray:
        """At end of stream: pad with silence so the last hop blocks get their frames."""
        pad = self.cfg.lookahead + self.cfg.hop - 1
        return self.process(np.zeros(pad)) if pad > 0 else self.process(np.zeros(0))


def logmel(signal: np.ndarray, cfg: LogMelConfig | None = None) -> np.ndarray:
    """Offline features of a whole signal, one frame per complete hop block.

    Computed over the padded signal at once (not through StreamingLogMel), so tests can
    check the streaming path against it.
    """
    cfg = cfg or LogMelConfig()
    signal = np.asarray(signal, np.float64).ravel()
    n_blocks = len(signal) // cfg.hop
    padded = np.concatenate([
        np.zeros(cfg.n_fft - cfg.hop - cfg.lookahead), signal, np.zeros(cfg.lookahead + cfg.hop),
    ])
    frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft)[:: cfg.hop][:n_blocks]
    window, bank_t = _analysis(cfg)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return np.log(np.maximum(power @ bank_t, cfg.floor)).astype(np.float32)
