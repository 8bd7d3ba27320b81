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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_NAME = "facewire_emotion_fusion"


@dataclass
class EmotionTrainConfig:
    """A fusion training run; the ``help`` metadata is the flag's help in ``facewire train
    emotion``."""

    data: list[str] = field(default_factory=list, metadata={
        "required": True,
        "help": "speech corpus with teacher curves (facewire data synth); repeatable"})
    out: str = field(default="runs/emotion", metadata={
        "help": "run folder (ONNX, npz, card, checkpoint)"})
    name: str = field(default=DEFAULT_NAME, metadata={"help": "model name"})
    rig: str | None = field(default=None, metadata={
        "help": "rig npz with UVs (default ICT facekit)"})
    k: int = field(default=24, metadata={"help": "learned blendshapes per domain"})
    size: int = field(default=64, metadata={"help": "UV map size (pixels)"})
    steps: int = 3000
    batch: int = 64
    vertices: int = field(default=2048, metadata={
        "help": "vertices per step for the vertex losses (drawn by weight)"})
    lr: float = 1e-3
    sparsity: float = field(default=1e-3, metadata={"help": "cross-domain L1 weight"})
    laplacian: float = 1e-4
    fuse: float = field(default=1.0, metadata={
        "help": "weight of the loss on known clean combinations (0: the paper's objective "
                "alone)"})
    max_clips: int | None = None
    seed: int = 0
    threads: int = 1
    max_minutes: float | None = field(default=13.0, metadata={
        "help": "time budget; the learning rate anneals to fit it"})
    quiet: bool = False


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
