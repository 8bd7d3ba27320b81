"""densify node (S2D): Landmarks in, dense MeshDeform of the whole rig out, frame by frame.

Each landmark frame becomes one MeshDeform with the same header (media time, capture
time), so the output rate is the input's (60 fps from the landmarks node). The S2D model
covers the rig's face region; the other vertices (scalp, eyes, teeth...) are published as
zero displacement. ``identity`` names an .npy of identity coefficients for the rig (the
head being animated); the model reads that head's neutral landmarks, so one model animates
any identity. Frames for another rig, or landmark arrays of another size, are refused with
a message that says which.
"""

from __future__ import annotations

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import Landmarks, MeshDeform


class DensifyNode(Node):
    inputs = {"landmarks": Input(Landmarks)}
    outputs = {"mesh": Output(MeshDeform)}
    params = {
        "model": Param(str, "", "S2D model folder or .onnx (empty: the bundled model)"),
        "rig": Param(str, "", "rig npz the model was trained on (empty: the shared ICT rig)"),
        "identity": Param(str, "", ".npy of identity coefficients (empty: the rig's neutral)"),
        "device": Param(str, "auto", "onnxruntime device", choices=("auto", "cpu", "cuda")),
        "subject": Param(str, "", "character name carried to the bridges"),
    }

    def on_start(self) -> None:
        from facewire.models.mesh_runtime import DensePredictor, default_dense_model
        from facewire.rig.rig import Rig, default_rig_path

        self.model = DensePredictor(self.p.model or default_dense_model(), self.p.device)
        rig = Rig.load(self.p.rig or default_rig_path())
        self.model.check_rig(rig.n_vertices)
        self.rig_name = self.model.rig_name
        if self.p.identity:
            coeffs = np.load(self.p.identity)
            face = rig.identity(coeffs)
            self.model.set_identity(rig.landmarks(face) - rig.landmarks(rig.neutral))
        self.out = np.zeros((self.model.rig_vertices, 3), np.float32)
        self.log.info("S2D on %s (%d of %d vertices)", self.rig_name, self.model.n_vertices,
                      self.model.rig_vertices)

    def on_landmarks(self, msg: Landmarks) -> None:
        d = np.asarray(msg.displacements)
        if d.shape != (68, 3):
            raise ValueError(f"Landmarks has {d.shape[0] if d.ndim else 0} points of "
                             f"{d.shape[1:] if d.ndim > 1 else ()}; the densify model needs "
                             "68 x 3 displacements")
        if msg.rig and msg.rig != self.rig_name:
            raise ValueError(f"Landmarks are for rig {msg.rig!r}, the densify model for "
                             f"{self.rig_name!r}")
        dense = self.model.region(d)[0]
        out = self.out.copy()
        out[self.model.start:self.model.stop] = dense
        self.publish("mesh", MeshDeform(displacements=out, rig=self.rig_name, fps=msg.fps,
                                        subject=self.p.subject, header=msg.header))
