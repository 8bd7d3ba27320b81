"""Training-only auxiliary losses: the phone read-out (labels aligned like the targets, kept
aligned by cropping, absent from the exported model) and the gradient-reversed voice adversary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.models.blendshape_nets import build
from facewire.phones.arpabet import PHONE_INDEX
from facewire.train.blendshapes.losses import phone_loss, voice_adversary_loss
from facewire.train.blendshapes.train import (
    TrainConfig,
    load_checkpoint,
    net_from_checkpoint,
    train,
)
from facewire.train.data.batches import collate
from facewire.train.data.dataset import (
    Example,
    FeatureSpec,
    align_phones,
    make_toy_corpus,
)


def test_phone_labels_follow_the_target_clock() -> None:
    spec = FeatureSpec.for_logmel()  # feature frame j at 0.01 + j / 100 s
    phones = [["SIL", 0.0, 0.1], ["P", 0.1, 0.2], ["AA1", 0.2, 0.5], ["XX", 0.5, 0.6]]
    lab = align_phones(phones, 60, spec, lookahead=2)
    # output i describes t = 0.01 + (i - 2) / 100
    assert lab[0] == -1  # before the clip
    assert lab[1] == PHONE_INDEX["SIL"]  # t = 0.0
    assert lab[10] == PHONE_INDEX["SIL"]  # t = 0.09
    assert lab[12] == PHONE_INDEX["P"]  # t = 0.11
    assert lab[25] == PHONE_INDEX["AA"]  # t = 0.24, stress stripped
    assert lab[55] == -1  # t = 0.54: not ARPAbet
    assert (align_phones(None, 5, spec, 0) == -1).all()


def test_cropping_keeps_phones_with_their_frames() -> None:
    n = 300
    feats = np.arange(n, dtype=np.float32)[:, None].repeat(2, 1)
    labels = (np.arange(n) % 40).astype(np.int64)
    ex = Example("a", "v", feats, np.zeros((n, 1), np.float32), np.ones((n, 1), bool), None,
                 labels)
    batch = collate([ex], crop=50, rng=np.random.default_rng(3), pad_value=-1.0, burn_in=10)
    frame = batch.x[0, :, 0].numpy().astype(int)  # the feature value is the frame index
    kept = batch.phones[0].numpy()
    valid = batch.m[0, :, 0].numpy()
    assert (kept[valid] == frame[valid] % 40).all()
    assert (kept[~valid] == -1).all() and (~valid).sum() == 10  # burn-in is not scored


def test_phone_loss_trains_the_read_out_and_ignores_unknown_frames() -> None:
    torch.manual_seed(0)
    net = build("cnn_gru", n_feats=16, outputs=("jawOpen", "mouthClose"), lookahead=0,
                hidden=8, phone_classes=40)
    x = torch.randn(2, 30, 16)
    labels = x[..., :4].argmax(-1)  # a phone the frame itself shows
    net(x)
    with pytest.raises(RuntimeError):
        build("cnn_gru", n_feats=16).phone_logits()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = phone_loss(net, labels).item()
    for _ in range(40):
        net(x)
        loss = phone_loss(net, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net(x)
    assert phone_loss(net, labels).item() < 0.5 * first
    assert phone_loss(net, torch.full((2, 30), -1)).item() == 0.0


def test_training_with_phone_loss_exports_without_the_head(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from facewire.train.blendshapes.export import export, export_onnx

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=6, seconds=0.8, voices=3)
    cfg = TrainConfig(data=[str(corpus)], arch="cnn_gru", out=str(tmp_path / "run"), epochs=1,
                      batch=4, quiet=True, held_out=0.34, hidden=8, phone_loss=0.5)
    train(cfg, argv=["train", "blendshapes"])
    ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ck["net_config"]["phone_classes"] == 40
    assert any(k.startswith("phone_head") for k in ck["state_dict"])
    net = net_from_checkpoint(ck)
    card = export(tmp_path / "run" / "best.pt", tmp_path / "exp")
    # the same weights without the head export to the same graph size: the head is not in it
    plain = build("cnn_gru", **{**ck["net_config"], "phone_classes": 0})
    plain.load_state_dict({k: v for k, v in ck["state_dict"].items()
                           if not k.startswith("phone_head")})
    export_onnx(plain, tmp_path / "plain.onnx")
    assert net.phone_head is not None
    card_params = json.loads(card.read_text())["params"]
    assert card_params == sum(p.numel() for p in plain.parameters()) < \
        sum(p.numel() for p in net.parameters())
    assert initializer_elements(card.with_suffix(".onnx")) == \
        initializer_elements(tmp_path / "plain.onnx")


def initializer_elements(path: Path) -> int:
    import onnx
    from onnx import numpy_helper

    return sum(numpy_helper.to_array(t).size for t in onnx.load(str(path)).graph.initializer)


def test_phone_loss_needs_cnn_gru(tmp_path: Path) -> None:
    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.5, voices=2)
    cfg = TrainConfig(data=[str(corpus)], arch="ff", out=str(tmp_path / "run"), epochs=1,
                      quiet=True, held_out=0.5, phone_loss=0.5)
    with pytest.raises(ValueError, match="--phone-loss works with --arch cnn_gru"):
        train(cfg, argv=["train", "blendshapes"])


def test_voice_adversary_reverses_the_gradient_into_the_encoder() -> None:
    torch.manual_seed(0)
    net = build("cnn_gru", n_feats=16, outputs=("jawOpen",), lookahead=0, hidden=8,
                voice_classes=3)
    x = torch.randn(2, 20, 16)
    voices = torch.tensor([0, 2])
    scored = torch.ones(2, 20, dtype=torch.bool)
    net(x)
    voice_adversary_loss(net, voices, scored).backward()
    reversed_grad = net.gru.weight_hh_l0.grad.clone()
    head_grad = net.voice_head.weight.grad.clone()
    # the same loss without the reversal: the encoder's gradient flips, the head's does not
    net.zero_grad()
    net(x)
    logits = net.voice_head(net.last_hidden)
    torch.nn.functional.cross_entropy(logits.reshape(-1, 3),
                                      voices[:, None].expand(2, 20).reshape(-1)).backward()
    assert torch.allclose(reversed_grad, -net.gru.weight_hh_l0.grad, atol=1e-6)
    assert torch.allclose(head_grad, net.voice_head.weight.grad, atol=1e-6)
    assert voice_adversary_loss(net, voices, torch.zeros_like(scored)).item() == 0.0


def test_training_with_the_voice_adversary_records_the_voices(tmp_path: Path) -> None:
    corpus = make_toy_corpus(tmp_path / "toy", n_clips=6, seconds=0.6, voices=3)
    cfg = TrainConfig(data=[str(corpus)], arch="cnn_gru", out=str(tmp_path / "run"), epochs=1,
                      batch=4, quiet=True, held_out=0.34, hidden=8, voice_adversary=0.5)
    res = train(cfg, argv=["train", "blendshapes"])
    assert np.isfinite(res["best_val"])
    ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ck["net_config"]["voice_classes"] == len(ck["split"]["train_voices"]) == 2
