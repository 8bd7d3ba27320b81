"""Checkpoint -> ONNX + model card, with the streaming state as explicit inputs/outputs.

Streaming networks export ``forward_stream``: inputs ``features`` (1, n, dim) with dynamic n
and one ``<state>_in`` per state tensor; outputs ``weights`` (1, n, 52) and ``<state>_out``.
The runtime feeds each call's ``_out`` back as the next ``_in``, so it carries all state
and any chunk size works. Offline networks (s2s) export ``forward`` on the whole utterance.
The export is checked: onnxruntime must match torch within ``tol`` on whole sequences and in
chunks, otherwise the export fails.
"""

from __future__ import annotations

import datetime
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facewire.models.blendshape_nets import BlendshapeNet, stream_in_chunks
from facewire.models.card import CARD_FORMAT, CARD_VERSION, read_card, sha256, write_card
from facewire.models.framerate import interpolation_delay
from facewire.models.speaker_norm import with_prior_weight
from facewire.rig.arkit import ARKIT_52
from facewire.train.blendshapes.checkpoint import load_checkpoint, net_from_checkpoint, probe_input
from facewire.train.data.dataset import FeatureSpec
from facewire.train.onnx_stream import CHUNKS, OPSET, export_stream_onnx, onnx_max_diff


def export_onnx(net: BlendshapeNet, path: str | Path, opset: int = OPSET) -> dict[str, Any]:
    """Write the ONNX graph; return the card's ``io`` section."""
    return export_stream_onnx(net, path, probe_input(net.eval().cpu(), 9), "weights", opset)


def check_equivalence(net: BlendshapeNet, path: str | Path, io: dict[str, Any],
                      n: int = 157, chunks: tuple[int, ...] = CHUNKS) -> float:
    """Max |onnxruntime - torch| over a whole sequence and a chunked stream, and of torch's
    own chunked stream (what the live node runs) against the whole sequence."""
    net = net.eval()
    x = probe_input(net, n, seed=1)
    diff, t = onnx_max_diff(net, path, io, x, chunks)
    if not net.streaming:
        return diff
    with torch.no_grad():
        ref = net(x[:, :t]).numpy()
        torch_stream = stream_in_chunks(net, x[:, :t], list(chunks)).numpy()
    return float(max(diff, np.abs(torch_stream - ref).max()))


def build_card(ck: dict[str, Any], net: BlendshapeNet, onnx_path: Path, io: dict[str, Any],
               fps: float, max_diff: float, export_command: str) -> dict[str, Any]:
    spec = FeatureSpec.from_dict(ck["features"])
    la = net.lookahead if net.streaming else 0
    delay = (spec.delay_s + la / spec.rate + interpolation_delay(spec.rate, fps, spec.t0)
             if net.streaming else None)
    hist = ck.get("history", [])
    best = next((h for h in hist if h["epoch"] == ck.get("best_epoch")), {})
    return {
        "format": CARD_FORMAT, "version": CARD_VERSION,
        "name": onnx_path.stem,
        "created": datetime.date.today().isoformat(),
        "architecture": net.arch,
        "arch_config": net.config(),
        "streaming": net.streaming,
        "params": net.inference_params(),
        "onnx": onnx_path.name, "onnx_sha256": sha256(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size, "opset": OPSET,
        "features": spec.to_dict(),
        "model_rate": spec.rate,
        "fps": float(fps),
        "framerate": "linear interpolation of the network's feature-rate frames at k / fps",
        "lookahead_frames": la, "lookahead_s": la / spec.rate,
        "delay_s": delay,
        "outputs": list(ARKIT_52), "trained_outputs": list(net.outputs),
        "io": io,
        "training": {
            "data": ck.get("data"), "split": ck.get("split"), "config": ck.get("train_config"),
            "best_epoch": ck.get("best_epoch"), "epochs_run": len(hist),
            "minutes": round(hist[-1]["minutes"], 2) if hist else None, "torch": ck.get("torch"),
        },
        "metrics": {"val_loss": best.get("val_loss"), "val_mse": best.get("val_mse"),
                    "onnx_vs_torch_max_abs": max_diff},
        "command": {"train": ck.get("command"), **({"resumed": ck["resumed"]}
                                                     if ck.get("resumed") else {}),
                    "export": export_command},
    }


def with_speaker_norm_prior(features: dict[str, Any], n0: float, source: str | Path
                            ) -> dict[str, Any]:
    """The feature spec with the speaker normaliser's prior weight ``n0`` replaced."""
    norm = features.get("speaker_norm")
    if not norm:
        raise ValueError(f"{source}: no speaker normaliser (trained without --speaker-norm), "
                         "so --speaker-norm-prior does not apply")
    return {**features, "speaker_norm": with_prior_weight(norm, n0)}


def _command(argv: list[str] | None) -> str:
    return "facewire " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                           else sys.argv[1:]))


