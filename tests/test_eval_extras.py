"""Evaluation pieces of the training issue: forced alignment, landmark distance, bilabial
compression of the teacher, mel-warp augmentation and relabelling a corpus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facewire.phones.align import AlignmentError, ForcedAligner
from facewire.phones.teacher import phones_to_curves
from facewire.rig.arkit import ARKIT_INDEX as I
from facewire.train.data.batches import warp_mel
from facewire.train.metrics import LandmarkDistance, LipAperture
from tests.conftest import SHARED

RIG = SHARED / "assets" / "ict_facekit.npz"
FSDD = SHARED / "data" / "fsdd"


def _need_rig() -> None:
    if not RIG.exists():
        pytest.skip(f"ICT rig not found at {RIG} (set FACEWIRE_DATA to the shared folder)")


def test_teacher_compresses_lips_on_bilabials() -> None:
    """The closure target leaves a margin below the 2 mm threshold: lips pressed."""
    _need_rig()
    ph = [("AA", 0.2, 0.32), ("P", 0.32, 0.4), ("AA", 0.4, 0.52), ("M", 0.52, 0.6),
          ("AA", 0.6, 0.72)]
    ap = LipAperture.from_rig(RIG)(phones_to_curves(ph))
    for _, a, b in (ph[1], ph[3]):
        assert ap[int(a * 60):int(b * 60) + 1].min() < -1.0
    assert ap[int(0.46 * 60)] > 5.0  # the vowels between still open


def test_landmark_distance_known_answer() -> None:
    _need_rig()
    from facewire.rig.rig import Rig

    lmd = LandmarkDistance.from_rig(RIG)
    w = np.zeros((4, 52))
    assert lmd(w, w) == 0.0
    jaw = w.copy()
    jaw[:, I["jawOpen"]] = 1.0
    rig = Rig.load(RIG)
    move = np.linalg.norm(rig.blendshapes[I["jawOpen"]][rig.landmarks68], axis=1) * rig.mm
    expected = move / (rig.mouth_width() * rig.mm)
    np.testing.assert_allclose(lmd.per_landmark(jaw, w)[0], expected, rtol=1e-5)
    assert lmd(jaw, w) == pytest.approx(expected.mean(), rel=1e-5)
    assert 0.3 < lmd(jaw, w, range(48, 68)) < 1.0  # the chin and lips move by ~half a mouth


def test_warp_mel_moves_formants() -> None:
    f = np.full((3, 80), -10.0, np.float32)
    f[:, 20] = 0.0
    assert np.array_equal(warp_mel(f, 1.0), f)
    up = warp_mel(f, 1.1)
    assert int(np.argmax(up[0])) == 22
    down = warp_mel(f, 0.9)
    assert int(np.argmax(down[0])) == 18


def test_relabel_recomputes_curves(tmp_path: Path) -> None:
    from facewire.train.data.dataset import make_toy_corpus
    from facewire.train.data.synth import read_manifest, relabel_corpus

    folder = make_toy_corpus(tmp_path / "toy", n_clips=3)
    clips = read_manifest(folder)
    for c in clips:
        np.save(folder / c["curves"], np.zeros((c["n_frames"], 52), np.float32))
    assert relabel_corpus(folder) == 3
    for c in clips:
        got = np.load(folder / c["curves"])
        np.testing.assert_allclose(got, phones_to_curves(c["phones"], c["n_frames"]), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="manifest"):
        relabel_corpus(tmp_path / "empty")


@pytest.fixture(scope="module")
def aligner() -> ForcedAligner:
    return ForcedAligner()


def test_forced_alignment_of_synthesised_speech(tmp_path: Path, aligner: ForcedAligner) -> None:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (scripts/apt-packages.txt)")
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "mama saw papa"], check=True)
    from facewire.train.data.loaders import load_audio

    audio = load_audio(wav)
    phones = aligner.align(audio, "mama saw papa")
    seq = [p.phone for p in phones if p.phone != "SIL"]
    assert seq[:2] == ["M", "AA"] and "S" in seq and seq.count("P") == 2
    assert all(b.start >= a.start for a, b in zip(phones, phones[1:]))
    assert phones[-1].end <= len(audio) / 16000 + 0.02
    first_p = next(p for p in phones if p.phone == "P")
    last_m = [p for p in phones if p.phone == "M"][-1]
    assert last_m.end <= first_p.start  # "mama" comes before "papa"


def test_alignment_errors_are_clear(aligner: ForcedAligner) -> None:
    with pytest.raises(AlignmentError, match="dictionary"):
        aligner.align(np.zeros(16000, np.float32), "zzqxv")
    with pytest.raises(AlignmentError, match="empty"):
        aligner.align(np.zeros(16000, np.float32), " ")


def test_fsdd_phonetic_on_real_speech(aligner: ForcedAligner) -> None:
    """Real digits get aligned; a face that never moves has ratios of exactly 1."""
    _need_rig()
    if not FSDD.exists():
        pytest.skip(f"spoken digits not found at {FSDD}")
    from facewire.train.blendshapes.evaluate import fsdd_phonetic

    still = np.zeros(52)
    still[I["jawOpen"]], still[I["mouthFunnel"]] = 0.3, 0.2
    r = fsdd_phonetic(lambda a: np.tile(still, (int(len(a) / 16000 * 60), 1)), FSDD,
                      LipAperture.from_rig(RIG), per_digit=1, aligner=aligner)
    assert r["fsdd_aligned"] >= 30
    assert r["fsdd_open_close"] == pytest.approx(1.0)
    assert r["fsdd_rounding"] == pytest.approx(1.0)


def test_seal_loss_learns_the_seal_where_the_jaw_is_shut() -> None:
    import torch

    from facewire.models.blendshape_nets import CNNGRUNet
    from facewire.train.blendshapes.losses import seal_loss

    net = CNNGRUNet(80, ("jawOpen", "mouthClose"), seal=True)
    y = torch.tensor([[[0.04, 0.04], [0.04, 0.0], [0.0, 0.0]]])  # sealed, open, jaw shut
    m = torch.ones_like(y, dtype=torch.bool)
    net.last_seal_logit = torch.tensor([[10.0, -10.0, 10.0]])
    assert float(seal_loss(net, y, m)) < 1e-3  # right on both informative frames
    net.last_seal_logit = torch.tensor([[-10.0, 10.0, -10.0]])
    assert float(seal_loss(net, y, m)) == pytest.approx(10.0, abs=1e-3)  # wrong on both
    net.last_seal_logit = torch.tensor([[10.0, -10.0, -10.0]])
    assert float(seal_loss(net, y, m)) < 1e-3  # the jaw-shut frame carries no seal


def test_seal_pos_weight_weighs_missed_closures_only() -> None:
    import torch

    from facewire.models.blendshape_nets import CNNGRUNet
    from facewire.train.blendshapes.losses import seal_loss

    net = CNNGRUNet(80, ("jawOpen", "mouthClose"), seal=True)
    y = torch.tensor([[[0.04, 0.04], [0.04, 0.0]]])  # sealed, open
    m = torch.ones_like(y, dtype=torch.bool)
    net.last_seal_logit = torch.tensor([[-10.0, -10.0]])  # a missed closure
    assert float(seal_loss(net, y, m, pos_weight=3.0)) == pytest.approx(
        3.0 * float(seal_loss(net, y, m)), rel=1e-3)
    net.last_seal_logit = torch.tensor([[10.0, 10.0]])  # a false closure
    assert float(seal_loss(net, y, m, pos_weight=3.0)) == pytest.approx(
        float(seal_loss(net, y, m)), rel=1e-3)


def test_groups_break_closure_down_per_engine() -> None:
    """A model that closes every bilabial of one engine and none of the other: the per-engine
    rows say 100% and 0%, with their clip and /p b m/ counts."""
    _need_rig()
    from facewire.train.blendshapes.evaluate import evaluate_groups, group_of
    from facewire.train.data.dataset import Utterance

    ph = [("AA", 0.1, 0.3), ("P", 0.3, 0.4), ("AA", 0.4, 0.6), ("M", 0.6, 0.7), ("AA", 0.7, 0.9)]
    target = phones_to_curves(ph)
    utts = [Utterance(f"c{i}", voice, np.zeros(16000, np.float32), target, phones=ph)
            for i, voice in enumerate(["espeak:en+f1", "flite:slt", "flite:slt"])]
    open_jaw = np.zeros_like(target)
    open_jaw[:, I["jawOpen"]] = 0.6
    preds = {"c0": open_jaw, "c1": target, "c2": target}
    rows = evaluate_groups(preds, utts, LipAperture.from_rig(RIG), "engine")
    assert sorted(rows) == ["espeak", "flite"]
    assert rows["espeak"]["closure"] == 0.0 and rows["flite"]["closure"] == 1.0
    assert (rows["espeak"]["clips"], rows["flite"]["clips"]) == (1, 2)
    assert (rows["espeak"]["bilabials"], rows["flite"]["bilabials"]) == (2, 4)
    assert group_of(utts[1], "voice") == "flite:slt"
    with pytest.raises(ValueError, match="group by"):
        group_of(utts[0], "accent")
