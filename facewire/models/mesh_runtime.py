"""Run exported S2L and S2D models with onnxruntime (no torch).

``LandmarkPredictor`` is the blendshape runtime with 204 outputs reshaped to 68 x 3: the
same state feedback, lookahead drop and resampling to 60 fps. ``DensePredictor`` runs S2D
frame by frame (or in batches) and places its region into a full-rig displacement array,
refusing landmark arrays and rigs that do not fit the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facewire.models.runtime import (
    WEIGHTS_DIR,
    ModelError,
    StreamingPredictor,
    _providers,
    read_card_safe,
    resolve_model,
)

DEFAULT_LANDMARK_MODEL = "facewire_s2l_causal_logmel"
DEFAULT_DENSE_MODEL = "facewire_s2d"
N_POINTS = 68


def default_landmark_model() -> Path:
    return WEIGHTS_DIR / f"{DEFAULT_LANDMARK_MODEL}.onnx"


def default_dense_model() -> Path:
    return WEIGHTS_DIR / f"{DEFAULT_DENSE_MODEL}.onnx"


class LandmarkPredictor(StreamingPredictor):
    """An exported S2L model: feature frames in, ``[m, 68, 3]`` displacements out."""

    def __init__(self, model: str | Path, device: str = "auto", fps: float | None = None,
                 threads: int = 1) -> None:
        super().__init__(model, device, fps, threads)
        if len(self.names) != N_POINTS * 3 or not str(self.card["architecture"]).startswith(
                "s2l"):
            raise ModelError(f"{self.path}: a {self.card['architecture']} model with "
                             f"{len(self.names)} outputs is not a landmarks (S2L) model")

    def step(self, feature_frames: np.ndarray) -> np.ndarray:
        return super().step(feature_frames).reshape(-1, N_POINTS, 3)

    def flush(self) -> np.ndarray:
        return super().flush().reshape(-1, N_POINTS, 3)

    def predict(self, feature_frames: np.ndarray) -> np.ndarray:
        return super().predict(feature_frames).reshape(-1, N_POINTS, 3)


class DensePredictor:
    """An exported S2D model: landmark displacements -> dense displacements of a rig."""

    def __init__(self, model: str | Path, device: str = "auto", threads: int = 1) -> None:
        import onnxruntime as ort

        self.path, card_path = resolve_model(model)
        if not self.path.exists():
            raise ModelError(f"{self.path}: ONNX file named by {card_path} is missing")
        self.card: dict[str, Any] = read_card_safe(card_path)
        if self.card["architecture"] != "s2d":
            raise ModelError(f"{self.path}: a {self.card['architecture']} model is not a "
                             "densify (S2D) model")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts,
                                                providers=_providers(device))
        except Exception as exc:  # onnxruntime raises its own types for damaged graphs
            raise ModelError(f"{self.path}: corrupt or unreadable ONNX model "
                             f"({str(exc).splitlines()[0][:200]}); re-export it") from exc
        self.rig_name: str = self.card.get("rig", "ict_facekit")
        self.rig_vertices = int(self.card["rig_vertices"])
        self.start, self.stop = (int(v) for v in self.card["region"])
        self.n_vertices = int(self.card["vertices"])
        self.identity_input: str | None = self.card["io"].get("identity")
        self.fps = float(self.card["fps"])
        self._identity = np.zeros((1, N_POINTS, 3), np.float32)

    def set_identity(self, offsets: np.ndarray | None) -> None:
        """The face to animate: its neutral landmarks minus the rig's generic ones
        (``[68, 3]`` rig units; None: the generic face)."""
        if offsets is None:
            self._identity = np.zeros((1, N_POINTS, 3), np.float32)
            return
        o = np.asarray(offsets, np.float32)
        if o.shape != (N_POINTS, 3):
            raise ValueError(f"identity offsets must be [68, 3], got {o.shape}")
        self._identity = o[None]

    def check_rig(self, n_vertices: int, name: str | None = None) -> None:
        """A clear error when the model was trained for another mesh."""
        if n_vertices != self.rig_vertices:
            raise ModelError(f"{self.path}: model makes displacements for a {self.rig_vertices}"
                             f"-vertex rig ({self.rig_name}), the rig has {n_vertices} vertices;"
                             " train a densify model on this rig ('facewire train densify "
                             "--rig ...')")
        if name is not None and name != self.rig_name:
            raise ModelError(f"{self.path}: model is for rig {self.rig_name!r}, not {name!r}")

    def region(self, landmarks: np.ndarray) -> np.ndarray:
        """``[n, 68, 3]`` (or one ``[68, 3]``) -> ``[n, V_region, 3]``."""
        x = np.asarray(landmarks, np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (N_POINTS, 3):
            raise ValueError(f"{self.path}: expects landmark displacements [n, 68, 3], got "
                             f"{x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.path}: non-finite landmark displacements refused")
        feed = {"landmarks": np.ascontiguousarray(x)}
        if self.identity_input:
            feed[self.identity_input] = np.repeat(self._identity, len(x), 0)
        return self.session.run(["displacements"], feed)[0]

    def full(self, landmarks: np.ndarray) -> np.ndarray:
        """One frame ``[68, 3]`` -> ``[rig_vertices, 3]`` (zero outside the region)."""
        out = np.zeros((self.rig_vertices, 3), np.float32)
        out[self.start:self.stop] = self.region(landmarks)[0]
        return out
