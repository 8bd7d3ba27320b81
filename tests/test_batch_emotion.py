"""A batch line's (and ``animate --emotion``'s) emotion is fused into its take.

Real parts: espeak-ng speech aligned by pocketsphinx, the shipped speech model and the
shipped fusion model through onnxruntime, files written by ``animate_line`` (no Ray: the
per-line function is what every worker runs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facewire.batch.line import BatchOptions, animate_line, line_digest
from facewire.batch.manifest import Line
from facewire.offline_words import animate_file_words
from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import default_rig_path
from tests.conftest import facewire_cmd

LINE = "Bob made a map of the moon by the pool."
SMILE = [ARKIT_INDEX["mouthSmileLeft"], ARKIT_INDEX["mouthSmileRight"]]
CHEEK = [ARKIT_INDEX["cheekSquintLeft"], ARKIT_INDEX["cheekSquintRight"]]


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = tmp_path_factory.mktemp("voice") / "bob.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), LINE], check=True)
    return wav


@pytest.fixture(scope="module")
def neutral(voice: Path):
    return animate_file_words(voice, text=LINE, warn=None)


@pytest.fixture(scope="module")
def voice_only(voice: Path):
    """The audio path: the words path's curves also depend on what the aligner decoded
    earlier in the process (pocketsphinx state), so exact comparisons use this one."""
    return animate_file_words(voice, sidecar=False)


def test_happy_line_smiles_and_still_closes_its_bilabials(voice: Path, neutral) -> None:
    from facewire.emotion.presets import one_hot
    from facewire.emotion.runtime import naive
    from facewire.phones.arpabet import BILABIALS
    from facewire.phones.words import WordsAligner
    from facewire.train.data.loaders import load_audio
    from facewire.train.metrics import LipAperture, bilabial_closure_rate

    happy = animate_file_words(voice, text=LINE, warn=None, emotion="happy", intensity=0.7)
    assert happy.source == "transcript" and (happy.emotion, happy.intensity) == ("happy", 0.7)
    assert happy.weights.shape == neutral.weights.shape
    assert (happy.weights[:, SMILE] - neutral.weights[:, SMILE]).mean() > 0.2
    assert (happy.weights[:, CHEEK] - neutral.weights[:, CHEEK]).mean() > 0.15
    frames = [m for _, m in happy.messages if type(m).__name__ == "Blendshapes"]
    assert np.array_equal(np.stack([f.weights for f in frames]), happy.weights)  # bag = CSV
    rig = default_rig_path()
    if not rig.exists():
        pytest.skip(f"{rig}: ICT facekit rig absent (shared data)")
    phones = WordsAligner().align_text(load_audio(voice), LINE).phones
    assert sum(p.phone in BILABIALS for p in phones) >= 8
    ap = LipAperture.from_rig(rig)
    assert bilabial_closure_rate(ap(neutral.weights), phones, neutral.fps) == 1.0
    assert bilabial_closure_rate(ap(happy.weights), phones, happy.fps) == 1.0
    # the naive sum the fusion replaces opens them: the check above can fail
    naive_sum = naive(neutral.weights, 0.7 * one_hot("happy"))
    assert bilabial_closure_rate(ap(naive_sum), phones, happy.fps) < 0.5


@pytest.mark.parametrize("emotion,intensity", [("", None), ("neutral", 0.8), ("happy", 0.0)])
def test_no_emotion_leaves_the_take_as_before(voice: Path, voice_only, emotion: str,
                                              intensity: float | None) -> None:
    take = animate_file_words(voice, sidecar=False, emotion=emotion, intensity=intensity)
    assert np.abs(take.weights - voice_only.weights).max() <= 1e-5
    assert (take.emotion, take.emotion_fields()) == ("", {})


def test_batch_line_records_the_emotion_and_hashes_it(voice: Path, voice_only,
                                                     tmp_path: Path) -> None:
    opts = BatchOptions(out=str(tmp_path))
    happy = Line(id="happy", audio=str(voice), emotion="happy", intensity=0.7)
    plain = Line(id="plain", audio=str(voice))
    rows = {line.id: animate_line(line, opts) for line in (happy, plain)}
    assert rows["happy"]["status"] == "done"
    assert (rows["happy"]["emotion_applied"], rows["happy"]["intensity_applied"]) == \
        ("happy", 0.7)
    assert (rows["plain"]["emotion_applied"], rows["plain"]["intensity_applied"]) == ("", 0.0)
    record = json.loads((tmp_path / "happy.take.json").read_text())
    assert record["emotion_applied"] == "happy" and record["emotion"] == "happy"
    with np.load(tmp_path / "happy.npz") as z:
        assert str(z["emotion"]) == "happy" and float(z["intensity"]) == 0.7
        assert (z["weights"][:, SMILE] - voice_only.weights[:, SMILE]).mean() > 0.2
    with np.load(tmp_path / "plain.npz") as z:
        assert "emotion" not in z.files
        assert np.abs(z["weights"] - voice_only.weights).max() <= 1e-5
    audio = voice.read_bytes()
    digests = {line_digest(Line(id="x", audio=str(voice), text=LINE, emotion=e, intensity=i),
                           audio, opts) for e, i in [("happy", 0.7), ("happy", 0.6),
                                                     ("sad", 0.7), ("", None)]}
    assert len(digests) == 4
    assert animate_line(happy, opts)["status"] == "skipped"  # same hash, files there


def test_animate_cli_emotion_flags(voice: Path, tmp_path: Path) -> None:
    bad = subprocess.run(facewire_cmd("animate", str(voice), "--out", str(tmp_path),
                                      "--emotion", "gleeful"), capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown emotion 'gleeful'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    ok = subprocess.run(facewire_cmd("animate", str(voice), "--out", str(tmp_path),
                                     "--no-plot", "--emotion", "sad", "--intensity", "0.9"),
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    with np.load(tmp_path / "bob.npz") as z:
        assert str(z["emotion"]) == "sad" and float(z["intensity"]) == pytest.approx(0.9)
