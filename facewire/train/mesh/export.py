"""Landmarks (S2L) / densify (S2D) checkpoints -> ONNX + model card, checked against torch
(``facewire export landmarks|densify``).

S2L exports like the blendshape networks (``features`` in, ``displacements`` out
``[1, n, 204]``, LSTM state as ``lstm_h/c_in``/``_out`` for the causal model), so the
blendshape runtime's streaming machinery (lookahead, resampling to 60 fps) serves it. S2D
exports ``landmarks [B, 68, 3]`` (+ ``identity [B, 68, 3]``) -> ``displacements
[B, V_region, 3]``; its card records the rig, its vertex count and the region, so the
runtime can place the region in a full-rig MeshDeform and refuse a mismatched rig.
"""

from __future__ import annotations

import datetime
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facewire.models.card import CARD_FORMAT, CARD_VERSION, sha256, write_card
from facewire.models.framerate import interpolation_delay
from facewire.models.s2d import S2DNet
from facewire.models.s2l import N_POINTS, S2LNet
from facewire.train.data.dataset import FeatureSpec
from facewire.train.onnx_stream import CHUNKS, OPSET, export_stream_onnx, onnx_max_diff
from facewire.train.runs import CheckpointError

POINT_NAMES = [f"p{i}.{c}" for i in range(N_POINTS) for c in "xyz"]
MESH_FORMATS = ("facewire-s2l-checkpoint", "facewire-s2d-checkpoint")


def checkpoint_kind(path: str | Path) -> str | None:
    """"s2l", "s2d" or None (another kind of checkpoint, or unreadable)."""
    p = Path(path)
    p = p / "best.pt" if p.is_dir() else p
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - the blendshape exporter reports unreadable files
        return None
    fmt = ck.get("format") if isinstance(ck, dict) else None
    return {"facewire-s2l-checkpoint": "s2l", "facewire-s2d-checkpoint": "s2d"}.get(fmt)


def _probe(net: S2LNet, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, n, net.n_feats, generator=g) * net.feat_std + net.feat_mean


def export_s2l_onnx(net: S2LNet, path: str | Path) -> dict[str, Any]:
    """Write the ONNX graph; return the card's ``io``."""
    return export_stream_onnx(net, path, _probe(net.eval().cpu(), 9, 0), "displacements")


def check_s2l(net: S2LNet, path: str | Path, io: dict[str, Any], n: int = 157,
              chunks: tuple[int, ...] = CHUNKS) -> float:
    """Max |onnxruntime - torch| on a whole sequence, and streamed in chunks (causal)."""
    return onnx_max_diff(net, path, io, _probe(net.eval(), n, 1), chunks)[0]


def export_s2d_onnx(net: S2DNet, path: str | Path) -> dict[str, Any]:
    net = net.eval().cpu()
    lm = torch.randn(2, N_POINTS, 3) * net.in_scale
    ido = torch.randn(2, N_POINTS, 3) * net.id_scale
    names_in = ["landmarks", "identity"] if net.condition else ["landmarks"]
    args = (lm, ido) if net.condition else (lm,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, args, str(path), dynamo=False, input_names=names_in,
                          output_names=["displacements"], opset_version=OPSET,
                          dynamic_axes={**{n: {0: "frames"} for n in names_in},
                                        "displacements": {0: "frames"}})
    return {"input": "landmarks", "output": "displacements", "state": [],
            "identity": "identity" if net.condition else None}


def check_s2d(net: S2DNet, path: str | Path, n: int = 5) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(1)
    lm = torch.randn(n, N_POINTS, 3, generator=g) * net.in_scale
    ido = torch.randn(n, N_POINTS, 3, generator=g) * net.id_scale
    feed = {"landmarks": lm.numpy()}
    if net.condition:
        feed["identity"] = ido.numpy()
    with torch.no_grad():
        ref = net(lm, ido).numpy()
    return float(np.abs(sess.run(None, feed)[0] - ref).max())


