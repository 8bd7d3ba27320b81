"""blendshapes node: Features in, ARKit Blendshapes at the model's frame rate out.

Runs an exported model (ONNX + model card) with onnxruntime step by step, carrying its
recurrent state across messages. Output frame k of a stream describes media time
origin + k / fps. An energy gate on the same features relaxes the face to neutral in
silence, so background noise does not make the mouth flutter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facewire.bus.clock import StreamClock
from facewire.bus.node import Input, Node, Output, Param
from facewire.dsp.vad import RelaxGain
from facewire.messages.types import Blendshapes, Features
from facewire.nodes.features import check_features

if TYPE_CHECKING:
    from facewire.models.runtime import StreamingPredictor


class BlendshapesNode(Node):
    inputs = {"features": Input(Features)}
    outputs = {"blendshapes": Output(Blendshapes)}
    params = {
        "model": Param(str, "", "model folder or .onnx (empty: the bundled default)"),
        "device": Param(str, "auto", "onnxruntime device", choices=("auto", "cpu", "cuda")),
        "fps": Param(float, 60.0, "output frame rate", choices=(60.0, 30.0)),
        "vad": Param(str, "energy", "voice activity gate", choices=("energy", "none")),
        "silence_reset_s": Param(float, -1.0, "silence after which the network's recurrent "
                                 "state starts afresh (-1: the model card's; 0: never)",
                                 min=-1.0, max=60.0),
        "subject": Param(str, "", "character name carried to the bridges"),
    }

    def load_model(self) -> StreamingPredictor:
        """The model this node runs; offline runners override it to reuse a loaded one."""
        from facewire.models.runtime import StreamingPredictor, default_model_path

        return StreamingPredictor(self.p.model or default_model_path(), self.p.device,
                                  fps=self.p.fps, silence_reset_s=(
                                      None if self.p.silence_reset_s < 0
                                      else self.p.silence_reset_s))

    def on_start(self) -> None:
        self.model = self.load_model()
        self.kind = self.model.card["features"]["kind"]
        if self.kind not in ("logmel", "wav2vec2"):
            raise ValueError(f"model {self.model.path} needs {self.kind} features; the "
                             "features node makes logmel or wav2vec2")
        # the features node states its own lookahead; this node adds the model's
        feature_delay = self.model.logmel.delay_s if self.model.logmel is not None else 0.0
        self.delay_s = self.model.delay_s - feature_delay
        self.dim = self.model.dim
        self.hint = ("match the features node's n_mels to the model" if self.kind == "logmel"
                     else "point the features node at the model's wav2vec folder and layer "
                     f"({self.model.card['features'].get('wav2vec')})")
        # the energy gate reads log-mel power; wav2vec 2.0 frames carry no level to gate on
        self.vad = self.p.vad if self.kind == "logmel" else "none"
        if self.vad != self.p.vad:
            self.log.warning("vad %r needs log-mel features; this %s model runs without it",
                             self.p.vad, self.kind)
        self.clock = StreamClock(self.model.fps)  # frame k: origin + k / fps
        self.log.info("model %s on %s, %g fps, delay %.0f ms", self.model.card.get("architecture"),
                      self.p.device, self.p.fps, 1000 * self.delay_s)

    def _restart(self) -> None:
        self.model.reset()
        self.gain = RelaxGain(self.model.fps)
        self.speech: list[bool] = []  # per feature frame, from index speech_base on
        self.speech_base = 0

    def on_features(self, msg: Features) -> None:
        frames = msg.values
        check_features(msg, self.kind, self.dim, self.model.rate, self.hint)
        if self.clock.starts_stream(msg.header.media_time):
            if self.clock.started:
                self.counters["discontinuities"] += 1
            self._restart()
        self.clock.arrive(msg.header, len(frames) / msg.frame_rate)
        weights = self.model.step(frames)
        # the model's own energy gate (it also decides its silence resets): one gate a stream
        speech = self.model.speech if self.vad == "energy" else np.ones(len(frames), bool)
        self.speech.extend(speech.tolist())
        if len(self.speech) > 2000:  # keep a bounded window; outputs trail inputs slightly
            del self.speech[:1000]
            self.speech_base += 1000
        self._send(weights, msg.frame_rate)

    def _send(self, weights: np.ndarray, feature_rate: float) -> None:
        """Gate, clip (once for all frames) and publish one message per frame."""
        if len(weights) == 0:
            return
        first = self.clock.index
        gains = np.ones(len(weights))
        if self.vad == "energy":
            last = len(self.speech) - 1
            for i in range(len(weights)):
                fi = int(round((first + i) * feature_rate / self.model.fps)) - self.speech_base
                gains[i] = self.gain.step(bool(self.speech[min(max(fi, 0), last)]))
        frames = np.clip(weights * gains[:, None], 0.0, 1.0).astype(np.float32)
        fps = self.model.fps
        msg: Blendshapes | None = None
        for w in frames:
            header = self.clock.stamp()
            # the first message built through __init__, the others copied from it: offline
            # runs send a second of frames at once, and __init__ costs more than the copy
            msg = (Blendshapes(weights=w, name_set="arkit52", fps=fps, subject=self.p.subject,
                               header=header) if msg is None
                   else msg.with_fields(weights=w, header=header))
            self.publish("blendshapes", msg)

    def end_of_stream(self) -> None:
        if self.clock.started:
            self._send(self.model.flush(), self.model.rate)
