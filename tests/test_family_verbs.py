"""``facewire train|export|eval <family>``: the same verbs for every model family, the older
spellings (``facewire export CKPT``, ``facewire eval --model M``, ``facewire eval-mesh``)
still meaning what they meant, and a checkpoint of another family refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from facewire.cli import build_parser, main
from facewire.commands.families import FAMILIES


@pytest.mark.parametrize("verb", ["train", "export", "eval"])
def test_each_verb_names_every_family_in_its_help(verb: str) -> None:
    out = subprocess.run([sys.executable, "-m", "facewire", verb, "--help"],
                         capture_output=True, text=True, check=True).stdout
    missing = [f for f in FAMILIES if f not in out]
    assert not missing, f"facewire {verb} --help lacks {missing}"


def test_old_and_new_eval_spellings_parse_to_the_same_command() -> None:
    p = build_parser()
    old = vars(p.parse_args(["eval", "--model", "m", "--data", "c", "--xspk-pairs", "2"]))
    new = vars(p.parse_args(["eval", "blendshapes", "--model", "m", "--data", "c",
                             "--xspk-pairs", "2"]))
    assert new.pop("eval_family") == "blendshapes" and old.pop("eval_family") is None
    assert old == new


@pytest.mark.parametrize("family", ["landmarks", "densify"])
def test_eval_mesh_family_model_reaches_that_network(family: str, capsys) -> None:
    missing = f"/nonexistent/{family}.onnx"
    assert main(["eval", family, "--model", missing, "--data", "/nonexistent/corpus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"facewire eval {family}: ") and missing in err
    assert "\n" not in err


def test_export_refuses_a_checkpoint_of_another_family(tmp_path: Path, capsys) -> None:
    torch = pytest.importorskip("torch")
    ck = tmp_path / "best.pt"
    torch.save({"format": "facewire-s2l-checkpoint"}, ck)
    for family in ("blendshapes", "densify"):
        assert main(["export", family, str(ck), "--out", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err.strip()
        assert "is a landmarks checkpoint" in err and "facewire export landmarks" in err
    assert main(["export", "landmark", str(ck), "--out", str(tmp_path / "m")]) == 2
    assert "'landmark' is not a family" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def save_grid_rig(path: Path) -> Path:
    from test_emotion import grid_rig

    from facewire.rig.arkit import ARKIT_52

    rig = grid_rig()
    np.savez(path, neutral=rig.neutral, faces=rig.faces, blendshapes=rig.blendshapes,
             blendshape_names=np.array(ARKIT_52), landmarks68=rig.landmarks68, unit="cm",
             uvs=rig.uvs, face_uvs=rig.face_uvs)
    return path


def test_export_emotion_rebuilds_the_run_model(tmp_path: Path, capsys) -> None:
    """A run's fusion.pt exported again gives the graph the run's own export gave."""
    torch = pytest.importorskip("torch")
    from facewire.emotion.export import export_fusion
    from facewire.emotion.presets import one_hot
    from facewire.emotion.runtime import FusionRuntime
    from facewire.train.emotion.train import EmotionTrainConfig, build

    cfg = EmotionTrainConfig(data=["corpus"], out=str(tmp_path / "run"), name="tiny", k=4,
                             size=16, rig=str(save_grid_rig(tmp_path / "grid.npz")))
    _, geom, model = build(cfg)
    with torch.no_grad():  # give the linear read-outs something to fold
        model.enc_speech.skip.weight.normal_(0, 1e-3)
        model.enc_expr.skip.weight.normal_(0, 1e-3)
    run = Path(cfg.out)
    run.mkdir()
    torch.save({"state": model.state_dict(), "config": asdict(cfg)}, run / "fusion.pt")
    export_fusion(model, geom, run, "tiny", config=asdict(cfg), training={"steps": 5},
                  argv=["train", "emotion", "--data", "corpus"])

    assert main(["export", "emotion", str(run), "--out", str(tmp_path / "m"),
                 "--name", "again"]) == 0
    assert "again.onnx" in capsys.readouterr().out
    card = json.loads((tmp_path / "m" / "again.json").read_text())
    assert card["training"] == {"steps": 5}
    assert card["command"]["train"] == "facewire train emotion --data corpus"
    assert card["command"]["export"].startswith("facewire export emotion ")
    speech = np.random.default_rng(2).uniform(0, 0.5, (5, 52)).astype(np.float32)
    amounts = 0.7 * one_hot("happy")
    a = FusionRuntime(run / "tiny.json").run(speech, amounts)
    b = FusionRuntime(tmp_path / "m" / "again.json").run(speech, amounts)
    for x, y in zip(a, b):
        assert np.allclose(x, y, atol=1e-6)


def test_export_emotion_without_a_run_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["export", "emotion", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"facewire export emotion: {tmp_path / 'fusion.pt'}: no fusion checkpoint "
                   "(train one with 'facewire train emotion --out DIR', then pass DIR)")
