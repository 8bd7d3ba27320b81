"""Export a trained fusion module for the runtime: ONNX graph, learned blendshapes, card.

The ONNX graph takes ARKit weights (speech ``[N, 52]``, expression ``[N, 52]``) because
everything between weights and geometry maps is linear and lives in the graph as a constant;
it returns the fused ARKit weights (cross-domain halves dropped, decoder folded with the
least-squares projector) and both encoders' full codes. The learned blendshapes go into an
``.npz`` beside it (float16) for MeshDeform output.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from facewire.emotion.fusion import FusionModule, export_arrays
from facewire.emotion.geometry import FaceGeometry
from facewire.emotion.presets import PRESET_TABLE, PRIMARY_TABLE, SECONDARY_TABLE
from facewire.messages.types import EMOTIONS
from facewire.models.card import sha256

CARD_FORMAT = "facewire-emotion-fusion-card"
OPSET = 17


class _Runtime(nn.Module):
    """The inference path; each encoder's linear read-out of the map is folded with the
    (linear) map of ARKit weights into one ``[52, 2K]`` matrix, so the graph stores it
    small instead of as a ``[3*S*S, 2K]`` layer."""

    def __init__(self, model: FusionModule, s2a: np.ndarray, e2a: np.ndarray) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("s2a", torch.from_numpy(s2a))
        self.register_buffer("e2a", torch.from_numpy(e2a))
        with torch.no_grad():
            basis = model.map_scale * model.map_basis
            self.register_buffer("skip_s", basis @ model.enc_speech.skip.weight.T)
            self.register_buffer("skip_e", basis @ model.enc_expr.skip.weight.T)

    def forward(self, speech: torch.Tensor, expression: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m = self.model
        z_s = m.enc_speech.head(m.enc_speech.conv(m.maps(speech)).flatten(1)) + speech @ self.skip_s
        z_e = (m.enc_expr.head(m.enc_expr.conv(m.maps(expression)).flatten(1))
               + expression @ self.skip_e)
        k = m.k
        return z_s[:, :k] @ self.s2a + z_e[:, k:] @ self.e2a, z_s, z_e


def export_fusion(model: FusionModule, geom: FaceGeometry, out: str | Path, name: str,
                  config: dict[str, Any] | None = None, training: dict[str, Any] | None = None,
                  argv: list[str] | None = None) -> Path:
    """Write ``<name>.onnx``, ``<name>.npz`` and ``<name>.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    arrays = export_arrays(model, geom.arkit_projector())
    onnx_path = out / f"{name}.onnx"
    x = torch.rand(4, 52) * 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Runtime(model, arrays["speech_to_arkit"], arrays["expr_to_arkit"]),
                          (x, x), str(onnx_path), dynamo=False, opset_version=OPSET,
                          input_names=["speech", "expression"],
                          output_names=["arkit", "speech_code", "expression_code"],
                          dynamic_axes={n: {0: "n"} for n in ("speech", "expression", "arkit",
                                                              "speech_code",
                                                              "expression_code")})
    npz_path = out / f"{name}.npz"
    np.savez_compressed(npz_path, blendshapes=arrays["blendshapes"].astype(np.float16),
                        n_vertices=np.int64(geom.n_vertices), k=np.int64(model.k))
    card = {
        "format": CARD_FORMAT, "version": 1, "name": name,
        "created": time.strftime("%Y-%m-%d"),
        "what": "seed 004 deformation fusion module: speech + expression ARKit weights -> "
                "fused ARKit weights with the cross-domain deformations removed",
        "onnx": onnx_path.name, "onnx_sha256": sha256(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size, "blendshapes": npz_path.name,
        "opset": OPSET, "k": model.k, "map_size": geom.size, "face_vertices": geom.n_face,
        "rig_vertices": geom.n_vertices, "rig": "ict_facekit",
        "io": {"inputs": ["speech", "expression"], "outputs": ["arkit", "speech_code",
                                                                "expression_code"]},
        "emotions": list(EMOTIONS),
        "presets": {"primary": PRIMARY_TABLE.round(4).tolist(),
                    "secondary": SECONDARY_TABLE.round(4).tolist()},
        "preset_sha": sha256_array(PRESET_TABLE),
        "config": config or {}, "training": training or {},
        "command": {"train": "facewire " + " ".join(argv) if argv else None},
        "metrics": {},
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return onnx_path


def sha256_array(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a, np.float32).tobytes()).hexdigest()[:16]
