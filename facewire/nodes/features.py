"""features node: AudioChunks in, streaming log-mel (or wav2vec 2.0) Features out.

Each Features message carries the frames that became complete with the latest chunk;
media_time is the start of the first frame's hop block, and capture_ns is when the audio
at that time entered the system, mapped through the chunk it came from.
"""

from __future__ import annotations

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import AudioChunk, Features
from facewire.models.logmel import LogMelConfig, StreamingLogMel


class FeaturesNode(Node):
    """Causal log-mel spectrogram with a configurable lookahead."""

    inputs = {"audio": Input(AudioChunk)}
    outputs = {"features": Output(Features)}
    params = {
        "kind": Param(str, "logmel", "logmel (wav2vec comes from a local model folder)",
                      choices=("logmel",)),
        "sample_rate": Param(int, 16000, "expected input rate (put an audio node in front)"),
        "n_mels": Param(int, 80, "mel bands", min=8, max=256),
        "lookahead_ms": Param(float, 0.0, "future audio each frame may use", min=0.0, max=15.0),
    }

    def on_start(self) -> None:
        self.cfg = LogMelConfig(sample_rate=self.p.sample_rate, n_mels=self.p.n_mels,
                                n_fft=int(self.p.sample_rate * 0.025),
                                hop=int(self.p.sample_rate * 0.010),
                                lookahead=int(self.p.sample_rate * self.p.lookahead_ms / 1000))
        self.delay_s = self.cfg.delay_s
        self.stream = StreamingLogMel(self.cfg)
        self.expected_time: float | None = None

    def on_audio(self, msg: AudioChunk) -> None:
        if msg.sample_rate != self.cfg.sample_rate:
            raise ValueError(
                f"AudioChunk at {msg.sample_rate} Hz, features expect {self.cfg.sample_rate} Hz: "
                "route audio through an audio node (source: topic) to resample"
            )
        t = msg.header.media_time
        if self.expected_time is None or abs(t - self.expected_time) > 0.5 / msg.sample_rate:
            if self.expected_time is not None:
                self.counters["discontinuities"] += 1
            self.stream = StreamingLogMel(self.cfg)  # a new stream: restart its clock
            self.origin = t
        samples = msg.samples.mean(axis=1) if msg.samples.shape[1] > 1 else msg.samples[:, 0]
        self.expected_time = t + len(samples) / msg.sample_rate
        first = self.stream.frames_out
        frames = self.stream.process(samples)
        if len(frames) == 0:
            return
        media_time = self.origin + first * self.cfg.hop / self.cfg.sample_rate
        capture_ns = msg.header.capture_ns + int((media_time - t) * 1e9)
        self.publish("features", Features(
            values=np.ascontiguousarray(frames), kind="logmel", frame_rate=self.cfg.frame_rate,
        ).with_header(media_time=media_time, capture_ns=capture_ns))
