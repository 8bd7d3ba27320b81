"""landmarks node (S2L): Features in, 68 x 3 landmark displacements at 60 fps out.

Runs an exported streaming S2L model (ONNX + card) step by step, carrying its LSTM state
across messages, exactly as the blendshapes node runs its model; output frame k of a stream
describes media time origin + k / fps. The offline (bidirectional) S2L needs whole
utterances and is refused here; use it with ``LandmarkPredictor.predict`` on files.
"""

from __future__ import annotations

import numpy as np

from facewire.bus.clock import StreamClock
from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import Features, Landmarks
from facewire.nodes.features import check_features


class LandmarksNode(Node):
    inputs = {"features": Input(Features)}
    outputs = {"landmarks": Output(Landmarks)}
    params = {
        "model": Param(str, "", "S2L model folder or .onnx (empty: the bundled causal model)"),
        "device": Param(str, "auto", "onnxruntime device", choices=("auto", "cpu", "cuda")),
        "fps": Param(float, 60.0, "output frame rate", choices=(60.0, 30.0)),
    }

    def on_start(self) -> None:
        from facewire.models.mesh_runtime import LandmarkPredictor, default_landmark_model
        from facewire.models.runtime import ModelError

        self.model = LandmarkPredictor(self.p.model or default_landmark_model(), self.p.device,
                                       fps=self.p.fps)
        if not self.model.streaming:
            raise ModelError(f"{self.model.path}: {self.model.card['architecture']} is an "
                             "offline model; the landmarks node needs s2l_causal")
        self.kind = self.model.card["features"]["kind"]
        self.rig = self.model.card.get("rig", "ict_facekit")
        feature_delay = self.model.logmel.delay_s if self.model.logmel is not None else 0.0
        self.delay_s = self.model.delay_s - feature_delay
        self.clock = StreamClock(self.model.fps)  # frame k: origin + k / fps
        self.log.info("S2L %s, %g fps, delay %.0f ms", self.model.card["architecture"],
                      self.p.fps, 1000 * self.delay_s)

    def on_features(self, msg: Features) -> None:
        frames = msg.values
        check_features(msg, self.kind, self.model.dim, self.model.rate)
        if self.clock.starts_stream(msg.header.media_time):
            if self.clock.started:
                self.counters["discontinuities"] += 1
            self.model.reset()
        self.clock.arrive(msg.header, len(frames) / msg.frame_rate)
        self._send(self.model.step(frames))

    def _send(self, disp: np.ndarray) -> None:
        for d in disp.astype(np.float32):
            self.publish("landmarks", Landmarks(displacements=d, rig=self.rig,
                                                fps=self.model.fps, header=self.clock.stamp()))

    def end_of_stream(self) -> None:
        if self.clock.started:
            self._send(self.model.flush())
