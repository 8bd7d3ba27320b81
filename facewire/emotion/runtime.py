"""Run a shipped fusion model with onnxruntime (no torch): speech + emotion -> fused ARKit.

``FusionRuntime.fuse`` takes speech ARKit weights ``[N, 52]`` and emotion amounts
(``intensity * mix`` over EMOTIONS, ``[N, 8]`` or ``[8]``) and returns the fused ARKit
weights, clipped to [0, 1]. ``naive`` is the baseline the fusion is measured against:
speech plus the expression preset, clipped. ``deform`` turns the fused codes into
per-vertex displacements of the rig with the learned blendshapes (MeshDeform output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from facewire.emotion.presets import PRESET_TABLE

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"
DEFAULT_FUSION = "facewire_emotion_fusion"


class FusionModelError(RuntimeError):
    """A fusion model that cannot be used; the message names the file and the fix."""


def resolve_fusion(path: str | Path | None) -> Path:
    """The card (.json) of a fusion model: a path to its .onnx/.json, a folder, or a
    shipped name (default: the shipped model)."""
    p = Path(path) if path else WEIGHTS_DIR / f"{DEFAULT_FUSION}.json"
    if not p.exists() and (WEIGHTS_DIR / f"{p.name}.json").exists():
        p = WEIGHTS_DIR / f"{p.name}.json"
    if p.is_dir():
        cards = sorted(p.glob("*.json"))
        cards = [c for c in cards if _is_card(c)]
        if len(cards) != 1:
            raise FusionModelError(f"{p}: expected one fusion model card (*.json), found "
                                   f"{len(cards)}; pass the .json of the one to use")
        p = cards[0]
    if p.suffix == ".onnx":
        p = p.with_suffix(".json")
    if not p.exists():
        raise FusionModelError(f"{p}: fusion model not found; train one with 'facewire train "
                               "emotion' or leave the model parameter empty for the shipped one")
    return p


def _is_card(p: Path) -> bool:
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("format") == \
            "facewire-emotion-fusion-card"
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


class FusionRuntime:
    """The exported fusion module (see the module docstring)."""

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        self.card_path = resolve_fusion(path)
        try:
            self.card: dict[str, Any] = json.loads(self.card_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise FusionModelError(f"{self.card_path}: unreadable card ({exc})") from exc
        if self.card.get("format") != "facewire-emotion-fusion-card":
            raise FusionModelError(f"{self.card_path}: not a fusion model card")
        root = self.card_path.parent
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(root / self.card["onnx"]), opts,
                                            providers=["CPUExecutionProvider"])
        self.k = int(self.card["k"])
        self.presets = np.asarray(self.card["presets"]["primary"], np.float32) + np.asarray(
            self.card["presets"]["secondary"], np.float32)
        self._blendshapes: np.ndarray | None = None
        self._npz = root / self.card["blendshapes"]

    def expression(self, amounts: np.ndarray) -> np.ndarray:
        """Emotion amounts ``[..., 8]`` -> the expression's ARKit weights ``[..., 52]``."""
        return (np.asarray(amounts, np.float32) @ self.presets).astype(np.float32)

    def run(self, speech: np.ndarray, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fused ARKit ``[N, 52]`` unclipped, fused code ``[N, 2K]``)."""
        s = np.ascontiguousarray(np.atleast_2d(speech), np.float32)
        e = np.ascontiguousarray(np.broadcast_to(self.expression(amounts), s.shape), np.float32)
        arkit, z_s, z_e = self.session.run(None, {"speech": s, "expression": e})
        return arkit, np.concatenate([z_s[:, : self.k], z_e[:, self.k:]], axis=1)

    def fuse(self, speech: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        return np.clip(self.run(speech, amounts)[0], 0.0, 1.0)

    def deform(self, code: np.ndarray) -> np.ndarray:
        """Fused codes ``[N, 2K]`` -> displacements ``[N, rig vertices, 3]`` (face region
        from the learned blendshapes, zero elsewhere)."""
        if self._blendshapes is None:
            with np.load(self._npz) as z:
                self._blendshapes = z["blendshapes"].astype(np.float32)
                self._n_vertices = int(z["n_vertices"])
        b = self._blendshapes
        # einsum, not BLAS: a multi-threaded BLAS gemv on a busy machine costs 20x more
        face = np.einsum("nk,kv->nv", np.asarray(code, np.float32), b.reshape(len(b), -1),
                         optimize=False).reshape(-1, b.shape[1], 3)
        out = np.zeros((face.shape[0], self._n_vertices, 3), np.float32)
        out[:, : b.shape[1]] = face
        return out


def naive(speech: np.ndarray, amounts: np.ndarray, table: np.ndarray = PRESET_TABLE
          ) -> np.ndarray:
    """The baseline: speech ARKit weights plus the expression preset, clipped to [0, 1]."""
    return np.clip(np.asarray(speech, np.float32)
                   + np.asarray(amounts, np.float32) @ table, 0.0, 1.0).astype(np.float32)