def _card_common(ck: dict[str, Any], onnx_path: Path, net: torch.nn.Module, arch: str,
                 export_command: str, diff: float) -> dict[str, Any]:
    hist = ck.get("history", [])
    best = next((h for h in hist if h["epoch"] == ck.get("best_epoch")), {})
    return {
        "format": CARD_FORMAT, "version": CARD_VERSION, "name": onnx_path.stem,
        "created": datetime.date.today().isoformat(), "architecture": arch,
        "arch_config": net.config(), "params": int(sum(p.numel() for p in net.parameters())),
        "onnx": onnx_path.name, "onnx_sha256": sha256(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size, "opset": OPSET,
        "rig": ck.get("rig_name", "ict_facekit"), "unit": ck.get("unit", "cm"),
        "training": {"data": ck.get("data"), "split": ck.get("split"),
                     "config": ck.get("train_config"), "best_epoch": ck.get("best_epoch"),
                     "epochs_run": len(hist),
                     "minutes": round(hist[-1]["minutes"], 2) if hist else None,
                     "torch": ck.get("torch")},
        "metrics": {"val_loss": best.get("val_loss"), "val_de_mm": best.get("val_de_mm"),
                    "onnx_vs_torch_max_abs": diff},
        "command": {"train": ck.get("command"), "export": export_command},
    }


def export(checkpoint: str | Path, out_dir: str | Path, name: str | None = None,
           fps: float = 60.0, tol: float = 1e-4, argv: list[str] | None = None) -> Path:
    """Export an S2L or S2D checkpoint; returns the card path (``<out>/<name>.json``)."""
    from facewire.train.mesh import densify, landmarks

    kind = checkpoint_kind(checkpoint)
    if kind is None:
        raise CheckpointError(f"{checkpoint}: not an S2L or S2D checkpoint")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "facewire " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                          else sys.argv[1:]))
    if kind == "s2l":
        ck = landmarks.load_checkpoint(checkpoint)
        net = landmarks.net_from_checkpoint(ck)
        name = name or f"facewire_{net.arch}_{ck['features']['kind']}"
        onnx_path = out / f"{name}.onnx"
        io = export_s2l_onnx(net, onnx_path)
        diff = check_s2l(net, onnx_path, io)
        spec = FeatureSpec.from_dict(ck["features"])
        la = net.lookahead
        card = {**_card_common(ck, onnx_path, net, net.arch, cmd, diff),
                "streaming": net.streaming, "features": spec.to_dict(), "model_rate": spec.rate,
                "fps": float(fps), "lookahead_frames": la, "lookahead_s": la / spec.rate,
                "delay_s": (spec.delay_s + la / spec.rate
                            + interpolation_delay(spec.rate, fps, spec.t0)
                            if net.streaming else None),
                "outputs": POINT_NAMES, "points": N_POINTS, "io": io}
    else:
        ck = densify.load_checkpoint(checkpoint)
        net = densify.net_from_checkpoint(ck)
        name = name or "facewire_s2d"
        onnx_path = out / f"{name}.onnx"
        io = export_s2d_onnx(net, onnx_path)
        diff = check_s2d(net, onnx_path)
        card = {**_card_common(ck, onnx_path, net, "s2d", cmd, diff),
                "streaming": True, "fps": float(fps), "lookahead_frames": 0, "delay_s": 0.0,
                # S2D reads landmark frames, not audio: the card's feature block says so
                "features": {"kind": "landmarks", "rate": float(fps), "dim": N_POINTS * 3,
                             "t0": 0.0, "pad_value": 0.0},
                "outputs": ["x", "y", "z"], "rig_vertices": ck["rig_vertices"],
                "region": ck["region"], "region_name": ck["region_name"],
                "vertices": net.n_vertices, "pyramid": ck.get("pyramid"), "io": io}
    if not diff <= tol:
        raise RuntimeError(f"{onnx_path}: onnxruntime differs from torch by {diff:.2e} > {tol}")
    return write_card(out / f"{name}.json", card)
