"""``facewire eval --words``: the words-path table (audio-only / teacher / fused)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import default_rig_path
from facewire.train.blendshapes.eval_words import jaw_loudness, load_text_clips, vowel_closure_rate


def test_vowel_closure_counts_only_the_nucleus() -> None:
    ap = np.full(60, 8.0)
    ap[0:12] = 0.0  # closed through the first 200 ms
    # AA 0.15-0.5 s: its edge overlaps the closure, its nucleus (0.24-0.41 s) is open
    assert vowel_closure_rate(ap, [("AA", 0.15, 0.5)]) == 0.0
    assert vowel_closure_rate(ap, [("IY", 0.0, 0.15)]) == 1.0
    assert np.isnan(vowel_closure_rate(ap, [("M", 0.0, 0.1)]))


def test_jaw_loudness_follows_a_lagged_envelope() -> None:
    rng = np.random.default_rng(0)
    env = np.repeat(rng.uniform(0.01, 0.5, 40), 6)  # 240 frames of a stepped envelope
    audio = np.repeat(env, 16000 // 60) * rng.standard_normal(240 * (16000 // 60))
    w = np.zeros((240, 52), np.float32)
    w[2:, ARKIT_INDEX["jawOpen"]] = np.log(env[:-2])  # the jaw trails by 2 frames
    assert jaw_loudness(w, audio) > 0.9
    w[:, ARKIT_INDEX["jawOpen"]] = rng.uniform(0, 1, 240)
    assert jaw_loudness(w, audio) < 0.3


def test_sphinx_transcription_layout(tmp_path) -> None:
    import soundfile as sf

    sf.write(tmp_path / "001.wav", np.zeros(1600, np.float32), 16000)
    (tmp_path / "cards.transcription").write_text("<s> ten of clubs  </s> (001)\n"
                                                  "<s> missing file </s> (002)\n")
    clips = load_text_clips(tmp_path)
    assert [(c.id, c.text) for c in clips] == [("001", "ten of clubs")]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_text_clips(tmp_path / "nope")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_eval_words_cli_table(tmp_path) -> None:
    if not default_rig_path().exists():
        pytest.skip("ICT facekit rig absent (shared data)")
    lines = {"a": "Bob made a map of the moon by the pool.",
             "b": "Mom may buy plump apples and maple pie."}
    for stem, text in lines.items():
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(tmp_path / f"{stem}.wav"), text],
                       check=True)
        (tmp_path / f"{stem}.txt").write_text(text + "\n")
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, "-m", "facewire", "eval", "--model",
                          "facewire_cnn_gru_logmel", "--words", str(tmp_path), "--json",
                          str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    table = json.loads(out.read_text())["words"][str(tmp_path)]
    fused = table["facewire_cnn_gru_logmel: fused"]
    audio = table["facewire_cnn_gru_logmel: audio-only"]
    assert fused["aligned"] == 2 and fused["bilabials"] >= 15
    assert fused["closure"] == 1.0 and fused["closure"] >= audio["closure"]
    assert "teacher" in res.stdout and "fused" in res.stdout
