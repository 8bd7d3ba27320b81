"""Training loop for the densify network (seed 001's S2D; ``facewire train densify``):
landmark displacements -> dense displacements of the rig's face region, across many
identities.

Each batch draws frames of teacher curves from the training voices' clips and a training
identity per frame, poses both the 68 landmarks and the dense region with that identity's
transferred expression shapes (:mod:`facewire.train.mesh.data`) and fits seed 001's
eq. 7 (rec 0.1, cosine 1e-4, weighted 1; metres; vertex weights ``1 / distance to the
nearest landmark`` on the generic neutral, floored at 1 mm). Validation uses *other*
identities (their own seed stream) on the held-out voices' frames, so early stopping
rewards heads the decoder has not seen; the test identities of the evaluation are a third
stream. ``noise_mm`` jitters the input landmarks so the decoder tolerates S2L's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from facewire.models.mesh_sampling import build_pyramid, submesh
from facewire.models.s2d import (
    DEFAULT_CHANNELS,
    DEFAULT_FACTORS,
    S2DNet,
    build,
    tables_from_pyramid,
)
from facewire.train.data.dataset import corpus_summary, load_sources, split_by_voice
from facewire.train.epochs import EpochBook
from facewire.train.mesh.data import (
    TRAIN_IDENTITY_SEED,
    DenseFrames,
    IdentitySet,
    frame_pool,
    identity_coefficients,
    split_identities,
    vertex_weights,
)
from facewire.train.mesh.landmarks import load_rig
from facewire.train.mesh.losses import S2DWeights, s2d_loss
from facewire.train.options import option
from facewire.train.runs import RunSettings, read_checkpoint, start_run

CKPT_FORMAT = "facewire-s2d-checkpoint"
VAL_IDENTITY_SEED = 3000
WEIGHT_FLOOR_MM = 1.0


@dataclass
class DensifyConfig(RunSettings):
    """A densify run's settings (in its checkpoint and card; help: ``train densify -h``)."""

    data: list[str] = option([], "corpus folder with teacher curves (the frames posed); "
                             "repeatable", required=True)
    out: str = option("runs/s2d", "run folder for checkpoints (last.pt, best.pt)",
                      required=True)
    rig: str | None = option(None, "rig npz (default: the shared ICT facekit)")
    region: str = option("narrow_face", "rig region the decoder covers")
    factors: tuple[float, ...] = option(DEFAULT_FACTORS, "mesh decimation per pyramid level, "
                                        "full mesh first")
    template_jaw: float = option(0.6, "jawOpen of the face the mesh pyramid is built on")
    spiral_length: int = option(9, "vertices per spiral (the convolution's support)")
    channels: tuple[int, ...] = option(DEFAULT_CHANNELS, "widths of the five spiral blocks "
                                       "(coarsest first)")
    condition: bool = option(True, "read landmark displacements only (no identity neutral "
                             "landmarks)")
    latent: int = option(64, "width of the fully connected lift onto the coarsest mesh")
    identities: int = option(40, "random training identities")
    w_rec: float = option(0.1, "weight of the reconstruction loss (seed 001 eq. 7)")
    w_cos: float = option(1e-4, "weight of the cosine (direction) loss")
    w_weighted: float = option(1.0, "weight of the landmark-distance-weighted loss")
    noise_mm: float = option(0.0, "std of input landmark noise (mm) to tolerate S2L errors",
                             flag="--noise")
    batch: int = option(16, "frames per batch")
    steps: int = option(200, "batches per epoch")
    val_frames: int = option(512, "validation frames (drawn once)")

    @property
    def weights(self) -> S2DWeights:
        return S2DWeights(self.w_rec, self.w_cos, self.w_weighted)


