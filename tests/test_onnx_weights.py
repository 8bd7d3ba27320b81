"""--init-from an exported model: its weights read back from the ONNX graph equal the
checkpoint's, fine-tuning starts from them, and a graph that does not fit is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from facewire.train.blendshapes.export import export
from facewire.train.blendshapes.onnx_weights import checkpoint_from_card
from facewire.train.blendshapes.train import (
    CheckpointError,
    TrainConfig,
    load_checkpoint,
    train,
)
from facewire.train.data.dataset import make_toy_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), n_clips=6, seconds=0.8, voices=3)


def _run(corpus: Path, out: Path, arch: str, **kw: object) -> dict:
    cfg = {"data": [str(corpus)], "arch": arch, "out": str(out), "epochs": 1, "batch": 4,
           "quiet": True, "held_out": 0.34, "hidden": 8, "window": 4, **kw}
    return train(TrainConfig(**cfg))  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ["cnn_gru", "ff", "s2s"])
def test_weights_read_back_from_onnx_equal_the_checkpoint(corpus: Path, tmp_path: Path,
                                                          arch: str) -> None:
    _run(corpus, tmp_path / "run", arch, phone_loss=0.2 if arch == "cnn_gru" else 0.0)
    src = load_checkpoint(tmp_path / "run" / "best.pt")
    card = export(tmp_path / "run" / "best.pt", tmp_path / "model", argv=["export"])
    ck = checkpoint_from_card(card)
    assert ck["arch"] == arch and ck["features"] == src["features"]
    heads = {k for k in src["state_dict"] if k.startswith("phone_head")}
    assert bool(heads) == (arch == "cnn_gru"), "cnn_gru trains a head the graph leaves out"
    assert set(ck["state_dict"]) == set(src["state_dict"]) - heads
    for k, v in ck["state_dict"].items():
        assert torch.allclose(v, src["state_dict"][k], atol=1e-7), k


def test_init_from_a_card_fine_tunes_the_exported_model(corpus: Path, tmp_path: Path) -> None:
    _run(corpus, tmp_path / "run", "cnn_gru")
    src = load_checkpoint(tmp_path / "run" / "best.pt")
    card = export(tmp_path / "run" / "best.pt", tmp_path / "model", argv=["export"])
    tuned = _run(corpus, tmp_path / "tuned", "cnn_gru", lr=0.0, lookahead=1,
                 init_from=str(card))
    ck = load_checkpoint(tuned["best"])
    assert ck["train_config"]["init_from"] == str(card)
    for k in ("gru.weight_hh_l0", "out.weight", "tconv.0.weight", "feat_mean"):
        assert torch.allclose(ck["state_dict"][k], src["state_dict"][k], atol=1e-7), k


def test_a_graph_that_does_not_fit_its_card_is_refused(corpus: Path, tmp_path: Path) -> None:
    _run(corpus, tmp_path / "run", "cnn_gru")
    card_path = export(tmp_path / "run" / "best.pt", tmp_path / "model", argv=["export"])
    card = json.loads(card_path.read_text())
    card["arch_config"]["hidden"] = 12  # the graph holds a hidden size of 8
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="GRU|graph|differ"):
        checkpoint_from_card(card_path)
    (tmp_path / "model" / card["onnx"]).unlink()
    with pytest.raises(CheckpointError, match="ONNX file is missing"):
        checkpoint_from_card(card_path)
