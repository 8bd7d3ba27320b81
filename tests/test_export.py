"""Export to ONNX + card, and the onnxruntime runtime the blendshapes node uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facewire.models.logmel import LogMelConfig, logmel
from facewire.models.runtime import ModelError, StreamingPredictor, default_model_path
from facewire.rig.arkit import ARKIT_52
from facewire.train.blendshapes.export import export
from facewire.train.blendshapes.train import TrainConfig, train
from facewire.train.data.dataset import make_toy_corpus


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """One tiny trained model per architecture, exported."""
    root = tmp_path_factory.mktemp("exp")
    corpus = make_toy_corpus(root / "toy", n_clips=4, seconds=0.6, voices=2)
    out = {}
    for arch in ("ff", "cnn_gru", "s2s"):
        train(TrainConfig(data=[str(corpus)], arch=arch, out=str(root / arch), epochs=1,
                          hidden=8, window=5, quiet=True, held_out=0.5))
        out[arch] = export(root / arch / "best.pt", root / f"{arch}_onnx", argv=["export"])
    return out


def features(seconds: float = 1.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    audio = np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * 0.3
    return logmel(audio + 0.01 * rng.standard_normal(len(t)))


@pytest.mark.parametrize("arch", ["ff", "cnn_gru", "s2s"])
def test_card_describes_the_model(exported: dict[str, Path], arch: str) -> None:
    card = json.loads(exported[arch].read_text())
    assert card["architecture"] == arch and card["outputs"] == list(ARKIT_52)
    assert card["metrics"]["onnx_vs_torch_max_abs"] <= 1e-4
    assert LogMelConfig(**card["features"]["logmel"]) == LogMelConfig()
    assert card["command"]["train"].startswith("facewire") and card["training"]["data"]
    assert (exported[arch].parent / card["onnx"]).exists()
    if arch == "s2s":
        assert not card["streaming"] and card["io"]["state"] == []
    else:
        assert card["streaming"] and card["io"]["state"]
        assert card["delay_s"] == pytest.approx(0.02 + 2 / 300, abs=1e-6)


@pytest.mark.parametrize("arch", ["ff", "cnn_gru"])
@pytest.mark.parametrize("fps", [60.0, 30.0])
def test_stepping_in_any_chunks_equals_predict(exported: dict[str, Path], arch: str,
                                               fps: float) -> None:
    p = StreamingPredictor(exported[arch], device="cpu", fps=fps)
    f = features()
    whole = p.predict(f)
    assert whole.shape[1] == 52 and whole.dtype == np.float32
    # network frames j = 0 .. n-1-lookahead describe 0.01 + j / 100 s; frame k is k / fps
    assert len(whole) == int(np.floor((0.01 + (len(f) - 1 - 2) / 100) * fps + 1e-9)) + 1
    rng = np.random.default_rng(3)
    outs, t = [], 0
    while t < len(f):
        n = int(rng.integers(0, 11))
        outs.append(p.step(f[t:t + n]))
        t += n
    stepped = np.concatenate(outs)
    assert stepped.shape == whole.shape and p.frames_out == len(whole)
    assert np.abs(stepped - whole).max() < 1e-4
    p.reset()
    assert np.abs(p.step(f) - whole).max() < 1e-4


def test_offline_model_predicts_but_does_not_step(exported: dict[str, Path]) -> None:
    p = StreamingPredictor(exported["s2s"], device="cpu")
    assert p.predict(features()).shape[1] == 52
    with pytest.raises(ModelError, match="offline"):
        p.step(features()[:5])


def test_runtime_attributes(exported: dict[str, Path]) -> None:
    p = StreamingPredictor(exported["cnn_gru"].with_suffix(".onnx"))
    assert p.names == ARKIT_52 and p.fps == 60.0 and p.logmel == LogMelConfig()
    assert p.delay_s <= 0.04
    assert p.step(np.zeros((0, 80), np.float32)).shape == (0, 52)
    tail = p.flush()
    assert tail.shape[1] == 52


def test_bad_models_are_clear_errors(exported: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nope.onnx: model file not found"):
        StreamingPredictor(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="no model card"):
        StreamingPredictor(tmp_path)
    card = json.loads(exported["ff"].read_text())
    (tmp_path / "m.json").write_text(json.dumps(card))
    (tmp_path / card["onnx"]).write_bytes(b"garbage")
    with pytest.raises(ModelError, match="corrupt or unreadable ONNX"):
        StreamingPredictor(tmp_path / "m.json")
    p = StreamingPredictor(exported["ff"])
    with pytest.raises(ModelError, match=r"expects feature frames \(n, 80\)"):
        p.step(np.zeros((3, 40), np.float32))
    nan = np.zeros((3, 80), np.float32)
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        p.step(nan)
    # a card that promises other input dims than the graph has
    wrong = tmp_path / "w"
    wrong.mkdir()
    card["features"]["dim"] = 40
    (wrong / "m.json").write_text(json.dumps(card))
    (wrong / card["onnx"]).write_bytes(exported["ff"].with_suffix(".onnx").read_bytes())
    with pytest.raises(ModelError, match="the card says"):
        StreamingPredictor(wrong)


def test_cuda_request_without_cuda_is_explicit(exported: dict[str, Path]) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert StreamingPredictor(exported["ff"], device="cuda").device == "cuda"
    else:
        with pytest.raises(ModelError, match="onnxruntime-gpu"):
            StreamingPredictor(exported["ff"], device="cuda")
        assert StreamingPredictor(exported["ff"], device="auto").device == "cpu"


def test_default_model_ships_small_and_streams() -> None:
    path = default_model_path()
    if not path.exists():
        pytest.skip(f"{path} not built yet (see docs/models.md)")
    assert path.stat().st_size < 5e6
    p = StreamingPredictor(path, device="cpu")
    # the lookahead budget: at most 40 ms of future audio (the delay adds the 60 fps interpolation wait)
    assert p.streaming and p.lookahead / p.rate <= 0.04 + 1e-9 and p.names == ARKIT_52
    assert p.delay_s <= 0.04 + 1 / p.rate
    f = features(2.0)
    assert np.abs(np.concatenate([p.step(f[:77]), p.step(f[77:])]) - p.predict(f)).max() < 1e-4


def test_commands_train_export_eval(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The three sub-commands end to end through their argparse registration."""
    import argparse

    from facewire.commands import eval as eval_cmd
    from facewire.commands import export as export_cmd
    from facewire.commands import train as train_cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    for mod in (train_cmd, export_cmd, eval_cmd):
        mod.register(sub)

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return args.func(args)

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.5, voices=2)
    assert run("train", "blendshapes", "--data", str(corpus), "--out", str(tmp_path / "r"),
               "--arch", "ff", "--epochs", "1", "--hidden", "8", "--window", "4",
               "--held-out", "0.5", "--quiet") == 0
    assert run("export", str(tmp_path / "r"), "--out", str(tmp_path / "m"), "--name", "x") == 0
    assert run("eval", "--model", str(tmp_path / "m"), "--data", str(corpus), "--fsdd", "none",
               "--json", str(tmp_path / "e.json"), "--update-card", "--by", "voice") == 0
    out = capsys.readouterr().out
    groups = json.loads((tmp_path / "e.json").read_text())["by"]["groups"]
    (model_groups,) = groups.values()  # one model
    ((voice, row),) = model_groups.items()  # one held-out voice, both its clips
    assert row["clips"] == 2 and voice in out and ", by voice:" in out
    from facewire.train.metrics import default_aperture

    assert "teacher (target)" in out
    if default_aperture() is not None:  # lip metrics need the ICT rig from ../shared
        assert "closure" in out
    card = json.loads((tmp_path / "m" / "x.json").read_text())
    assert card["metrics"]["eval"]["clips"] == 2  # the held-out voice only
    import shutil

    shutil.copytree(tmp_path / "m", tmp_path / "m_copy")  # a candidate with the same name
    assert run("eval", "--model", str(tmp_path / "m"), "--model", str(tmp_path / "m_copy"),
               "--data", str(corpus), "--fsdd", "none", "--json", str(tmp_path / "e2.json")) == 0
    rows = json.loads((tmp_path / "e2.json").read_text())["results"]
    assert sorted(rows) == sorted(["teacher (target)", f"x ({tmp_path / 'm'})",
                                   f"x ({tmp_path / 'm_copy'})"])
    assert run("eval", "--model", str(tmp_path / "m"), "--xspk-pairs", "1") == 2
    assert "at least 2 pairs" in capsys.readouterr().err
    assert run("eval", "--model", str(tmp_path / "m"), "--xspk-pairs", "2",
               "--xspk-from", "-2") == 2
    assert "numbered from 0" in capsys.readouterr().err
    assert run("train", "blendshapes", "--data", str(tmp_path / "nowhere"), "--out",
               str(tmp_path / "r2")) == 2
    assert run("export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "m2")) == 2
    assert "not found" in capsys.readouterr().err
