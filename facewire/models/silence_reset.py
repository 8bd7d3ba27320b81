"""Return a recurrent model to its start in long silence, as its training clips began.

Training clips start a few hundred ms before speech, from the network's initial state; a
microphone stream does not. After seconds of room noise or silence the recurrent state
drifts somewhere training never visited, and the first words after a pause lose their
closures (the live model closed 44% of real English /p b m/ after a second of -60 dBFS
noise against 62% without; docs/validation.md). So while the energy gate has heard no
speech for ``after_s``, each frame starts from the initial recurrent state; the
convolution buffers keep the real recent frames.
"""

from __future__ import annotations

import numpy as np

from facewire.dsp.vad import EnergyGate


class SilenceReset:
    """Marks the feature frames before which the recurrent state goes back to its start."""

    def __init__(self, after_s: float, frame_rate: float) -> None:
        self.after = int(round(after_s * frame_rate))
        self.frame_rate = frame_rate
        self.reset()

    @property
    def enabled(self) -> bool:
        return self.after > 0

    def reset(self) -> None:
        self.gate = EnergyGate(self.frame_rate)
        self.quiet = 0  # silent frames in a row so far
        self.speech = np.zeros(0, bool)  # the gate's verdict on the last push's frames

    def push(self, logmel_frames: np.ndarray) -> np.ndarray:
        """One bool per frame (raw log-mel, before any normalisation): reset before it.
        The gate runs even when resets are off: its verdict (``speech``) is the one the
        blendshapes node relaxes the face with, so a stream is gated once."""
        self.speech = self.gate.push(logmel_frames)
        marks = np.zeros(len(logmel_frames), bool)
        if not self.enabled:
            return marks
        for i, speech in enumerate(self.speech):
            self.quiet = 0 if speech else self.quiet + 1
            marks[i] = self.quiet >= self.after
        return marks


def segments(marks: np.ndarray, longest: int) -> list[tuple[int, int, bool]]:
    """(start, stop, reset_first) runs: every marked frame alone, unmarked ones together in
    blocks of at most ``longest`` frames."""
    out: list[tuple[int, int, bool]] = []
    a = 0
    while a < len(marks):
        if marks[a]:
            out.append((a, a + 1, True))
            a += 1
            continue
        b = a + 1
        while b < len(marks) and not marks[b] and b - a < longest:
            b += 1
        out.append((a, b, False))
        a = b
    return out
