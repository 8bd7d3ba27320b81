"""The audio features a run trains on, shared by the blendshape and landmark networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facewire.train.data.dataset import Example, FeatureSpec
from facewire.train.runs import AudioRunSettings


def feature_spec_for(cfg: AudioRunSettings) -> tuple[FeatureSpec, Any]:
    """The feature spec and extractor a config asks for."""
    if cfg.features == "logmel":
        return FeatureSpec.for_logmel(), None
    if cfg.features in ("wav2vec", "wav2vec2"):
        if not cfg.wav2vec:
            raise ValueError("--features wav2vec2 needs --wav2vec DIR (a local model folder)")
        from facewire.models.wav2vec import Wav2VecFeatures

        w = Wav2VecFeatures(cfg.wav2vec, layer=cfg.wav2vec_layer)
        return FeatureSpec("wav2vec2", w.rate, w.dim, w.t0, 0.0, None, w.spec_dict()), w
    raise ValueError(f"unknown features {cfg.features!r} (logmel or wav2vec2)")


def feature_stats(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (floored) of the training features: the input norm."""
    allf = np.concatenate([e.feats for e in examples])
    return allf.mean(0), allf.std(0) + 1e-3
