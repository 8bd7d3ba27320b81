"""The two-view consistency loss (``--consistency``): its value on known differences, the
second augmented view that ``collate`` draws for it, and its place in a training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.train.blendshapes.losses import consistency_loss
from facewire.train.blendshapes.train import TrainConfig, train
from facewire.train.data.batches import collate
from facewire.train.data.dataset import Example, make_toy_corpus


def test_consistency_loss_is_the_masked_squared_difference_in_sigma_units() -> None:
    sigma = torch.tensor([0.5, 2.0])
    pred = torch.zeros(1, 3, 2)
    other = torch.tensor([[[0.5, 2.0], [1.0, 0.0], [9.0, 9.0]]])  # last frame masked
    mask = torch.tensor([[[True, True], [True, True], [False, False]]])
    # frame 0: (1^2 + 1^2); frame 1: (2^2 + 0); over 4 valid entries
    assert float(consistency_loss(pred, other, mask, sigma)) == pytest.approx(6 / 4)
    assert float(consistency_loss(other, other, mask, sigma)) == 0.0


def example(frames: int = 120, bins: int = 16) -> Example:
    rng = np.random.default_rng(0)
    return Example(id="clip", voice="v", feats=rng.normal(size=(frames, bins)).astype(np.float32),
                   targets=rng.uniform(size=(frames, 3)).astype(np.float32),
                   valid=np.ones((frames, 3), bool), utt=None)  # type: ignore[arg-type]


def test_collate_draws_an_independent_second_view_of_the_same_crop() -> None:
    ex = example()
    plain = collate([ex], 60, np.random.default_rng(5), -5.0, burn_in=10, warp=0.2, eq=1.0)
    both = collate([ex], 60, np.random.default_rng(5), -5.0, burn_in=10, warp=0.2, eq=1.0,
                   second_view=True)
    assert plain.x2 is None
    # the first view, the crop and its targets are what they were without the second view
    assert torch.equal(plain.x, both.x) and torch.equal(plain.y, both.y)
    assert both.x2 is not None and both.x2.shape == both.x.shape
    assert not torch.allclose(both.x, both.x2)  # other warp and envelope
    # the same frames underneath: without augmentation the two views are one
    same = collate([ex], 60, np.random.default_rng(5), -5.0, burn_in=10, second_view=True)
    assert same.x2 is not None and torch.equal(same.x, same.x2)


def test_training_with_the_consistency_loss(tmp_path: Path) -> None:
    # one training clip: its crop and first view are drawn alike with and without the term
    corpus = make_toy_corpus(tmp_path / "toy", n_clips=2, seconds=0.8, voices=2)
    cfg = TrainConfig(data=[str(corpus)], out=str(tmp_path / "run"), epochs=1, batch=4,
                      quiet=True, held_out=0.5, hidden=8, warp=0.3, eq_db=10.0,
                      consistency=1000.0)
    with_term = train(cfg)["history"][0]["train_loss"]
    without = train(TrainConfig(**{**cfg.__dict__, "consistency": 0.0, "out": str(tmp_path / "r0")}))
    # one batch, scored before its step: the same curve loss plus the term
    assert with_term > without["history"][0]["train_loss"] + 0.05
    with pytest.raises(ValueError, match="--consistency compares two augmented views"):
        train(TrainConfig(**{**cfg.__dict__, "warp": 0.0, "eq_db": 0.0,
                             "out": str(tmp_path / "run2")}))
