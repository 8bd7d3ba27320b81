"""emotion node: speech Blendshapes + Emotion control in, emotional Blendshapes out.

Sits between the predictor and the smoother. Each speech frame is fused with the current
emotion by the disentangled fusion module (seed 004; ``facewire.emotion``): the expression
keeps its brows, eyes and mouth corners, but its secondary mouth deformations (a surprise's
jaw drop, a smile's parted lips) are removed, so the lips still close on /p b m/. Emotion
changes glide over ``ease_s`` seconds of media time. A bad control message (unknown
emotion, intensity outside [0, 1], negative weights) is logged and ignored; the previous
emotion stays. ``mode: naive`` adds the expression preset instead (the baseline), ``off``
passes speech through.
"""

from __future__ import annotations

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.emotion.easing import EmotionEaser
from facewire.emotion.presets import EmotionError, check_intensity, mix_vector, parse_mix
from facewire.messages.types import EMOTIONS, Blendshapes, Emotion, MeshDeform


class EmotionNode(Node):
    inputs = {"input": Input(Blendshapes, help="speech-driven ARKit frames"),
              "emotion": Input(Emotion, depth=100, help="emotion control messages")}
    outputs = {"output": Output(Blendshapes, help="fused ARKit frames"),
               "deform": Output(MeshDeform, help="fused mesh displacements (mesh: true)")}
    params = {
        "emotion": Param(str, "neutral", "emotion at start", choices=EMOTIONS),
        "mix": Param(dict, {}, "emotion mix at start instead, e.g. {happy: 0.6, surprised: "
                     "0.4} (weights are normalised)"),
        "intensity": Param(float, 0.5, "emotion intensity at start", min=0.0, max=1.0),
        "ease_s": Param(float, 0.4, "seconds of media time a change of emotion takes", min=0.0),
        "mode": Param(str, "fusion", "fusion (seed 004) | naive (sum of weights) | off",
                      choices=("fusion", "naive", "off")),
        "model": Param(str, "", "fusion model .json/.onnx/folder (empty: the shipped one)"),
        "mesh": Param(bool, False, "also publish MeshDeform on the deform port"),
    }

    def on_start(self) -> None:
        mix = (parse_mix(",".join(f"{k}:{v}" for k, v in self.p.mix.items())) if self.p.mix
               else parse_mix(self.p.emotion))  # EmotionError: a clear message; no start
        self.easer = EmotionEaser(self.p.intensity * mix, self.p.ease_s)
        self.fusion = None
        if self.p.mode == "fusion" or self.p.mesh:
            from facewire.emotion.runtime import FusionRuntime

            self.fusion = FusionRuntime(self.p.model or None)
        from facewire.emotion.presets import PRESET_TABLE

        self.presets = (self.fusion.presets if self.fusion is not None else PRESET_TABLE)
        self.log.info("emotion %s at %.2f, %s mode, ease %.2f s", self.p.mix or self.p.emotion,
                      self.p.intensity, self.p.mode, self.p.ease_s)

    def on_emotion(self, msg: Emotion) -> None:
        try:
            mix = mix_vector(msg.weights)
            intensity = check_intensity(msg.intensity)
        except EmotionError as exc:
            self.counters["bad_emotion"] += 1
            self.log.warning("emotion message ignored: %s", exc)
            return
        self.easer.set_target(intensity * mix, None)
        self.counters["emotion_changes"] += 1

    def on_input(self, msg: Blendshapes) -> None:
        if msg.name_set != "arkit52" or msg.weights.size != 52:
            raise ValueError(f"emotion needs arkit52 frames, got {msg.name_set} with "
                             f"{msg.weights.size} curves")
        amounts = self.easer.value(msg.header.media_time)
        code = None
        if self.p.mode == "fusion":
            fused, code = self.fusion.run(msg.weights[None], amounts)
            weights = np.clip(fused[0], 0.0, 1.0)
        elif self.p.mode == "naive":
            weights = np.clip(msg.weights + amounts @ self.presets, 0.0, 1.0)
        else:
            weights = msg.weights
        self.publish("output", Blendshapes(weights=weights.astype(np.float32),
                                           name_set=msg.name_set, fps=msg.fps,
                                           subject=msg.subject, header=msg.header))
        if self.p.mesh:
            if code is None:
                code = self.fusion.run(msg.weights[None], amounts)[1]
            self.publish("deform", MeshDeform(displacements=self.fusion.deform(code)[0],
                                              fps=msg.fps, subject=msg.subject,
                                              header=msg.header))
