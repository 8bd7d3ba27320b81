"""Training loop for the blendshape networks (``facewire train blendshapes``).

Adam (lr 1e-3, seed 000), early stopping on a validation set of held-out *voices* (so the
stopping point rewards generalising to new speakers), loss MSE or the variance-normalised L2
+ L1 sparsity of seed 002 (per-curve sigma from the training targets, floored so that curves
the data never moves do not dominate). Every epoch writes ``last.pt`` (resumable: model,
optimiser, RNG, history) and, when validation improves, ``best.pt``; export reads either.
Fixed seeds make a run repeatable on the same machine and thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from facewire.models.blendshape_nets import ARCHS, BlendshapeNet, build
from facewire.models.speaker_norm import check_prior_weight, with_prior_weight
from facewire.phones.arpabet import ARPABET
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX, LOWER_FACE
from facewire.train.blendshapes.checkpoint import (  # noqa: F401  (re-exported)
    CKPT_FORMAT,
    load_checkpoint,
    net_from_checkpoint,
    predict_curves,
)
from facewire.train.blendshapes.losses import (
    ApertureLoss,
    closure_loss,
    consistency_loss,
    loss_fn,
    phone_loss,
    seal_loss,
    voice_adversary_loss,
)
from facewire.train.data.batches import bandlimit, collate
from facewire.train.data.dataset import (
    Example,
    FeatureSpec,
    Utterance,
    corpus_summary,
    feature_fn,
    load_sources,
    make_examples,
    split_by_voice,
)
from facewire.train.data.features import feature_spec_for, feature_stats
from facewire.train.epochs import EpochBook, optimiser_step, shuffled_batches
from facewire.train.options import option
from facewire.train.runs import (  # noqa: F401  (CheckpointError: re-exported)
    AudioRunSettings,
    CheckpointError,
    read_checkpoint,
    resolve_device,
    start_run,
)

SIGMA_FLOOR = 0.05


@dataclass
class TrainConfig(AudioRunSettings):
    """Everything a run depends on (recorded in the checkpoint and the model card); each
    option's help is its flag's help in ``facewire train blendshapes``."""

    data: list[str] = option([], "corpus folder (facewire data synth), Live Link Face take "
                             "folder, or 'facegood'; repeatable", required=True)
    arch: str = option("cnn_gru", "network", choices=ARCHS)
    out: str = option("runs/blendshapes", "run folder for checkpoints (last.pt, best.pt)",
                      required=True)
    lookahead: int = option(2, "feature frames (10 ms each) of future audio (streaming archs)")
    curves: str = option("lower", "ARKit curves the network predicts", choices=("lower", "all"))
    loss: str = option("vnl2", "MSE, or variance-normalised L2 + L1 sparsity (seed 002)",
                       choices=("mse", "vnl2"))
    l1: float = option(0.1, "L1 sparsity weight of vnl2 (seed 002's lambda)")
    aperture: float = option(0.0, "weight of the lip-aperture L1 loss (mm / 10) on the rig "
                             "(0: off)")
    rig: str | None = option(None, "rig npz for --aperture (default ICT facekit)")
    seal: bool = option(True, "predict mouthClose freely instead of as a share of jawOpen")
    bandlimit: float = option(0.0, "share of training clips low-passed to 4 kHz "
                              "(augmentation: 8 kHz microphones)")
    gain_db: float = option(0.0, "random level change per training crop, +- dB")
    eq_db: float = option(0.0, "random spectral envelope per training crop (tilt + ripple), "
                          "+- dB (augmentation: voice and microphone timbre)")
    warp: float = option(0.0, "mel-axis warp per crop (vocal tract length), 0.1 = +-10%%")
    speaker_norm: bool = option(False, "online speaker normalisation of log-mel (running "
                                "speech mean replaced by the training voices' mean; see "
                                "docs/models.md)")
    speaker_norm_prior: float | None = option(
        None, "weight of the training voices' mean in the speaker normaliser, in frames "
        "(default 10, or the --init-from model's): lower adapts to a new voice sooner after "
        "a stream starts", metavar="FRAMES")
    seal_bce: float = option(0.0, "weight of the lip-seal classification loss (seal nets)")
    seal_pos_weight: float = option(1.0, "weight of sealed frames (~5%%) in --seal-bce: >1, "
                                    "fewer missed closures and more false ones")
    closure: float = option(0.0, "weight of the segment-level lip-closure loss: each /p b m/ "
                            "must close the lips (< 1 mm) at some frame, each lips-apart "
                            "consonant must not (needs phone timings; see docs/models.md)")
    consistency: float = option(0.0, "weight of the voice-invariance loss: two augmented views "
                                "of a crop must give the same curves (see docs/models.md)")
    phone_loss: float = option(0.0, "weight of an auxiliary phone-recognition loss on the GRU "
                               "state (cnn_gru; needs phone timings; not exported)")
    voice_adversary: float = option(0.0, "weight of a gradient-reversed voice classifier on "
                                    "the GRU state (cnn_gru; not exported)")
    lr_plateau: int = option(0, "halve the learning rate once validation has not improved "
                             "for more than N epochs (0: constant rate); kept across --resume",
                             metavar="N")
    init_from: str | None = option(
        None, "start from this checkpoint's weights, or from an exported model's card (.json, "
        "e.g. the shipped default): fine-tuning on your own takes, or to another lookahead; "
        "with a larger --hidden (cnn_gru) the network is widened first, keeping its outputs",
        metavar="CKPT")
    batch: int = option(8, "clips per batch")
    crop_s: float = option(4.0, "training crop length (s)", flag="--crop")
    hidden: int | None = option(None, "recurrent/hidden size (cnn_gru default 96)")
    window: int | None = option(None, "ff window (feature frames)")


def speaker_normalised(spec: FeatureSpec, utts: Sequence[Utterance], max_clips: int = 300
                       ) -> FeatureSpec:
    """The spec with online speaker normalisation, its prior taken from training clips."""
    from facewire.models.speaker_norm import speech_statistics

    if spec.kind != "logmel":
        raise ValueError("--speaker-norm works with log-mel features only")
    fn = feature_fn(spec)
    clips = list(utts)[::max(1, len(utts) // max_clips)]
    return replace(spec, speaker_norm=speech_statistics([fn(u.audio) for u in clips]).to_dict())


def output_curves(which: str) -> tuple[str, ...]:
    if which == "lower":
        return LOWER_FACE
    if which == "all":
        return ARKIT_52
    raise ValueError(f"--curves {which!r}: lower or all")


def make_net(cfg: TrainConfig, spec: FeatureSpec, n_voices: int = 0) -> BlendshapeNet:
    if cfg.arch not in ARCHS:
        raise ValueError(f"unknown --arch {cfg.arch!r}; choose one of {', '.join(ARCHS)}")
    kw: dict[str, Any] = {"n_feats": spec.dim, "outputs": output_curves(cfg.curves),
                          "pad_value": spec.pad_value, "seal": cfg.seal}
    if cfg.arch != "s2s":
        kw["lookahead"] = cfg.lookahead
    if cfg.hidden:
        kw["hidden"] = cfg.hidden
    if cfg.window and cfg.arch == "ff":
        kw["window"] = cfg.window
    for flag, weight in (("--phone-loss", cfg.phone_loss),
                         ("--voice-adversary", cfg.voice_adversary)):
        if weight > 0 and cfg.arch != "cnn_gru":
            raise ValueError(f"{flag} works with --arch cnn_gru, not {cfg.arch}")
    if cfg.phone_loss > 0:
        kw["phone_classes"] = len(ARPABET)
    if cfg.voice_adversary > 0:
        if n_voices < 2:
            raise ValueError("--voice-adversary needs at least two training voices")
        kw["voice_classes"] = n_voices
    return build(cfg.arch, **kw)


def curve_sigma(examples: Sequence[Example]) -> np.ndarray:
    """Per-curve standard deviation of the valid training targets, floored."""
    num = sum((e.targets * e.valid).sum(0) for e in examples)
    cnt = sum(e.valid.sum(0) for e in examples)
    mean = num / np.maximum(cnt, 1)
    var = sum((((e.targets - mean) ** 2) * e.valid).sum(0) for e in examples) / np.maximum(cnt, 1)
    return np.maximum(np.sqrt(var), SIGMA_FLOOR).astype(np.float32)


def _subset(net: BlendshapeNet) -> torch.Tensor:
    return torch.tensor([ARKIT_INDEX[n] for n in net.outputs])


def evaluate_loss(net: BlendshapeNet, examples: Sequence[Example], sigma: torch.Tensor,
                  cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """Validation loss and MSE over whole utterances (one at a time, as inference runs)."""
    net.eval()
    cols = _subset(net).to(device)
    tot = {"loss": 0.0, "mse": 0.0}
    weight = 0.0
    with torch.no_grad():
        for e in examples:
            x, y, m, *_ = collate([e], None, None, net.pad_value)
            x, y, m = x.to(device), y.to(device), m.to(device)
            pred = net(x)[..., cols]
            w = float(m.sum())
            tot["loss"] += float(loss_fn(pred, y, m, sigma, cfg.loss, cfg.l1)) * w
            tot["mse"] += float(loss_fn(pred, y, m, sigma, "mse", 0.0)) * w
            weight += w
    return {k: v / max(weight, 1.0) for k, v in tot.items()}


def load_init(path: str | Path) -> dict[str, Any]:
    """What ``--init-from`` names: a checkpoint (or run folder), or an exported model's card
    (``.json``), whose weights are read back from its ONNX graph."""
    if Path(path).suffix == ".json":
        from facewire.train.blendshapes.onnx_weights import checkpoint_from_card

        return checkpoint_from_card(path)
    return load_checkpoint(path)


def init_weights(net: BlendshapeNet, ck: dict[str, Any]) -> None:
    """Copy a checkpoint's weights into ``net`` for fine-tuning; training-only heads whose
    size differs (another set of voices) keep their fresh initialisation.

    The checkpoint's input normalisation comes with it: the first layer learned on it. The
    lookahead may differ (it shifts the targets, not the weights); the architecture, the
    features' size and the output curves may not. A cnn_gru run with a larger ``--hidden``
    starts from the checkpoint's network widened without changing its outputs
    (facewire.train.blendshapes.widen)."""
    if ck["arch"] != net.arch:
        raise CheckpointError(f"{ck.get('path')}: --init-from holds a {ck['arch']} network, "
                              f"this run trains {net.arch}")
    hidden = getattr(net, "hidden", None)
    if net.arch == "cnn_gru" and hidden and ck["net_config"].get("hidden", hidden) < hidden:
        from facewire.train.blendshapes.widen import widen_checkpoint

        ck = widen_checkpoint(ck, hidden)
    own = net.state_dict()
    fits = {k: v for k, v in ck["state_dict"].items() if k in own and own[k].shape == v.shape}
    left = sorted(set(own) - set(fits))
    core = [k for k in left if k.split(".", 1)[0] not in net.TRAINING_HEADS]
    if core:
        raise CheckpointError(f"{ck.get('path')}: --init-from weights do not fit this network "
                              f"({', '.join(core[:4])}{' ...' if len(core) > 4 else ''}); "
                              "use the same --arch, --hidden, --curves and features")
    net.load_state_dict(fits, strict=False)


def train(cfg: TrainConfig, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run (or resume) training; returns a summary. Writes ``cfg.out``/{last,best}.pt."""
    run = start_run(cfg.out, cfg, load_checkpoint, argv)
    out, device, rng, command, resume_ck = run.out, run.device, run.rng, run.command, run.resume

    spec, extractor = feature_spec_for(cfg)
    if cfg.speaker_norm_prior is not None:  # refused before the corpora load
        if not cfg.speaker_norm:
            raise ValueError(f"--speaker-norm-prior {cfg.speaker_norm_prior:g}: needs "
                             "--speaker-norm")
        check_prior_weight(cfg.speaker_norm_prior)
    if cfg.consistency > 0 and (spec.kind != "logmel"
                                or not (cfg.gain_db or cfg.eq_db or cfg.warp)):
        raise ValueError("--consistency compares two augmented views of each crop and needs "
                         "--warp, --eq-db or --gain-db (log-mel features)")
    utts = load_sources(cfg.data)
    train_u, val_u = split_by_voice(utts, cfg.held_out, cfg.seed)
    if not train_u or not val_u:
        raise ValueError(f"cannot split {len(utts)} clips into train and validation")
    if cfg.bandlimit > 0:
        train_u = bandlimit(train_u, cfg.bandlimit, np.random.default_rng([cfg.seed, 1]))
    init_ck = load_init(cfg.init_from) if cfg.init_from and resume_ck is None else None
    # a fine-tune keeps the prior its network learned with, a resumed run its own
    init_norm = (resume_ck or init_ck or {}).get("features", {}).get("speaker_norm")
    if cfg.speaker_norm:
        spec = (replace(spec, speaker_norm=init_norm) if init_norm
                else speaker_normalised(spec, train_u))
        if cfg.speaker_norm_prior is not None:
            spec = replace(spec, speaker_norm=with_prior_weight(spec.speaker_norm,
                                                                cfg.speaker_norm_prior))
    voice_index = {v: i for i, v in enumerate(sorted({u.voice for u in train_u}))}
    net = make_net(cfg, spec, len(voice_index))
    bar = (lambda xs: tqdm(xs, desc="features", unit="clip", leave=False)) if not cfg.quiet \
        else None
    tr = make_examples(train_u, spec, net.outputs, net.lookahead, extractor, bar)
    va = make_examples(val_u, spec, net.outputs, net.lookahead, extractor, bar)
    if init_ck is not None:
        init_weights(net, init_ck)  # its input normalisation comes with it
    else:
        mean, std = feature_stats(tr)
        net.set_normalisation(torch.from_numpy(mean), torch.from_numpy(std))
    sigma_np = curve_sigma(tr)
    net.to(device)
    sigma = torch.from_numpy(sigma_np).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg.lr_plateau)
             if cfg.lr_plateau > 0 else None)
    ap_loss = (ApertureLoss(cfg.rig, net.outputs, device)
               if cfg.aperture > 0 or cfg.closure > 0 else None)
    if cfg.closure > 0 and not any(e.phones is not None and (e.phones >= 0).any() for e in tr):
        raise ValueError(f"--closure needs phone timings, and no clip of {', '.join(cfg.data)} "
                         "has any: use corpora from `facewire data synth` or drop --closure")
    meta = {
        "format": CKPT_FORMAT, "version": 1, "arch": cfg.arch, "net_config": net.config(),
        "features": spec.to_dict(), "train_config": asdict(cfg), "command": command,
        "resumed": run.resumed,
        "data": corpus_summary(cfg.data, utts),
        "split": {"train_voices": sorted({u.voice for u in train_u}),
                  "val_voices": sorted({u.voice for u in val_u}),
                  "train_clips": len(train_u), "val_clips": len(val_u)},
        "sigma": sigma_np.tolist(), "torch": str(torch.__version__),
    }
    voice_of = torch.tensor([voice_index[e.voice] for e in tr])  # class id per example
    crop = int(round(cfg.crop_s * spec.rate)) if cfg.crop_s else None
    # dB of amplitude -> natural log of power, for log-mel only
    db = math.log(10) / 10 if spec.kind == "logmel" else 0.0
    gain, eq = cfg.gain_db * db, cfg.eq_db * db
    warp = cfg.warp if spec.kind == "logmel" else 0.0
    book = EpochBook(out, net, meta, min_gain=1e-6)
    if resume_ck is not None:
        book.resume(resume_ck, net, opt, rng)
        if sched is not None and "scheduler" in resume_ck:
            sched.load_state_dict(resume_ck["scheduler"])
    for epoch in range(book.start_epoch, cfg.epochs):
        net.train()
        run_loss, seen = 0.0, 0
        it = shuffled_batches(rng, len(tr), cfg.batch, epoch, cfg.epochs, cfg.quiet)
        cols = _subset(net).to(device)
        for b in it:
            x, y, m, ph, x2 = collate([tr[i] for i in b], crop, rng, net.pad_value, gain=gain,
                                      warp=warp, eq=eq, second_view=cfg.consistency > 0)
            x, y, m, ph = x.to(device), y.to(device), m.to(device), ph.to(device)
            if x2 is not None:  # before x: the auxiliary heads read the last forward pass
                with torch.no_grad():
                    other = net(x2.to(device))[..., cols]
            pred = net(x)
            loss = loss_fn(pred[..., cols], y, m, sigma, cfg.loss, cfg.l1)
            if cfg.aperture > 0:
                loss = loss + cfg.aperture * ap_loss(pred, y, m)
            if cfg.closure > 0:
                loss = loss + cfg.closure * closure_loss(ap_loss, pred, y, ph)
            if x2 is not None:
                loss = loss + cfg.consistency * consistency_loss(pred[..., cols], other, m, sigma)
            if cfg.seal_bce > 0 and net.seal:
                loss = loss + cfg.seal_bce * seal_loss(net, y, m, cfg.seal_pos_weight)
            if cfg.phone_loss > 0:
                loss = loss + cfg.phone_loss * phone_loss(net, ph)
            if cfg.voice_adversary > 0:
                loss = loss + cfg.voice_adversary * voice_adversary_loss(
                    net, voice_of[torch.from_numpy(b)].to(device), m.any(-1))
            run_loss += optimiser_step(opt, net, loss) * len(b)
            seen += len(b)
            it.set_postfix(loss=f"{run_loss / seen:.4f}")
        val = evaluate_loss(net, va, sigma, cfg, device)
        rec = {"epoch": epoch + 1, "train_loss": run_loss / max(seen, 1),
               "val_loss": val["loss"], "val_mse": val["mse"], "lr": opt.param_groups[0]["lr"]}
        extra = None
        if sched is not None:
            sched.step(val["loss"])
            extra = {"scheduler": sched.state_dict()}
        if book.finish_epoch(rec, net, opt, rng, cfg, extra):
            break
    return book.summary(net, device)
