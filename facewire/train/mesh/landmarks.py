"""Training loop for the landmarks network (seed 001's S2L; ``facewire train
landmarks``): audio features -> 68 x 3 landmark displacements on random identities of the
ICT rig.

Targets: the corpus's teacher curves posed on a training identity (see
:mod:`facewire.train.mesh.data`); every training crop draws a fresh identity, because
audio says nothing about whose face will move, so the network should learn the motion all
heads share. Validation holds out whole voices (``split_by_voice``) and uses the same fixed
identities every epoch. Loss: seed 001's eq. 2 with its weights (rec 0.1, mouth 1, cosine
1e-4, velocity 10) on displacements in metres. Checkpoints, early stopping, resume and the
time budget work as in :mod:`facewire.train.blendshapes.train`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from facewire.models.s2l import ARCHS, S2LNet, as_points, build
from facewire.rig.arkit import ARKIT_52
from facewire.rig.rig import Rig, default_rig_path
from facewire.train.data.batches import collate
from facewire.train.data.dataset import (
    Example,
    corpus_summary,
    load_sources,
    make_examples,
    split_by_voice,
)
from facewire.train.data.features import feature_spec_for, feature_stats
from facewire.train.epochs import EpochBook, optimiser_step, shuffled_batches
from facewire.train.mesh.data import (
    JAW_MOUTH,
    TRAIN_IDENTITY_SEED,
    IdentitySet,
    identity_coefficients,
    split_identities,
)
from facewire.train.mesh.losses import S2LWeights, s2l_loss
from facewire.train.options import option
from facewire.train.runs import AudioRunSettings, read_checkpoint, start_run

CKPT_FORMAT = "facewire-s2l-checkpoint"
VAL_IDENTITY_SEED = 3000


@dataclass
class LandmarksConfig(AudioRunSettings):
    """Everything a run depends on (recorded in the checkpoint and the model card); each
    option's help is its flag's help in ``facewire train landmarks``."""

    arch: str = option("s2l_causal", "s2l: BiLSTM, offline (the paper's); s2l_causal: "
                       "streaming", choices=ARCHS)
    out: str = option("runs/s2l", "run folder for checkpoints (last.pt, best.pt)",
                      required=True)
    lookahead: int = option(6, "s2l_causal: feature frames (10 ms each) of future audio")
    hidden: int = option(64, "LSTM size")
    layers: int = option(3, "LSTM layers")
    rig: str | None = option(None, "rig npz (default: the shared ICT facekit)")
    identities: int = option(40, "random training identities")
    w_rec: float = option(0.1, "weight of the reconstruction loss (seed 001 eq. 2)")
    w_mouth: float = option(1.0, "weight of the mouth-landmark loss")
    w_cos: float = option(1e-4, "weight of the cosine (direction) loss")
    w_vel: float = option(10.0, "weight of the velocity loss")
    batch: int = option(16, "clips per batch")
    crop_s: float = option(4.0, "training crop length (s)", flag="--crop")

    @property
    def weights(self) -> S2LWeights:
        return S2LWeights(self.w_rec, self.w_mouth, self.w_cos, self.w_vel)


def load_rig(path: str | None) -> Rig:
    return Rig.load(path or default_rig_path())


def landmark_shape_bank(ids: IdentitySet) -> torch.Tensor:
    """``[N, 52, 204]``: each identity's landmark displacement per unit ARKit weight."""
    return torch.from_numpy(np.stack([ids.landmark_shapes(i).reshape(52, -1)
                                      for i in range(len(ids))]))


