"""Stateful polyphase resampling for audio streams of any block size.

The anti-aliasing filter is the one scipy.signal.resample_poly designs (Kaiser window,
beta 5, half-length 10 * max(up, down)), and output sample ``n`` is aligned with input
time ``n / out_rate`` (the filter's group delay is compensated, as resample_poly does),
so a streamed result matches resample_poly away from the signal's ends. Each output
waits for ``half_len / up`` future input samples: under a millisecond at speech rates.
"""

from __future__ import annotations

from math import gcd

import numpy as np


def kaiser_lowpass(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta)) in numpy alone:
    importing scipy.signal takes over a second of an audio node's start."""
    m = np.arange(numtaps) - (numtaps - 1) / 2
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / h.sum()  # unit gain at DC, as firwin scales it


class StreamingResampler:
    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        g = gcd(int(in_rate), int(out_rate))
        self.up, self.down = int(out_rate) // g, int(in_rate) // g
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), channels
        self.passthrough = self.up == self.down == 1
        if self.passthrough:
            return
        self.half_len = 10 * max(self.up, self.down)
        h = kaiser_lowpass(2 * self.half_len + 1, 1.0 / max(self.up, self.down), 5.0)
        h = h * self.up
        self.taps = -(-h.size // self.up)  # taps per phase
        padded = np.zeros(self.taps * self.up)
        padded[: h.size] = h
        # phases[p, i] = h[p + i * up]: output with phase p uses x[j], x[j-1], ... x[j-taps+1]
        self.phases = padded.reshape(self.taps, self.up).T.copy()
        self.delay_s = self.half_len / self.up / self.in_rate
        self._hist = np.zeros((self.taps - 1, channels))  # x[-taps+1 .. -1] are zeros
        self._hist_start = -(self.taps - 1)  # global index of _hist[0]
        self._n_out = 0  # next output index

    def process(self, block: np.ndarray) -> np.ndarray:
        """(n, channels) in, (m, channels) float64 out; m depends on what is complete."""
        block = np.asarray(block, np.float64).reshape(-1, self.channels)
        if self.passthrough:
            return block
        buf = np.concatenate([self._hist, block])
        end = self._hist_start + buf.shape[0]  # one past the last global input index
        # output n needs input index j(n) = floor((n*down + half_len) / up) < end
        last_n = (end * self.up - self.half_len - 1) // self.down
        n = np.arange(self._n_out, last_n + 1)
        out = np.zeros((n.size, self.channels))
        if n.size:
            q = n * self.down + self.half_len
            j, p = q // self.up, q % self.up
            idx = (j - self._hist_start)[:, None] - np.arange(self.taps)[None, :]
            windows = buf[idx]  # (m, taps, channels)
            out = np.einsum("mtc,mt->mc", windows, self.phases[p])
            self._n_out = int(last_n) + 1
        # keep the history the next output needs: indices >= j(next) - taps + 1
        next_j = (self._n_out * self.down + self.half_len) // self.up
        drop = min(max(0, next_j - self.taps + 1 - self._hist_start), buf.shape[0])
        self._hist = buf[drop:]
        self._hist_start += drop
        return out

    def flush(self) -> np.ndarray:
        """End of stream: zeros in until every input sample has its outputs."""
        if self.passthrough:
            return np.zeros((0, self.channels))
        return self.process(np.zeros((self.half_len // self.up + self.taps + 1, self.channels)))


def resample(signal: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Offline resampling of a whole (n,) or (n, channels) signal through the same filter."""
    x = np.asarray(signal, np.float64)
    flat = x.ndim == 1
    x = x.reshape(len(x), -1)
    r = StreamingResampler(in_rate, out_rate, x.shape[1])
    n_out = -(-len(x) * r.up // r.down) if not r.passthrough else len(x)
    y = np.concatenate([r.process(x), r.flush()])[:n_out]
    return y[:, 0] if flat else y
