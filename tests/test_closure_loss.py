"""The segment-level lip-closure loss (``--closure``): phone runs, the smooth minimum, known
answers on the ICT rig, and a training run that uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from facewire.phones.arpabet import BILABIALS, LIPS_APART, PHONE_INDEX
from facewire.rig.arkit import ARKIT_INDEX, LOWER_FACE
from facewire.train.blendshapes.losses import (
    ApertureLoss,
    closure_loss,
    phone_segments,
    segment_softmin,
)
from facewire.train.blendshapes.train import TrainConfig, train
from facewire.train.data.dataset import make_toy_corpus

SHARED = Path(__file__).resolve().parents[2] / "shared"
RIG = SHARED / "assets" / "ict_facekit.npz"


def ids(*phones: str) -> torch.Tensor:
    return torch.tensor([[PHONE_INDEX[p] if p != "-" else -1 for p in phones]])


@pytest.fixture(scope="module")
def aperture() -> ApertureLoss:
    if not RIG.exists():
        pytest.skip(f"ICT rig not found at {RIG} (set FACEWIRE_DATA to the shared folder)")
    return ApertureLoss(str(RIG), LOWER_FACE, torch.device("cpu"))


def test_phone_segments_split_runs_by_phone_and_by_row() -> None:
    ph = torch.cat([ids("SIL", "M", "M", "AA", "B", "P", "-"), ids("P", "T", "T", "-", "M", "M",
                                                                   "M")])
    seg = phone_segments(ph, BILABIALS)
    assert seg.tolist() == [[-1, 0, 0, -1, 1, 2, -1], [3, -1, -1, -1, 4, 4, 4]]
    assert phone_segments(ph, LIPS_APART).tolist() == [[-1] * 7, [-1, 0, 0, -1, -1, -1, -1]]
    assert (phone_segments(ids("AA", "-"), BILABIALS) == -1).all()


def test_segment_softmin_is_the_minimum_and_its_gradient_goes_there() -> None:
    v = torch.tensor([[5.0, 1.0, 4.0, 0.0, 3.0, 2.5]], requires_grad=True)
    seg = torch.tensor([[0, 0, 0, -1, 1, 1]])
    m = segment_softmin(v, seg, tau=0.01)
    assert m.tolist() == pytest.approx([1.0, 2.5], abs=1e-3)
    m.sum().backward()
    assert v.grad.tolist()[0] == pytest.approx([0, 1, 0, 0, 0, 1], abs=1e-3)


def pose(aperture: ApertureLoss, jaw: list[float]) -> torch.Tensor:
    """(1, T, 52) weights that open the jaw by ``jaw`` per frame, lips otherwise at rest."""
    w = torch.zeros(1, len(jaw), 52)
    w[0, :, ARKIT_INDEX["jawOpen"]] = torch.tensor(jaw)
    return w


def targets(aperture: ApertureLoss, jaw: list[float]) -> torch.Tensor:
    return pose(aperture, jaw)[..., aperture.cols]


def test_closure_loss_known_answers(aperture: ApertureLoss) -> None:
    ph = ids("SIL", "P", "P", "P", "AA", "T", "T", "SIL")
    teacher = targets(aperture, [0, 0, 0, 0, 0.4, 0.2, 0.2, 0])  # /p/ shut, /t/ open
    assert float(aperture.mm(pose(aperture, [0.2]))) > 2.5  # the teacher's /t/ is apart
    # one closed frame is enough for a /p/; the /t/ stays apart: nothing to pay
    right = pose(aperture, [0, 0.3, 0, 0.3, 0.4, 0.2, 0.2, 0])
    assert float(closure_loss(aperture, right, teacher, ph)) == pytest.approx(0.0, abs=1e-6)
    # a /p/ whose lips never meet pays its aperture above 1 mm, in cm
    missed = pose(aperture, [0, 0.3, 0.3, 0.3, 0.4, 0.2, 0.2, 0]).requires_grad_()
    open_mm = float(aperture.mm(pose(aperture, [0.3])))
    loss = closure_loss(aperture, missed, teacher, ph, tau=1e-3)
    assert float(loss.detach()) == pytest.approx((open_mm - 1.0) / 10, rel=1e-3)
    loss.backward()
    assert (missed.grad[0, 1:4, ARKIT_INDEX["jawOpen"]] > 0).all()  # closing lowers it
    # a /t/ shut where the teacher kept it apart pays; where the teacher shut it, it does not
    false = pose(aperture, [0, 0, 0, 0, 0.4, 0, 0, 0])
    assert float(closure_loss(aperture, false, teacher, ph, tau=1e-3)) == pytest.approx(
        (2.5 - float(aperture.a0)) / 10, rel=1e-3)
    shut_t = targets(aperture, [0, 0, 0, 0, 0.4, 0, 0, 0])
    assert float(closure_loss(aperture, false, shut_t, ph)) == pytest.approx(0.0, abs=1e-6)


def test_training_with_the_closure_loss(tmp_path: Path, aperture: ApertureLoss) -> None:
    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.8, voices=2)
    cfg = TrainConfig(data=[str(corpus)], out=str(tmp_path / "run"), epochs=1, batch=4,
                      quiet=True, held_out=0.5, hidden=8, closure=1.0, rig=str(RIG))
    with_closure = train(cfg)["history"][0]["train_loss"]
    without = train(TrainConfig(**{**cfg.__dict__, "closure": 0.0, "out": str(tmp_path / "r0")}))
    # one batch, scored before its step: the same curve loss plus the closure term
    assert with_closure > without["history"][0]["train_loss"] > 0
    manifest = corpus / "manifest.jsonl"
    clips = [json.loads(line) for line in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({k: v for k, v in c.items() if k != "phones"}) + "\n"
                                for c in clips))
    with pytest.raises(ValueError, match="--closure needs phone timings"):
        train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "run2")}))
