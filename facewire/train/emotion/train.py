"""``facewire train emotion``: train the fusion module (seed 004) and ship it as ONNX.

Speech frames come from a teacher corpus, expressions from ``facewire.emotion.presets``;
see ``facewire.emotion.data``. The result is a folder holding ``<name>.onnx`` (geometry
maps, both encoders, the fused ARKit output), ``<name>.npz`` (the learned blendshapes for
MeshDeform output) and ``<name>.json`` (the card: what it is, how it was made, its figures).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facewire.train.options import option

DEFAULT_NAME = "facewire_emotion_fusion"


@dataclass
class EmotionTrainConfig:
    """A fusion training run; each option's help is its flag's help in ``facewire train
    emotion``."""

    data: list[str] = option([], "speech corpus with teacher curves (facewire data synth); "
                             "repeatable", required=True)
    out: str = option("runs/emotion", "run folder (ONNX, npz, card, checkpoint)")
    name: str = option(DEFAULT_NAME, "model name")
    rig: str | None = option(None, "rig npz with UVs (default ICT facekit)")
    k: int = option(24, "learned blendshapes per domain")
    size: int = option(64, "UV map size (pixels per side)")
    steps: int = option(3000, "optimiser steps")
    batch: int = option(64, "samples per step")
    vertices: int = option(2048, "vertices per step for the vertex losses (drawn by weight)")
    lr: float = option(1e-3, "peak Adam learning rate (cosine schedule)")
    sparsity: float = option(1e-3, "cross-domain L1 weight")
    laplacian: float = option(1e-4, "weight of the Laplacian smoothness loss")
    fuse: float = option(1.0, "weight of the loss on known clean combinations (0: the "
                         "paper's objective alone)")
    max_clips: int | None = option(None, "read at most this many clips")
    seed: int = option(0, "seed of torch and numpy")
    threads: int = option(1, "torch CPU threads")
    max_minutes: float | None = option(13.0, "time budget; the learning rate anneals to fit it")
    quiet: bool = option(False, "no per-step lines")


def build(cfg: EmotionTrainConfig) -> tuple[Any, Any, Any]:
    """(rig, geometry, model) for a config."""
    import torch

    from facewire.emotion.fusion import FusionModule
    from facewire.emotion.geometry import FaceGeometry
    from facewire.rig.rig import Rig, load_default_rig

    torch.manual_seed(cfg.seed)
    rig = Rig.load(cfg.rig) if cfg.rig else load_default_rig()
    geom = FaceGeometry.from_rig(rig, size=cfg.size)
    model = FusionModule(geom, k=cfg.k)
    return rig, geom, model


def train_step(model: Any, opt: Any, batch: dict[str, np.ndarray], vertex_w: Any, lap: Any,
               weights: Any, n_vertices: int | None = None) -> dict[str, float]:
    """One optimiser step on one batch; returns the loss terms as floats."""
    import torch

    from facewire.emotion.fusion import fusion_losses

    tb = {k: torch.from_numpy(v) for k, v in batch.items() if k in ("speech", "expr", "target")}
    terms = fusion_losses(model, tb, vertex_w, lap, weights, n_vertices)
    opt.zero_grad()
    terms["total"].backward()
    opt.step()
    return {k: float(v.detach()) for k, v in terms.items()}


def train(cfg: EmotionTrainConfig, argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    from facewire.emotion.data import FusionData, load_speech_curves
    from facewire.emotion.fusion import LossWeights, laplacian_matrix

    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rig, geom, model = build(cfg)
    clips = load_speech_curves(cfg.data, cfg.max_clips)
    data = FusionData([c for _, c, _ in clips], seed=cfg.seed)
    vertex_w = torch.from_numpy(geom.vertex_weights)
    lap = laplacian_matrix(geom.edges, geom.n_face)
    weights = LossWeights(sparsity=cfg.sparsity, laplacian=cfg.laplacian, fuse=cfg.fuse)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    t0 = time.monotonic()
    history: list[dict[str, float]] = []
    step = 0
    for step in range(1, cfg.steps + 1):
        # warm-up, then cosine decay over whichever runs out first: steps or the time budget
        progress = step / cfg.steps
        if cfg.max_minutes:
            progress = max(progress, (time.monotonic() - t0) / (60 * cfg.max_minutes))
        for g in opt.param_groups:
            warm = min(1.0, step / 100)
            g["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        terms = train_step(model, opt, data.batch(cfg.batch), vertex_w, lap, weights,
                           cfg.vertices)
        if step % 50 == 0 or step == 1:
            history.append({"step": step, **terms})
            if not cfg.quiet:
                print(f"step {step:5d} " + " ".join(f"{k} {v:.3g}" for k, v in terms.items()),
                      flush=True)
        if progress >= 1.0 and step < cfg.steps:
            print(f"stopping at step {step}: --max-minutes {cfg.max_minutes} reached")
            break
    torch.save({"state": model.state_dict(), "config": asdict(cfg)}, out / "fusion.pt")
    from facewire.emotion.export import export_fusion

    onnx_path = export_fusion(model, geom, out, cfg.name, config=asdict(cfg),
                              training={"steps": step, "minutes": (time.monotonic() - t0) / 60,
                                        "clips": len(clips), "data": cfg.data,
                                        "final": history[-1] if history else {}},
                              argv=argv)
    (out / "history.json").write_text(json.dumps(history))
    return {"onnx": str(onnx_path), "steps": step, "final": history[-1] if history else {},
            "minutes": (time.monotonic() - t0) / 60}
