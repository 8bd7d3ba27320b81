"""Widening a trained CNN+GRU: the wider network computes what the narrow one did, its new
units can diverge, and ``--init-from`` with a larger ``--hidden`` starts from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from facewire.models.blendshape_nets import build
from facewire.train.blendshapes.train import TrainConfig, load_checkpoint, predict_curves, train
from facewire.train.blendshapes.widen import widen_checkpoint, widen_gru_state
from facewire.train.data.dataset import make_toy_corpus

OUTPUTS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker")


def _net(hidden: int) -> torch.nn.Module:
    return build("cnn_gru", n_feats=40, outputs=OUTPUTS, hidden=hidden, seal=True,
                 phone_classes=5).eval()


def test_widened_network_gives_the_same_outputs() -> None:
    torch.manual_seed(0)
    narrow, wide = _net(8), _net(21)
    wide.load_state_dict(widen_gru_state(narrow.state_dict(), 21, noise=0.0))
    x = torch.randn(2, 60, 40)
    with torch.no_grad():
        assert (narrow(x) - wide(x)).abs().max() < 1e-5
        assert (narrow.phone_logits() - wide.phone_logits()).abs().max() < 1e-5
        y1, *s1 = narrow.forward_stream(x[:1, :30], *narrow.initial_state())
        y2, *s2 = wide.forward_stream(x[:1, :30], *wide.initial_state())
    assert (y1 - y2).abs().max() < 1e-5 and s2[1].shape == (1, 1, 21)


def test_noise_breaks_the_copies_symmetry_and_keeps_the_function_close() -> None:
    torch.manual_seed(0)
    narrow, wide = _net(8), _net(16)
    state = widen_gru_state(narrow.state_dict(), 16, noise=1e-3)
    w = state["gru.weight_ih_l0"]
    originals = w[:8]
    assert not any(torch.equal(w[k], originals[j]) for k in range(8, 16) for j in range(8))
    wide.load_state_dict(state)
    x = torch.randn(1, 60, 40)
    with torch.no_grad():
        diff = (narrow(x) - wide(x)).abs().max()
    assert 0 < diff < 1e-2


def test_narrowing_and_other_architectures_are_refused() -> None:
    with pytest.raises(ValueError, match="narrow"):
        widen_gru_state(_net(8).state_dict(), 4)
    with pytest.raises(ValueError, match="cnn_gru"):
        widen_checkpoint({"arch": "ff", "state_dict": {}, "net_config": {}}, 16)


def test_init_from_a_narrower_run_starts_from_the_widened_network(tmp_path: Path) -> None:
    corpus = make_toy_corpus(tmp_path / "toy", n_clips=6, seconds=0.8, voices=3)
    common = {"data": [str(corpus)], "arch": "cnn_gru", "epochs": 1, "batch": 4,
              "quiet": True, "held_out": 0.34}
    train(TrainConfig(out=str(tmp_path / "narrow"), hidden=8, **common))  # type: ignore[arg-type]
    wide_run = train(TrainConfig(out=str(tmp_path / "wide"), hidden=24, lr=0.0,  # type: ignore[arg-type]
                                 init_from=str(tmp_path / "narrow" / "best.pt"), **common))
    narrow_ck = load_checkpoint(tmp_path / "narrow" / "best.pt")
    wide_ck = load_checkpoint(wide_run["best"])
    assert wide_ck["net_config"]["hidden"] == 24
    nets = []
    for ck in (narrow_ck, wide_ck):
        net = build(ck["arch"], **ck["net_config"])
        net.load_state_dict(ck["state_dict"])
        nets.append(net)
    feats = torch.randn(80, nets[0].n_feats).numpy() * 2 - 6
    from facewire.train.blendshapes.train import feature_spec_for

    spec, _ = feature_spec_for(TrainConfig(**common))  # type: ignore[arg-type]
    narrow_y, wide_y = (predict_curves(n, feats, spec) for n in nets)
    assert abs(narrow_y - wide_y).max() < 1e-2
