"""features node: AudioChunks in, streaming log-mel or wav2vec 2.0 Features out.

Each Features message carries the frames that became complete with the latest chunk.
media_time is the first frame's place on the frame grid, ``origin + j / frame_rate`` (for
log-mel the start of its hop block, for wav2vec 2.0 the start of its convolutional span);
the time a frame describes adds the kind's ``t0`` (the model card's ``features.t0``). The
first message of a stream therefore carries the stream's start time, which the blendshapes
node takes as its origin. capture_ns is when the audio at media_time entered the system,
mapped through the chunk it came from.

wav2vec 2.0 (``kind: wav2vec2``) is read from a local folder (no hub here) and streamed with
overlapping windows (:mod:`facewire.models.wav2vec_stream`): frames at the model's own rate
(50 fps), converted to the animation rate by the blendshapes node, like log-mel's 100 fps.
"""

from __future__ import annotations

import numpy as np

from facewire.bus.clock import StreamClock
from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import AudioChunk, Features
from facewire.models.logmel import LogMelConfig, StreamingLogMel
from facewire.models.wav2vec import load_wav2vec


def check_features(msg: Features, kind: str, dim: int, rate: float, hint: str = "") -> None:
    """Raise (the node counts and logs it) unless ``msg`` carries what a model reads."""
    if msg.values.shape[1] != dim or msg.kind != kind:
        raise ValueError(f"model expects {kind} x {dim}, got {msg.kind} x "
                         f"{msg.values.shape[1]}" + (f": {hint}" if hint else ""))
    if abs(msg.frame_rate - rate) > 1e-6:
        raise ValueError(f"model expects {kind} frames at {rate:g} fps, got "
                         f"{msg.frame_rate:g} fps")


class FeaturesNode(Node):
    """Causal log-mel spectrogram with a configurable lookahead, or windowed wav2vec 2.0."""

    inputs = {"audio": Input(AudioChunk)}
    outputs = {"features": Output(Features)}
    params = {
        "kind": Param(str, "logmel", "logmel, or wav2vec2 from a local model folder",
                      choices=("logmel", "wav2vec2")),
        "sample_rate": Param(int, 16000, "expected input rate (put an audio node in front)"),
        "n_mels": Param(int, 80, "mel bands", min=8, max=256),
        "lookahead_ms": Param(float, 0.0, "future audio each frame may use", min=0.0, max=15.0),
        "wav2vec_path": Param(str, "", "wav2vec2: local model folder (save_pretrained)"),
        "wav2vec_layer": Param(int, -1, "wav2vec2: hidden layer (-1: the last)"),
        "context_s": Param(float, 1.0, "wav2vec2: window length (left context)",
                           min=0.1, max=30.0),
        "hop_s": Param(float, 0.1, "wav2vec2: new audio between windows", min=0.02, max=5.0),
        "margin_s": Param(float, 0.06, "wav2vec2: right context a frame waits for",
                          min=0.0, max=5.0),
        "device": Param(str, "cpu", "wav2vec2: torch device", choices=("cpu", "cuda", "auto")),
        "threads": Param(int, 0, "wav2vec2: torch CPU threads (0: leave as is)", min=0),
    }

    def on_start(self) -> None:
        if self.p.kind == "wav2vec2":
            self._start_wav2vec()
        else:
            self.cfg = LogMelConfig(sample_rate=self.p.sample_rate, n_mels=self.p.n_mels,
                                    n_fft=int(self.p.sample_rate * 0.025),
                                    hop=int(self.p.sample_rate * 0.010),
                                    lookahead=int(self.p.sample_rate * self.p.lookahead_ms
                                                  / 1000))
            self.delay_s = self.cfg.delay_s
            self.sample_rate = self.cfg.sample_rate
            self.step = self.cfg.hop  # samples per frame
            self.frame_rate = self.cfg.frame_rate
            self.new_stream = lambda: StreamingLogMel(self.cfg)
        self.stream = self.new_stream()
        # frames on the grid origin + j * step / sample_rate; chunks must follow on exactly
        self.clock = StreamClock(self.sample_rate, self.step, tolerance=0.5 / self.sample_rate)

    def _start_wav2vec(self) -> None:
        from facewire.models.wav2vec import SAMPLE_RATE
        from facewire.models.wav2vec_stream import StreamingWav2Vec

        if self.p.sample_rate != SAMPLE_RATE:
            raise ValueError(f"wav2vec 2.0 reads {SAMPLE_RATE} Hz audio, sample_rate is "
                             f"{self.p.sample_rate}: resample in the audio node")
        encoder = load_wav2vec(self.p.wav2vec_path, self.p.wav2vec_layer, self.p.device)
        if self.p.threads:
            encoder.torch.set_num_threads(self.p.threads)
        args = (encoder, self.p.context_s, self.p.hop_s, self.p.margin_s, SAMPLE_RATE)
        probe = StreamingWav2Vec(*args)  # checks the window parameters now, not at a chunk
        self.new_stream = lambda: StreamingWav2Vec(*args)
        self.sample_rate = SAMPLE_RATE
        self.step = encoder.stride
        self.frame_rate = probe.rate
        self.delay_s = probe.delay_s
        self.log.info("wav2vec 2.0 from %s (layer %d, dim %d, %g fps): %.2f s windows every "
                      "%.2f s, delay %.0f ms", encoder.model_dir, encoder.layer, encoder.dim,
                      self.frame_rate, self.p.context_s, self.p.hop_s, 1000 * self.delay_s)

    def on_audio(self, msg: AudioChunk) -> None:
        if msg.sample_rate != self.sample_rate:
            raise ValueError(
                f"AudioChunk at {msg.sample_rate} Hz, features expect {self.sample_rate} Hz: "
                "route audio through an audio node (source: topic) to resample"
            )
        if self.clock.starts_stream(msg.header.media_time):
            if self.clock.started:
                self.counters["discontinuities"] += 1
                self._flush()  # wav2vec: the frames still waiting for right context
            self.stream = self.new_stream()  # a new stream: its frames count from 0 again
        samples = msg.samples.mean(axis=1) if msg.samples.shape[1] > 1 else msg.samples[:, 0]
        self.clock.arrive(msg.header, len(samples) / msg.sample_rate)
        self._publish(self.stream.process(samples))

    def _publish(self, frames: np.ndarray) -> None:
        if len(frames) == 0:
            return
        self.publish("features", Features(
            values=np.ascontiguousarray(frames), kind=self.p.kind, frame_rate=self.frame_rate,
            header=self.clock.stamp(len(frames))))

    def _flush(self) -> None:
        if self.p.kind == "wav2vec2":
            self._publish(self.stream.flush())

    def end_of_stream(self) -> None:
        if self.clock.started:
            self._flush()