def _targets(y: torch.Tensor, m: torch.Tensor, bank: torch.Tensor, who: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Curves ``[B, n, 52]`` -> landmark displacements ``[B, n, 68, 3]`` and frame mask."""
    tgt = torch.einsum("bnk,bkp->bnp", y, bank[who])
    return as_points(tgt), m.all(-1)


def evaluate_loss(net: S2LNet, examples: Sequence[Example], bank: torch.Tensor,
                  cfg: LandmarksConfig, to_m: float, device: torch.device) -> dict[str, float]:
    """Validation loss and landmark error (mm) over whole utterances, identity ``i % N``."""
    net.eval()
    tot: dict[str, float] = {"loss": 0.0, "de_mm": 0.0}
    n = 0
    with torch.no_grad():
        for i, e in enumerate(examples):
            x, y, m, *_ = collate([e], None, None, net.pad_value)
            tgt, fm = _targets(y, m, bank, torch.tensor([i % len(bank)]))
            pred = as_points(net(x.to(device))).cpu()
            loss, _ = s2l_loss(pred * to_m, tgt * to_m, fm, cfg.weights, JAW_MOUTH)
            err = (pred - tgt).norm(dim=-1).mean(-1)[fm]
            tot["loss"] += float(loss)
            tot["de_mm"] += float(err.mean()) * to_m * 1000 if len(err) else 0.0
            n += 1
    return {k: v / max(n, 1) for k, v in tot.items()}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read an S2L checkpoint; CheckpointError names the file and what to do."""
    return read_checkpoint(path, CKPT_FORMAT, "S2L", "train landmarks")


def net_from_checkpoint(ck: dict[str, Any]) -> S2LNet:
    net = build(ck["arch"], **ck["net_config"])
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def train(cfg: LandmarksConfig, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run (or resume) training; writes ``cfg.out``/{last,best}.pt and returns a summary."""
    if cfg.arch not in ARCHS:
        raise ValueError(f"unknown --arch {cfg.arch!r}; choose one of {', '.join(ARCHS)}")
    run = start_run(cfg.out, cfg, load_checkpoint, argv)
    out, device, rng, command, resume_ck = run.out, run.device, run.rng, run.command, run.resume

    spec, extractor = feature_spec_for(cfg)  # type: ignore[arg-type]
    utts = load_sources(cfg.data)
    train_u, val_u = split_by_voice(utts, cfg.held_out, cfg.seed)
    if not train_u or not val_u:
        raise ValueError(f"cannot split {len(utts)} clips into train and validation")
    rig = load_rig(cfg.rig)
    train_ids, _ = split_identities(cfg.identities, 0, rig.identity_basis.shape[0])
    bank = landmark_shape_bank(IdentitySet.build(rig, train_ids))
    val_ids = identity_coefficients(8, VAL_IDENTITY_SEED, rig.identity_basis.shape[0])
    val_bank = landmark_shape_bank(IdentitySet.build(rig, val_ids))
    to_m = rig.mm / 1000.0

    lookahead = cfg.lookahead if cfg.arch == "s2l_causal" else 0
    net = build(cfg.arch, n_feats=spec.dim, hidden=cfg.hidden, layers=cfg.layers,
                lookahead=lookahead, pad_value=spec.pad_value)
    bar = (lambda xs: tqdm(xs, desc="features", unit="clip", leave=False)) if not cfg.quiet \
        else None
    tr = make_examples(train_u, spec, ARKIT_52, net.lookahead, extractor, bar)
    va = make_examples(val_u, spec, ARKIT_52, net.lookahead, extractor, bar)
    mean, std = feature_stats(tr)
    net.set_normalisation(torch.from_numpy(mean), torch.from_numpy(std))
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    meta = {
        "format": CKPT_FORMAT, "version": 1, "arch": cfg.arch, "net_config": net.config(),
        "features": spec.to_dict(), "train_config": asdict(cfg), "command": command,
        "data": corpus_summary(cfg.data, utts), "rig": str(rig.source or rig.name),
        "rig_name": rig.name, "unit": rig.unit,
        "split": {"train_voices": sorted({u.voice for u in train_u}),
                  "val_voices": sorted({u.voice for u in val_u}),
                  "train_clips": len(train_u), "val_clips": len(val_u),
                  "train_identities": {"n": cfg.identities, "seed": TRAIN_IDENTITY_SEED},
                  "val_identities": {"n": len(val_ids), "seed": VAL_IDENTITY_SEED}},
        "torch": str(torch.__version__),
    }
    crop = int(round(cfg.crop_s * spec.rate)) if cfg.crop_s else None
    book = EpochBook(out, net, meta)
    if resume_ck is not None:
        book.resume(resume_ck, net, opt, rng)
    for epoch in range(book.start_epoch, cfg.epochs):
        net.train()
        run_loss, seen = 0.0, 0
        it = shuffled_batches(rng, len(tr), cfg.batch, epoch, cfg.epochs, cfg.quiet)
        for b in it:
            x, y, m, *_ = collate([tr[i] for i in b], crop, rng, net.pad_value)
            who = torch.from_numpy(rng.integers(0, len(bank), len(b)))
            tgt, fm = _targets(y, m, bank, who)
            pred = as_points(net(x.to(device)))
            loss, _ = s2l_loss(pred * to_m, tgt.to(device) * to_m, fm.to(device), cfg.weights,
                               JAW_MOUTH)
            run_loss += optimiser_step(opt, net, loss) * len(b)
            seen += len(b)
            it.set_postfix(loss=f"{run_loss / seen:.5f}")
        val = evaluate_loss(net, va, val_bank, cfg, to_m, device)
        rec = {"epoch": epoch + 1, "train_loss": run_loss / max(seen, 1),
               "val_loss": val["loss"], "val_de_mm": val["de_mm"]}
        if book.finish_epoch(rec, net, opt, rng, cfg):
            break
    return book.summary(net, device)
