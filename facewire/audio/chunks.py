"""Blocks of any rate, channel count and size in; mono fixed-size chunks at one rate out.

Sources deliver what they have: a file in blocks at its own rate, a microphone in the
device's blocks, a TTS engine or game in whatever it pushes. A graph wants one rate and one
chunk size, with each chunk's place on the stream (the count of samples before it) and the
wall-clock time its first sample entered the system.
"""

from __future__ import annotations

import numpy as np

from facewire.dsp.resample import StreamingResampler


class Rechunker:
    """Mono samples of any block size in, fixed-size chunks out, media_time by count."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.buf = np.zeros(0, np.float32)
        self.samples_out = 0

    def push(self, mono: np.ndarray) -> list[tuple[np.ndarray, int]]:
        self.buf = np.concatenate([self.buf, mono.astype(np.float32)])
        out = []
        while self.buf.size >= self.chunk:
            out.append((self.buf[: self.chunk], self.samples_out))
            self.buf = self.buf[self.chunk:]
            self.samples_out += self.chunk
        return out


Chunk = tuple[np.ndarray, int, int]  # (mono samples, index of the first, its capture_ns)


class Chunker:
    """Resamples (one filter per input rate), mixes to mono and cuts into ``chunk`` samples
    at ``rate``.

    Capture times come from an ``anchor`` (an output sample index and its capture_ns) when
    the source has one: a microphone's ADC time, a file played from a known instant, a
    pushed chunk's own capture_ns; each chunk is then placed from the anchor by its sample
    count. Without one, a chunk takes the capture_ns of the block that completed it.
    """

    def __init__(self, rate: int, chunk: int) -> None:
        self.rate, self.chunk = rate, chunk
        self.rechunker = Rechunker(chunk)
        self.resamplers: dict[int, StreamingResampler] = {}
        self.anchor: tuple[int, int] | None = None  # (output sample index, capture_ns)

    @property
    def samples_in(self) -> int:
        """Output samples taken in so far: the index of the next block's first sample."""
        return self.rechunker.samples_out + self.rechunker.buf.size

    def _resampler(self, rate: int) -> StreamingResampler:
        if rate not in self.resamplers:
            self.resamplers[rate] = StreamingResampler(rate, self.rate, 1)
        return self.resamplers[rate]

    def capture_ns(self, start: int, fallback: int) -> int:
        """When output sample ``start`` entered the system: mapped from the anchor."""
        if self.anchor is None:
            return fallback
        index, ns = self.anchor
        return int(ns + (start - index) * 1e9 / self.rate)

    def push(self, block: np.ndarray, rate: int, capture_ns: int) -> list[Chunk]:
        """The whole chunks ``block`` (n or (n, channels) samples at ``rate``) completes."""
        mono = block.mean(axis=1) if block.ndim == 2 else block
        out = self._resampler(rate).process(mono)[:, 0]
        return [(samples, start, self.capture_ns(start, capture_ns))
                for samples, start in self.rechunker.push(out)]

    def finish(self, rate: int, total_in: int, pad: bool, capture_ns: int) -> list[Chunk]:
        """The rest, when a source of ``total_in`` samples at ``rate`` ends: exactly its
        length at the output rate, padded with silence to a whole chunk (``pad``) or ending
        with a short chunk."""
        rechunker = self.rechunker
        tail = self._resampler(rate).flush()[:, 0]
        total = -(-total_in * self.rate // rate)
        tail = tail[: max(0, total - rechunker.samples_out - rechunker.buf.size)]
        pending = tail.size + rechunker.buf.size
        padding = (-pending) % self.chunk if pad else 0
        chunks = rechunker.push(np.concatenate([tail, np.zeros(padding, np.float32)]))
        if not pad and rechunker.buf.size:  # the short last chunk
            chunks.append((rechunker.buf, rechunker.samples_out))
            rechunker.samples_out += rechunker.buf.size
            rechunker.buf = np.zeros(0, np.float32)
        return [(samples, start, self.capture_ns(start, capture_ns)) for samples, start in chunks]
