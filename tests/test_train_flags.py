"""Every ``facewire train`` flag reaches the config it is meant for (the configs are
filled from the flags by name, so a renamed field or flag would silently keep a default)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from facewire.cli import build_parser
from facewire.commands.train import config_for
from facewire.commands.train_flags import recorded_argv


def blendshape_config(args):
    return config_for("blendshapes", args)


def landmark_config(args):
    return config_for("landmarks", args)


def densify_config(args):
    return config_for("densify", args)


def parse(*argv: str):
    return build_parser().parse_args(["train", *argv])


def test_blendshape_flags_fill_the_config() -> None:
    args = parse("blendshapes", "--data", "a", "--data", "b", "--out", "o", "--arch", "ff",
                 "--wav2vec", "w2v", "--lookahead", "3", "--crop", "2.5", "--no-seal",
                 "--lr-plateau", "2", "--eq-db", "4", "--phone-loss", "0.3", "--lr", "0.01",
                 "--patience", "9", "--threads", "2", "--speaker-norm")
    cfg = blendshape_config(args)
    assert (cfg.data, cfg.out, cfg.arch, cfg.features, cfg.wav2vec) == (
        ["a", "b"], "o", "ff", "wav2vec2", "w2v")
    assert (cfg.lookahead, cfg.crop_s, cfg.seal, cfg.lr_plateau, cfg.eq_db) == (
        3, 2.5, False, 2, 4.0)
    assert (cfg.phone_loss, cfg.lr, cfg.patience, cfg.threads, cfg.speaker_norm) == (
        0.3, 0.01, 9, 2, True)
    assert recorded_argv(args, "blendshapes")[:4] == ["train", "blendshapes", "--data=a",
                                                      "--data=b"]


def test_landmark_and_densify_flags_fill_their_configs() -> None:
    args = parse("landmarks", "--data", "c", "--out", "o", "--hidden", "7", "--w-vel", "3",
                 "--crop", "1.5", "--identities", "5", "--epochs", "2", "--seed", "4")
    s2l = landmark_config(args)
    assert (s2l.data, s2l.hidden, s2l.w_vel, s2l.crop_s, s2l.identities, s2l.epochs,
            s2l.seed, s2l.features) == (["c"], 7, 3.0, 1.5, 5, 2, 4, "logmel")
    args = parse("densify", "--data", "c", "--out", "o", "--channels", "8,8,4,4,4",
                 "--no-condition", "--noise", "0.5", "--steps", "3", "--region", "lips")
    s2d = densify_config(args)
    assert (s2d.channels, s2d.condition, s2d.noise_mm, s2d.steps, s2d.region) == (
        (8, 8, 4, 4, 4), False, 0.5, 3, "lips")


@pytest.mark.parametrize("model", ["blendshapes", "landmarks", "densify"])
def test_every_run_setting_has_a_flag(model: str) -> None:
    from facewire.train.runs import RunSettings

    args = vars(parse(model, "--data", "c", "--out", "o"))
    missing = [f.name for f in fields(RunSettings) if f.name not in args]
    assert not missing, f"train {model} has no flag for {missing}"
