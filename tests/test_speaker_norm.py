"""Online speaker normalisation: known answers, causality, and the path through training,
export and the runtime."""

from __future__ import annotations

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
    from facewire.train.dataset import make_toy_corpus
    from facewire.train.export import export
    from facewire.train.train_blendshapes import TrainConfig, load_checkpoint, train

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
    from facewire.train.dataset import make_toy_corpus
    from facewire.train.train_blendshapes import TrainConfig, load_checkpoint, train

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
    from facewire.train.dataset import make_toy_corpus
    from facewire.train.train_blendshapes import TrainConfig, train

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.6, voices=2)
    for kw in ({"speaker_norm_prior": 3.0}, {"speaker_norm": True, "speaker_norm_prior": 0.0}):
        with pytest.raises(ValueError, match="--speaker-norm-prior"):
            train(TrainConfig(data=[str(corpus)], out=str(tmp_path / "r"), epochs=1, hidden=8,
                              quiet=True, held_out=0.5, **kw))