class FrameSampler:
    """Batches of (landmark displacements, identity offsets, dense displacements), torch."""

    def __init__(self, ids: IdentitySet, frames: np.ndarray) -> None:
        self.pose = DenseFrames(ids)
        self.offsets = ids.identity_offsets().astype(np.float32)
        self.frames = frames

    def batch(self, frame_idx: np.ndarray, who: np.ndarray
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lm, dense = self.pose.pose(self.frames[frame_idx], who)
        return (torch.from_numpy(np.ascontiguousarray(lm)), torch.from_numpy(self.offsets[who]),
                torch.from_numpy(np.ascontiguousarray(dense)))


def make_decoder(cfg: DensifyConfig, rig: Any) -> tuple[S2DNet, dict[str, Any]]:
    """The decoder with its pyramid built on the rig's generic face *with the jaw open*
    (``template_jaw``): in the neutral the lips touch, so the closest coarse triangle of a
    lower-lip vertex is often on the upper lip and up-sampling would glue the lips together
    (measured on held-out speech: lip error of down+up alone 6.4 mm from the neutral,
    4.5 mm from the open template). Topology is the same, so only the tables change."""
    from facewire.rig.arkit import ARKIT_INDEX

    sl = rig.region(cfg.region)
    w = np.zeros(52, np.float32)
    w[ARKIT_INDEX["jawOpen"]] = cfg.template_jaw
    v, f = submesh(rig.neutral + rig.expression(w), rig.faces, sl.stop, sl.start)
    pyr = build_pyramid(v, f, tuple(cfg.factors), cfg.spiral_length)
    net = S2DNet(pyr.sizes, cfg.spiral_length, tuple(cfg.channels), cfg.condition, cfg.latent,
                 tables=tables_from_pyramid(pyr))
    return net, {"sizes": pyr.sizes, "factors": list(cfg.factors),
                 "template": f"neutral + jawOpen {cfg.template_jaw}"}


def evaluate(net: S2DNet, sampler: FrameSampler, idx: np.ndarray, who: np.ndarray,
             vw: torch.Tensor, cfg: DensifyConfig, to_m: float, device: torch.device
             ) -> dict[str, float]:
    """Validation loss and mean vertex error (mm) on fixed frames and identities."""
    net.eval()
    loss_sum, err_sum, n = 0.0, 0.0, 0
    with torch.no_grad():
        for a in range(0, len(idx), 64):
            lm, ido, dense = sampler.batch(idx[a:a + 64], who[a:a + 64])
            pred = net(lm.to(device), ido.to(device)).cpu()
            loss, _ = s2d_loss(pred * to_m, dense * to_m, vw, cfg.weights)
            loss_sum += float(loss) * len(lm)
            err_sum += float((pred - dense).norm(dim=-1).mean()) * len(lm)
            n += len(lm)
    return {"loss": loss_sum / max(n, 1), "de_mm": err_sum / max(n, 1) * to_m * 1000}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read an S2D checkpoint; CheckpointError names the file and what to do."""
    return read_checkpoint(path, CKPT_FORMAT, "S2D", "train densify")


def net_from_checkpoint(ck: dict[str, Any]) -> S2DNet:
    net = build(ck["net_config"])
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def train(cfg: DensifyConfig, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run (or resume) training; writes ``cfg.out``/{last,best}.pt and returns a summary."""
    run = start_run(cfg.out, cfg, load_checkpoint, argv)
    out, device, rng, command, resume_ck = run.out, run.device, run.rng, run.command, run.resume

    utts = load_sources(cfg.data)
    train_u, val_u = split_by_voice(utts, cfg.held_out, cfg.seed)
    if not train_u or not val_u:
        raise ValueError(f"cannot split {len(utts)} clips into train and validation")
    rig = load_rig(cfg.rig)
    n_modes = rig.identity_basis.shape[0]
    train_ids = IdentitySet.build(rig, split_identities(cfg.identities, 0, n_modes)[0],
                                  cfg.region)
    val_ids = IdentitySet.build(rig, identity_coefficients(8, VAL_IDENTITY_SEED, n_modes),
                                cfg.region)
    tr = FrameSampler(train_ids, frame_pool([u.curves for u in train_u]))
    va = FrameSampler(val_ids, frame_pool([u.curves for u in val_u]))
    to_m = rig.mm / 1000.0
    net, pyramid_info = make_decoder(cfg, rig)
    sl = rig.region(cfg.region)
    vw = torch.from_numpy(vertex_weights(rig.neutral[sl] * to_m,
                                         rig.landmarks(rig.neutral) * to_m,
                                         WEIGHT_FLOOR_MM / 1000.0))
    probe = rng.integers(0, len(tr.frames), 512)
    lm, ido, dense = tr.batch(probe, rng.integers(0, len(train_ids), len(probe)))
    net.set_scales(float(lm.std()), float(max(ido.std(), 1e-3)), float(dense.std()))
    vidx = np.random.default_rng([cfg.seed, 7]).integers(0, len(va.frames), cfg.val_frames)
    vwho = np.arange(cfg.val_frames) % len(val_ids)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    meta = {
        "format": CKPT_FORMAT, "version": 1, "arch": "s2d", "net_config": net.config(),
        "pyramid": pyramid_info, "train_config": asdict(cfg), "command": command,
        "data": corpus_summary(cfg.data, utts), "rig": str(rig.source or rig.name),
        "rig_name": rig.name, "unit": rig.unit, "rig_vertices": rig.n_vertices,
        "region": [sl.start, sl.stop], "region_name": cfg.region,
        "split": {"train_voices": sorted({u.voice for u in train_u}),
                  "val_voices": sorted({u.voice for u in val_u}),
                  "train_frames": len(tr.frames), "val_frames": cfg.val_frames,
                  "train_identities": {"n": cfg.identities, "seed": TRAIN_IDENTITY_SEED},
                  "val_identities": {"n": len(val_ids), "seed": VAL_IDENTITY_SEED}},
        "torch": str(torch.__version__),
    }
    noise = cfg.noise_mm / (rig.mm)  # rig units
    book = EpochBook(out, net, meta)
    if resume_ck is not None:
        book.resume(resume_ck, net, opt, rng)
    for epoch in range(book.start_epoch, cfg.epochs):
        net.train()
        run_loss = 0.0
        it = tqdm(range(cfg.steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                  disable=cfg.quiet, leave=False)
        for _ in it:
            idx = rng.integers(0, len(tr.frames), cfg.batch)
            lm, ido, dense = tr.batch(idx, rng.integers(0, len(train_ids), cfg.batch))
            if noise > 0:
                lm = lm + noise * torch.randn_like(lm)
            pred = net(lm.to(device), ido.to(device))
            loss, _ = s2d_loss(pred * to_m, dense.to(device) * to_m, vw.to(device),
                               cfg.weights)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            run_loss += loss.item()
        val = evaluate(net, va, vidx, vwho, vw, cfg, to_m, device)
        rec = {"epoch": epoch + 1, "train_loss": run_loss / max(cfg.steps, 1),
               "val_loss": val["loss"], "val_de_mm": val["de_mm"]}
        if book.finish_epoch(rec, net, opt, rng, cfg):
            break
    return book.summary(net, device)