def export(checkpoint: str | Path, out_dir: str | Path, name: str | None = None,
           fps: float = 60.0, tol: float = 1e-4, argv: list[str] | None = None,
           speaker_norm_prior: float | None = None,
           silence_reset_s: float | None = None) -> Path:
    """Export a checkpoint; returns the card path (``<out>/<name>.json``). An exported
    card (``.json``) is re-exported with another ``speaker_norm_prior`` or
    ``silence_reset_s`` instead (``reexport_card``)."""
    if silence_reset_s is not None and silence_reset_s < 0:
        raise ValueError(f"--silence-reset {silence_reset_s:g}: seconds, 0 (never) or more")
    if Path(checkpoint).suffix == ".json":
        if speaker_norm_prior is None and silence_reset_s is None:
            raise ValueError(f"{checkpoint}: an exported card is re-exported only to change "
                             "--speaker-norm-prior or --silence-reset; export its run's "
                             "best.pt otherwise")
        return reexport_card(checkpoint, out_dir, name, speaker_norm_prior, argv,
                             silence_reset_s)
    ck = load_checkpoint(checkpoint)
    if speaker_norm_prior is not None:
        ck["features"] = with_speaker_norm_prior(ck["features"], speaker_norm_prior, checkpoint)
    net = net_from_checkpoint(ck)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"facewire_{net.arch}_{ck['features']['kind']}"
    onnx_path = out / f"{name}.onnx"
    io = export_onnx(net, onnx_path)
    diff = check_equivalence(net, onnx_path, io)
    if not diff <= tol:
        raise RuntimeError(f"{onnx_path}: onnxruntime differs from torch by {diff:.2e} > {tol}")
    card = build_card(ck, net, onnx_path, io, fps, diff, _command(argv))
    if silence_reset_s is not None:
        card["runtime"] = {**card.get("runtime", {}), "silence_reset_s": silence_reset_s}
    return write_card(out / f"{name}.json", card)


def reexport_card(card_path: str | Path, out_dir: str | Path, name: str | None,
                  speaker_norm_prior: float | None, argv: list[str] | None = None,
                  silence_reset_s: float | None = None) -> Path:
    """An exported model with another speaker-normaliser prior weight or silence reset.
    Both act outside the graph, so the ONNX file is kept byte for byte; the card's held-out
    figures (``metrics.eval``) no longer describe the model and are dropped: evaluate it
    again."""
    card_path = Path(card_path)
    card = read_card(card_path)
    src = card_path.parent / card["onnx"]
    if not src.exists():
        raise ValueError(f"{src}: the card's ONNX file is missing; re-export its run's best.pt")
    features = (card["features"] if speaker_norm_prior is None
                else with_speaker_norm_prior(card["features"], speaker_norm_prior, card_path))
    runtime = card.get("runtime", {})
    if silence_reset_s is not None:
        runtime = {**runtime, "silence_reset_s": silence_reset_s}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = name or card_path.stem
    dst = out / f"{name}.onnx"
    if not dst.exists() or not dst.samefile(src):
        shutil.copyfile(src, dst)
    metrics = {k: v for k, v in card.get("metrics", {}).items() if k != "eval"}
    command = {**card.get("command", {}), "reexport": _command(argv)}
    return write_card(out / f"{name}.json", {
        **card, "name": name, "onnx": dst.name, "created": datetime.date.today().isoformat(),
        "features": features, "metrics": metrics, "command": command,
        **({"runtime": runtime} if runtime else {})})
