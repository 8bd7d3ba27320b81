"""Online speaker normalisation: known answers, causality, and the path through training,
export and the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.models.speaker_norm import SpeakerNormaliser, SpeakerNormConfig, speech_statistics

PRIOR = tuple(float(v) for v in np.linspace(-8.0, -10.0, 4))


def cfg(**kw: float) -> SpeakerNormConfig:
    return SpeakerNormConfig(prior=PRIOR, floor=-12.0, **kw)


def test_a_steady_voice_is_moved_onto_the_prior() -> None:
    voice = np.array([-5.0, -6.0, -7.0, -9.0])
    out = SpeakerNormaliser(cfg())(np.tile(voice, (3000, 1)))
    n0 = cfg().n0
    assert np.allclose(out[0], voice - (voice + n0 * np.array(PRIOR)) / (n0 + 1) + PRIOR)
    assert np.allclose(out[-1], PRIOR, atol=1e-3)  # adapted: the voice's mean is gone


def test_a_level_change_is_normalised_away() -> None:
    rng = np.random.default_rng(0)
    speech = rng.normal(-7.0, 1.0, (3000, 4))
    quiet = SpeakerNormaliser(cfg())(speech)
    loud = SpeakerNormaliser(cfg())(speech + 2.3)  # +10 dB in log power
    assert np.abs(loud[-100:] - quiet[-100:]).max() < 0.05
    assert np.abs(loud[:5] - quiet[:5]).max() > 1.0  # not before it has heard the voice


def test_silence_does_not_move_the_mean() -> None:
    norm = SpeakerNormaliser(SpeakerNormConfig(prior=PRIOR, floor=-12.0, gate_db=20.0))
    silence = np.full((300, 4), -13.8)  # below the floor
    out = norm(silence)
    assert norm.count == 0 and np.allclose(out, silence)
    norm(np.full((50, 4), -5.0))
    quiet_after_loud = np.full((10, 4), -10.0)  # above the floor, 22 dB under the loudest
    count = norm.count
    norm(quiet_after_loud)
    assert norm.count == count


def test_chunked_equals_whole_and_reset_restarts() -> None:
    x = np.random.default_rng(1).normal(-7.0, 2.0, (257, 4))
    whole = SpeakerNormaliser(cfg())(x)
    norm = SpeakerNormaliser(cfg())
    parts = [norm(x[a:b]) for a, b in ((0, 1), (1, 90), (90, 91), (91, 257))]
    assert np.array_equal(np.concatenate(parts), whole)
    norm.reset()
    assert np.array_equal(norm(x), whole)


def test_statistics_from_clips() -> None:
    speech = np.full((100, 4), -6.0)
    silence = np.full((100, 4), -13.8)
    c = speech_statistics([np.concatenate([silence, speech, silence])])
    assert np.allclose(c.prior, -6.0) and -13.8 <= c.floor < -6.0
    assert SpeakerNormConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="training clips"):
        speech_statistics([])


def test_trained_with_it_the_card_and_runtime_carry_it(tmp_path: Path) -> None:
    from facewire.models.logmel import logmel
    from facewire.models.runtime import StreamingPredictor
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, load_checkpoint, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    train(TrainConfig(data=[str(corpus)], arch="cnn_gru", out=str(tmp_path / "run"), epochs=1,
                      hidden=8, quiet=True, held_out=0.5, speaker_norm=True))
    spec = load_checkpoint(tmp_path / "run")["features"]
    assert len(spec["speaker_norm"]["prior"]) == 80
    card = export(tmp_path / "run" / "best.pt", tmp_path / "onnx", argv=["export"])
    p = StreamingPredictor(card, device="cpu")
    assert p.speaker_norm is not None
    rng = np.random.default_rng(2)
    t = np.arange(24000) / 16000
    feats = logmel(0.2 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(len(t)))
    whole = p.predict(feats)
    p.reset()
    stream = np.concatenate([p.step(feats[a:a + 37]) for a in range(0, len(feats), 37)])
    n = min(len(stream), len(whole))
    assert n > 50 and np.abs(stream[:n] - whole[:n]).max() < 1e-5
    louder = p.predict(feats + 2.3)  # the same voice 10 dB louder animates the same, once heard
    before = np.abs(louder[:3] - whole[:3]).max()
    assert before > 1e-4  # the level does reach the network before the voice is known
    assert np.abs(louder[-30:] - whole[-30:]).max() < before


def test_a_fine_tune_sets_the_prior_weight_and_a_resume_keeps_the_normaliser(
        tmp_path: Path) -> None:
    from facewire.train.blendshapes.train import TrainConfig, load_checkpoint, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    base = dict(data=[str(corpus)], arch="cnn_gru", hidden=8, quiet=True, held_out=0.5,
                speaker_norm=True)
    train(TrainConfig(out=str(tmp_path / "a"), epochs=1, **base))
    first = load_checkpoint(tmp_path / "a")["features"]["speaker_norm"]
    assert first["n0"] == 10.0
    faster = first["prior"][0] + 1.0  # a prior the fine-tune's data would not give
    ck = torch.load(tmp_path / "a" / "best.pt", weights_only=False)
    ck["features"]["speaker_norm"]["prior"][0] = faster
    torch.save(ck, tmp_path / "a" / "best.pt")
    train(TrainConfig(out=str(tmp_path / "b"), epochs=1, init_from=str(tmp_path / "a" / "best.pt"),
                      speaker_norm_prior=3.0, **base))
    tuned = load_checkpoint(tmp_path / "b")["features"]["speaker_norm"]
    assert tuned["n0"] == 3.0 and tuned["prior"][0] == faster  # the init's prior, n0 replaced
    train(TrainConfig(out=str(tmp_path / "b"), epochs=2, init_from=str(tmp_path / "a" / "best.pt"),
                      speaker_norm_prior=3.0, resume=True, **base))
    resumed = load_checkpoint(tmp_path / "b")["features"]["speaker_norm"]
    assert resumed == tuned  # not recomputed from the training clips on resume


def test_the_prior_weight_needs_the_normaliser(tmp_path: Path) -> None:
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    for kw in ({"speaker_norm_prior": 3.0}, {"speaker_norm": True, "speaker_norm_prior": 0.0}):
        with pytest.raises(ValueError, match="--speaker-norm-prior"):
            train(TrainConfig(data=[str(corpus)], out=str(tmp_path / "r"), epochs=1, hidden=8,
                              quiet=True, held_out=0.5, **kw))


def test_a_card_is_re_exported_with_another_prior_weight(tmp_path: Path) -> None:
    from facewire.cli import main as run
    from facewire.models.card import read_card, sha256
    from facewire.models.logmel import logmel
    from facewire.models.runtime import StreamingPredictor
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    base = dict(data=[str(corpus)], arch="cnn_gru", epochs=1, hidden=8, quiet=True,
                held_out=0.5)
    train(TrainConfig(out=str(tmp_path / "run"), speaker_norm=True, **base))
    card_path = export(tmp_path / "run" / "best.pt", tmp_path / "m", name="x", argv=["export"])
    card = read_card(card_path)
    card["metrics"]["eval"] = {"closure": 0.5}  # figures measured with the old prior
    card_path.write_text(json.dumps(card))
    assert run(["export", str(card_path), "--speaker-norm-prior", "3", "--out",
                str(tmp_path / "m3")]) == 0
    new = read_card(tmp_path / "m3" / "x.json")
    assert new["features"]["speaker_norm"]["n0"] == 3.0
    assert new["features"]["speaker_norm"]["prior"] == card["features"]["speaker_norm"]["prior"]
    assert sha256(tmp_path / "m3" / "x.onnx") == card["onnx_sha256"] == new["onnx_sha256"]
    assert "eval" not in new["metrics"] and "--speaker-norm-prior" in new["command"]["reexport"]
    t = np.arange(16000) / 16000
    feats = logmel(0.2 * np.sin(2 * np.pi * 180 * t) + 0.3)
    old_y = StreamingPredictor(card_path, device="cpu").predict(feats)
    new_y = StreamingPredictor(tmp_path / "m3" / "x.json", device="cpu").predict(feats)
    assert np.abs(old_y - new_y).max() > 1e-6  # the normaliser adapts sooner: other inputs
    # in place, as for the shipped cards; the checkpoint path sets it too
    assert run(["export", str(tmp_path / "m3" / "x.json"), "--speaker-norm-prior", "1",
                "--out", str(tmp_path / "m3")]) == 0
    assert read_card(tmp_path / "m3" / "x.json")["features"]["speaker_norm"]["n0"] == 1.0
    pt = export(tmp_path / "run" / "best.pt", tmp_path / "m5", argv=["export"],
                speaker_norm_prior=5.0)
    assert read_card(pt)["features"]["speaker_norm"]["n0"] == 5.0


def test_re_export_refuses_what_it_cannot_change(tmp_path: Path, capsys) -> None:
    from facewire.cli import main as run
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    train(TrainConfig(data=[str(corpus)], arch="cnn_gru", out=str(tmp_path / "run"), epochs=1,
                      hidden=8, quiet=True, held_out=0.5))
    card = export(tmp_path / "run" / "best.pt", tmp_path / "m", argv=["export"])
    assert run(["export", str(card), "--speaker-norm-prior", "3", "--out",
                str(tmp_path / "o")]) == 2
    assert "no speaker normaliser" in capsys.readouterr().err
    assert run(["export", str(card), "--out", str(tmp_path / "o")]) == 2
    assert "re-exported only to change --speaker-norm-prior" in capsys.readouterr().err
    assert run(["export", str(tmp_path / "missing.json"), "--speaker-norm-prior", "3",
                "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
