"""A blendshape checkpoint read back: the network it holds, torch inference with it, and
probe features for comparing it with its ONNX graph. Training, export, evaluation and
``--init-from`` all read checkpoints, so this sits below each of them (no import circle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from facewire.models.blendshape_nets import BlendshapeNet, build
from facewire.models.framerate import resample
from facewire.train.data.dataset import FeatureSpec
from facewire.train.runs import CheckpointError, read_checkpoint

CKPT_FORMAT = "facewire-blendshape-checkpoint"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a blendshape checkpoint; CheckpointError names the file and what to do."""
    return read_checkpoint(path, CKPT_FORMAT, "blendshape", "train blendshapes")


def net_from_checkpoint(ck: dict[str, Any]) -> BlendshapeNet:
    net = build(ck["arch"], **ck["net_config"])
    try:
        net.load_state_dict(ck["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{ck.get('path')}: weights do not fit {ck['arch']}: {exc}") from exc
    return net.eval()


def predict_curves(net: BlendshapeNet, feats: np.ndarray, spec: FeatureSpec,
                   fps: float = 60.0) -> np.ndarray:
    """Torch inference of one utterance -> ARKit-52 at ``fps`` (the runtime's frames)."""
    net.eval()
    dev = next(net.parameters()).device
    with torch.no_grad():
        y = net(torch.from_numpy(np.asarray(feats, np.float32))[None].to(dev))[0].cpu().numpy()
    return resample(y[net.lookahead:], spec.rate, fps, spec.t0)


def probe_input(net: BlendshapeNet, n: int, seed: int = 0) -> torch.Tensor:
    """Features with the training statistics (realistic range), plus a stretch of silence."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n, net.n_feats, generator=g) * net.feat_std + net.feat_mean
    x[:, : n // 5] = net.pad_value
    return x
