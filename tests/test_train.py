"""Training pipeline on a toy corpus: data errors, losses, one run of each architecture,
checkpoints, resume, and the evaluation metrics on cases with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facewire.train.blendshapes.evaluate import (
    cross_speaker_ratio,
    cross_speaker_spread,
    evaluate_clips,
    format_table,
    fsdd_clips,
    l2_distance,
    self_smoothness,
    temporal_smoothness,
)
from facewire.train.blendshapes.losses import loss_fn
from facewire.train.blendshapes.train import (
    CheckpointError,
    TrainConfig,
    load_checkpoint,
    net_from_checkpoint,
    train,
)
from facewire.train.data.batches import collate
from facewire.train.data.dataset import (
    DatasetError,
    Example,
    FeatureSpec,
    align_targets,
    load_source,
    make_examples,
    make_toy_corpus,
    split_by_voice,
)

TINY = {"hidden": 8, "window": 4}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), n_clips=6, seconds=0.8, voices=3)


def cfg(corpus: Path, out: Path, arch: str = "cnn_gru", **kw: object) -> TrainConfig:
    base = {"data": [str(corpus)], "arch": arch, "out": str(out), "epochs": 1, "batch": 4,
            "quiet": True, "held_out": 0.34, **TINY}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_empty_or_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty or unknown corpus"):
        load_source(str(tmp_path))
    with pytest.raises(DatasetError, match="not found"):
        load_source(str(tmp_path / "missing"))
    (tmp_path / "manifest.jsonl").write_text("")
    with pytest.raises(DatasetError, match="manifest.jsonl: manifest lists no clips"):
        load_source(str(tmp_path))


def test_audio_shorter_than_curves_names_the_clip(corpus: Path) -> None:
    utt = load_source(str(corpus))[0]
    utt.audio = utt.audio[: len(utt.audio) // 3]
    with pytest.raises(DatasetError, match="shorter than its curves"):
        make_examples([utt], FeatureSpec.for_logmel(), ("jawOpen",), 0)


def test_split_holds_out_whole_voices(corpus: Path) -> None:
    tr, va = split_by_voice(load_source(str(corpus)), 0.34, seed=0)
    assert tr and va
    assert not {u.voice for u in tr} & {u.voice for u in va}


def test_targets_are_aligned_to_network_frames() -> None:
    curves = np.arange(61, dtype=np.float32)[:, None] / 60.0  # value = time in s
    spec = FeatureSpec.for_logmel()  # frame j at 0.01 + j / 100 s
    tgt, valid = align_targets(curves, 60.0, 110, spec, lookahead=2)
    assert not valid[0]  # output 0 describes feature frame -2: before the clip
    assert valid[1] and tgt[1, 0] == pytest.approx(0.0)  # frame -1 describes t = 0
    assert tgt[2, 0] == pytest.approx(0.01) and tgt[12, 0] == pytest.approx(0.11)
    assert not valid[-1]  # past the last curve frame (1.0 s)


def test_losses_on_known_values() -> None:
    pred = torch.tensor([[[0.5, 0.0]]])
    tgt = torch.tensor([[[0.0, 0.0]]])
    mask = torch.ones(1, 1, 2, dtype=torch.bool)
    sigma = torch.tensor([0.5, 1.0])
    assert float(loss_fn(pred, tgt, mask, sigma, "mse", 0.0)) == pytest.approx(0.125)
    # ((0.5/0.5)^2 + 0) / 2 + 0.1 * (0.5 + 0) / 2
    assert float(loss_fn(pred, tgt, mask, sigma, "vnl2", 0.1)) == pytest.approx(0.525)
    assert float(loss_fn(pred, tgt, torch.zeros_like(mask), sigma, "mse", 0.0)) == 0.0


@pytest.mark.parametrize("arch", ["ff", "s2s", "cnn_gru"])
def test_one_training_run_of_each_arch_writes_checkpoints(corpus: Path, tmp_path: Path,
                                                          arch: str) -> None:
    res = train(cfg(corpus, tmp_path, arch), argv=["train", "blendshapes"])
    assert res["epochs_run"] == 1 and np.isfinite(res["best_val"])
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck["arch"] == arch and ck["split"]["val_voices"]
    assert ck["command"] == "facewire train blendshapes"
    net = net_from_checkpoint(ck)
    with torch.no_grad():
        assert net(torch.zeros(1, 5, 80)).shape == (1, 5, 52)


def test_training_lowers_the_loss_and_resume_continues(corpus: Path, tmp_path: Path) -> None:
    res = train(cfg(corpus, tmp_path, epochs=3, lr=3e-3, crop_s=0.3))
    h = res["history"]
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    again = train(cfg(corpus, tmp_path, epochs=4, lr=3e-3, crop_s=0.3, resume=True))
    assert [r["epoch"] for r in again["history"]] == [1, 2, 3, 4]
    assert again["history"][:3] == h


def test_lr_plateau_halves_the_rate_and_survives_resume(corpus: Path, tmp_path: Path) -> None:
    """At a rate too small to move the validation loss every epoch after the first is a bad
    one: with patience 1 the rate halves after every second bad epoch, across a resume too
    (a scheduler rebuilt from scratch would count the resumed epoch as a gain)."""
    first = train(cfg(corpus, tmp_path, epochs=4, lr=1e-7, lr_plateau=1, patience=20))
    assert [h["lr"] for h in first["history"]] == pytest.approx([1e-7, 1e-7, 1e-7, 5e-8], rel=1e-6)
    again = train(cfg(corpus, tmp_path, epochs=6, lr=1e-7, lr_plateau=1, patience=20,
                      resume=True), argv=["train", "blendshapes", "--resume"])
    assert [h["lr"] for h in again["history"]][4:] == pytest.approx([5e-8, 2.5e-8], rel=1e-6)
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck["resumed"] == ["facewire train blendshapes --resume"]


def test_init_from_fine_tunes_with_another_lookahead(corpus: Path, tmp_path: Path) -> None:
    """--init-from starts from a checkpoint's weights (a new lookahead is fine: it shifts the
    targets, not the weights); a network of another shape is refused by name."""
    train(cfg(corpus, tmp_path / "a", epochs=1, lookahead=2))
    src = load_checkpoint(tmp_path / "a" / "best.pt")
    tuned = train(cfg(corpus, tmp_path / "b", epochs=1, lookahead=1, lr=0.0,
                      init_from=str(tmp_path / "a" / "best.pt")))
    ck = load_checkpoint(tuned["best"])
    assert ck["net_config"]["lookahead"] == 1
    assert ck["train_config"]["init_from"].endswith("best.pt")
    for k, v in src["state_dict"].items():  # lr 0: the weights are exactly the source's
        assert torch.equal(ck["state_dict"][k], v), k
    fresh = train(cfg(corpus, tmp_path / "c", epochs=1, lookahead=1, lr=0.0))
    w = "gru.weight_hh_l0"
    assert not torch.equal(load_checkpoint(fresh["best"])["state_dict"][w], src["state_dict"][w])
    with pytest.raises(CheckpointError, match="do not fit"):  # narrower (wider is widened)
        train(cfg(corpus, tmp_path / "d", epochs=1, hidden=4,
                  init_from=str(tmp_path / "a" / "best.pt")))


def test_resume_without_checkpoint_and_corrupt_checkpoint(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(cfg(corpus, tmp_path, resume=True))
    bad = tmp_path / "best.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="best.pt: corrupt"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


# --- metrics ---------------------------------------------------------------------------------


def test_l2_and_smoothness_known_answers() -> None:
    a = np.zeros((5, 52))
    b = a.copy()
    b[:, 0] = 3.0
    b[:, 1] = 4.0
    assert l2_distance(a, b) == pytest.approx(5.0)
    assert temporal_smoothness(a, b) == 0.0  # same velocities
    ramp = np.linspace(0, 1, 10)[:, None] * np.ones((1, 52))
    assert self_smoothness(ramp) == pytest.approx(0.0, abs=1e-15)
    zig = np.zeros((6, 52))
    zig[1::2] = 1.0  # each frame 1 away from its neighbours' mean
    assert self_smoothness(zig) == pytest.approx(1.0)


def test_evaluate_clips_scores_the_teacher_perfectly(corpus: Path) -> None:
    from facewire.train.metrics import default_aperture

    utts = load_source(str(corpus))
    by_audio = {id(u.audio): u.curves for u in utts}
    ap = default_aperture()
    r = evaluate_clips(lambda a: by_audio[id(a)], utts, ap)
    assert r["l2"] == 0.0 and r["smooth"] == 0.0
    if ap is not None:
        assert r["closure"] == 1.0  # the teacher closes every /p b m/
        def open_jaw(a: np.ndarray) -> np.ndarray:
            w = np.zeros((len(a) * 60 // 16000, 52))
            w[:, 24] = 0.5  # jawOpen held open: the lips never meet
            return w

        assert evaluate_clips(open_jaw, utts, ap)["closure"] == 0.0
        assert "closure" in format_table({"m": r})  # lip metrics need the ICT rig


def test_cross_speaker_ratio_known_answers(tmp_path: Path) -> None:
    """Constant curves make every DTW distance |a - b| * sqrt(52): a model whose output
    depends on the speaker gives cross/same = 20, one whose take-to-take variation is the
    same within and across speakers gives 1."""
    import soundfile as sf

    levels = {"1_ann_0": 0.1, "1_ann_1": 0.2, "1_bob_0": 0.3, "1_bob_1": 0.4}
    for stem, level in levels.items():  # each clip's constant level tells the model which it is
        sf.write(str(tmp_path / f"{stem}.wav"), np.full(1600, level), 16000)

    def model(offsets: dict[str, float]):
        def predict(audio: np.ndarray) -> np.ndarray:
            stem = min(levels, key=lambda k: abs(levels[k] - float(np.mean(audio))))
            return np.full((20, 52), offsets[stem])
        return predict

    unit = np.sqrt(52)
    by_speaker = cross_speaker_ratio(model({"1_ann_0": 0.0, "1_ann_1": 0.01, "1_bob_0": 0.2,
                                            "1_bob_1": 0.21}), tmp_path, digits="1")
    assert by_speaker["same_speaker"] == pytest.approx(0.01 * unit)
    assert by_speaker["cross_speaker"] == pytest.approx(0.2 * unit)
    assert by_speaker["xspk"] == pytest.approx(20.0)
    independent = cross_speaker_ratio(model({"1_ann_0": 0.0, "1_ann_1": 0.01, "1_bob_0": 0.01,
                                             "1_bob_1": 0.0}), tmp_path, digits="1")
    assert independent["xspk"] == pytest.approx(1.0)
    with pytest.raises(FileNotFoundError):
        cross_speaker_ratio(model({}), tmp_path / "none")


def test_cross_speaker_spread_over_disjoint_pairs_of_takes(tmp_path: Path) -> None:
    """Takes 0-1 and 2-3 of two speakers: the first pair separates the speakers (ratio 20),
    the second does not (ratio 1), so the spread is their mean and sd; take 10 sorts after
    take 2 (by number, not by name). From take 2 on, only pairs with ratio 1 remain."""
    import soundfile as sf

    stems = [f"1_{s}_{t}" for s in ("ann", "bob") for t in (0, 1, 2, 10, 11, 12)]
    levels = {stem: 0.05 * (i + 1) for i, stem in enumerate(stems)}
    for stem, level in levels.items():
        sf.write(str(tmp_path / f"{stem}.wav"), np.full(1600, level), 16000)
    offsets = {"1_ann_0": 0.0, "1_ann_1": 0.01, "1_bob_0": 0.2, "1_bob_1": 0.21,
               "1_ann_2": 0.0, "1_ann_10": 0.01, "1_bob_2": 0.01, "1_bob_10": 0.0,
               "1_ann_11": 0.0, "1_ann_12": 0.01, "1_bob_11": 0.01, "1_bob_12": 0.0}

    def predict(audio: np.ndarray) -> np.ndarray:
        stem = min(levels, key=lambda k: abs(levels[k] - float(np.mean(audio))))
        return np.full((20, 52), offsets[stem])

    assert fsdd_clips(tmp_path, 2, first_take=2)[("1", "ann")][1].name == "1_ann_10.wav"
    r = cross_speaker_spread(predict, tmp_path, pairs=2, digits="1")
    assert r["xspk_mean"] == pytest.approx(10.5)
    assert r["xspk_sd"] == pytest.approx(np.std([20.0, 1.0], ddof=1))
    assert (r["xspk_min"], r["xspk_max"]) == (pytest.approx(1.0), pytest.approx(20.0))
    later = cross_speaker_spread(predict, tmp_path, pairs=2, digits="1", first_take=2)
    assert (later["xspk_mean"], later["xspk_sd"], later["xspk_from"]) == (
        pytest.approx(1.0), pytest.approx(0.0), 2.0)
    with pytest.raises(FileNotFoundError, match="fewer than 6 takes from take 2"):
        cross_speaker_spread(predict, tmp_path, pairs=3, digits="1", first_take=2)
    with pytest.raises(FileNotFoundError, match="fewer than 4 takes from take 6"):
        cross_speaker_spread(predict, tmp_path, pairs=2, digits="1", first_take=6)
    with pytest.raises(ValueError, match="numbered from 0"):
        cross_speaker_spread(predict, tmp_path, pairs=2, digits="1", first_take=-1)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        cross_speaker_spread(predict, tmp_path, pairs=1, digits="1")


def test_checkpoint_records_data_and_split(corpus: Path, tmp_path: Path) -> None:
    train(cfg(corpus, tmp_path, "ff"))
    ck = load_checkpoint(tmp_path)
    assert ck["data"]["clips"] == 6 and ck["data"]["voices"] == 3
    assert json.dumps(ck["train_config"])  # serialisable for the card


def test_aperture_loss_known_answer() -> None:
    from facewire.rig.arkit import ARKIT_INDEX, LOWER_FACE
    from facewire.train.blendshapes.losses import ApertureLoss
    from facewire.train.metrics import default_aperture

    ap = default_aperture()
    if ap is None:
        pytest.skip("shared ICT rig not present")
    loss = ApertureLoss(None, LOWER_FACE, torch.device("cpu"))
    target = torch.zeros(1, 3, len(LOWER_FACE))
    mask = torch.ones_like(target, dtype=torch.bool)
    pred = torch.zeros(1, 3, 52)
    assert float(loss(pred, target, mask)) == 0.0
    pred[..., ARKIT_INDEX["jawOpen"]] = 0.1
    expect = abs(ap.d[ARKIT_INDEX["jawOpen"]]) * 0.1 / 10
    assert float(loss(pred, target, mask)) == pytest.approx(expect, rel=1e-5)


def test_pocketsphinx_teacher_baseline_gives_curves(corpus: Path) -> None:
    pytest.importorskip("pocketsphinx")
    from facewire.train.blendshapes.evaluate import pocketsphinx_teacher

    name, predict = pocketsphinx_teacher()
    utt = load_source(str(corpus))[0]
    y = predict(utt.audio)
    assert "pocketsphinx" in name and y.shape == (48, 52) and np.isfinite(y).all()


def test_bandlimit_and_gain_augmentation(corpus: Path, tmp_path: Path) -> None:
    from facewire.train.data.batches import bandlimit
    from facewire.train.data.dataset import Utterance

    t = np.arange(16000) / 16000
    u = Utterance("x", "v", (np.sin(2 * np.pi * 6000 * t) + np.sin(2 * np.pi * 500 * t))
                  .astype(np.float32), np.zeros((60, 52), np.float32))
    (lp,) = bandlimit([u], 1.0, np.random.default_rng(0))
    spec = np.abs(np.fft.rfft(lp.audio))
    assert spec[6000] < 0.01 * spec[500] and len(lp.audio) == len(u.audio)
    assert bandlimit([u], 0.0, np.random.default_rng(0))[0] is u
    res = train(cfg(corpus, tmp_path, bandlimit=0.5, gain_db=6.0))
    assert np.isfinite(res["best_val"])


def test_random_eq_is_a_bounded_smooth_envelope(corpus: Path, tmp_path: Path) -> None:
    from facewire.train.data.batches import random_eq

    rng = np.random.default_rng(0)
    curves = np.stack([random_eq(80, 2.0, rng) for _ in range(200)])
    assert curves.shape == (200, 80)
    assert np.abs(curves).max() <= 2.0 * 0.5 + 1.0 + 1e-6  # tilt +-eq/2 at the ends, ripple eq/2
    assert np.abs(np.diff(curves, axis=1)).max() < 0.2  # smooth across neighbouring bins
    assert curves.std(0).min() > 0.1  # every bin moves from crop to crop
    x = np.zeros((10, 80), np.float32)
    ex = Example("a", "v", x, np.zeros((10, 1), np.float32), np.ones((10, 1), bool), None)
    out = collate([ex], None, np.random.default_rng(1), pad_value=-5.0, eq=2.0).x[0].numpy()
    assert np.allclose(out, out[0]) and out[0].std() > 0.05  # one envelope per crop
    res = train(cfg(corpus, tmp_path, eq_db=8.0))
    assert np.isfinite(res["best_val"])


def test_after_warm_up_returns_the_clips_own_frames() -> None:
    """The clip's frames from a stream that began with a warm-up are the frames at the
    clip's own times: a predictor that reads the audio level at each frame time sees
    the clip, not the warm-up, from the first returned frame on."""
    from facewire.train.blendshapes.evaluate import after_warm_up

    def level_at_frames(audio: np.ndarray) -> np.ndarray:
        n = len(audio) * 60 // 16000
        return np.abs(audio[(np.arange(n) * 16000) // 60])[:, None] * np.ones((1, 52))

    warm = np.full(12345, 0.9, np.float32)
    clip = np.linspace(0.1, 0.5, 8000, dtype=np.float32)
    got = after_warm_up(level_at_frames, warm)(clip)
    want = level_at_frames(clip)
    assert got.shape == want.shape
    assert np.allclose(got, want, atol=1e-3)


def test_warm_up_removes_a_bias_that_fades_as_the_stream_hears_the_speaker(
        tmp_path: Path) -> None:
    """A model whose speaker bias fades over the first seconds of a stream (as a speaker
    normaliser's does) is speaker-dependent on cold clips and nearly agnostic warmed up."""
    import soundfile as sf

    from facewire.train.blendshapes.evaluate import speaker_warm_up

    rng = np.random.default_rng(0)
    level = {"ann": 0.05, "bob": 0.4}
    for spk, a in level.items():
        for d in "12":
            for i in range(6):
                n = int(rng.integers(2400, 6000))  # takes differ in length
                sf.write(str(tmp_path / f"{d}_{spk}_{i}.wav"),
                         a * (1 + 0.02 * rng.standard_normal(n)), 16000)

    def predict(audio: np.ndarray) -> np.ndarray:
        n = len(audio) * 60 // 16000
        t = np.arange(n) / 60.0
        lvl = np.abs(audio[(np.arange(n) * 16000) // 60])
        word = np.sin(np.linspace(0, 3, n)) * n / 300  # louder for longer takes
        return (word + lvl * np.exp(-t))[:, None] * np.ones((1, 52))

    cold = cross_speaker_ratio(predict, tmp_path, per_digit=2, digits="12")
    warm = cross_speaker_ratio(predict, tmp_path, per_digit=2, digits="12", warm_s=1.5)
    assert cold["xspk"] > 3 * warm["xspk"]
    assert warm["cross_speaker"] < 0.1 * cold["cross_speaker"]
    with pytest.raises(FileNotFoundError, match="warm-up"):
        speaker_warm_up(tmp_path, "ann", set(), 60.0)


def test_two_sources_with_the_same_clip_ids_stay_apart(tmp_path: Path) -> None:
    """Two corpora both numbered from the first clip: the teacher row of `facewire eval`
    replays targets by clip id, so each clip must keep its own."""
    from facewire.train.blendshapes.evaluate import replay
    from facewire.train.data.dataset import load_sources

    a = make_toy_corpus(tmp_path / "a", n_clips=2, seconds=0.5, voices=1)
    b = make_toy_corpus(tmp_path / "b", n_clips=2, seconds=0.5, voices=1, seed=5)
    utts = load_sources([str(a), str(b)])
    assert len({u.id for u in utts}) == len(utts) == 4
    targets = replay({u.id: u.curves for u in utts}, utts)
    for u in utts:
        assert targets(u.audio) is u.curves
    alone = load_sources([str(a)])  # one source keeps its own ids
    assert [u.id for u in alone] == [u.id.rsplit("/", 1)[-1] for u in utts[:2]]
