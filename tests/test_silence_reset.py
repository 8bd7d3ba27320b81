"""A recurrent model's state starts afresh after silence (facewire.models.silence_reset)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facewire.models.logmel import logmel
from facewire.models.runtime import LIVE_MODEL, WEIGHTS_DIR, ModelError, StreamingPredictor
from facewire.models.silence_reset import SilenceReset, segments

SR = 16000


def speech_pause_speech(pause_s: float = 1.5) -> np.ndarray:
    """A voiced buzz, digital silence, the buzz again (log-mel sees speech-like energy)."""
    t = np.arange(SR) / SR
    buzz = (0.3 * np.sign(np.sin(2 * np.pi * 130 * t)) * np.sin(np.pi * t) ** 0.3)
    noise = np.random.default_rng(0).normal(0, 1e-4, int(pause_s * SR))
    return np.concatenate([buzz, noise, buzz]).astype(np.float32)


def test_frames_are_marked_only_after_the_silence_lasted() -> None:
    frames = np.full((100, 80), -13.8, np.float32)
    frames[1:20] = 2.0  # speech after one quiet frame (the gate's floor)
    marks = SilenceReset(0.3, 100.0).push(frames)
    first = int(np.argmax(marks))
    assert 20 + 30 <= first <= 20 + 30 + 4  # 0.3 s after the speech (plus the hangover)
    assert marks[first:].all() and not marks[:first].any()
    assert not SilenceReset(0.0, 100.0).push(frames).any()  # off


def test_segments_put_each_marked_frame_alone() -> None:
    marks = np.array([0, 0, 1, 1, 0, 0, 0, 1], bool)
    assert segments(marks, 2) == [(0, 2, False), (2, 3, True), (3, 4, True), (4, 6, False),
                                  (6, 7, False), (7, 8, True)]


@pytest.fixture(scope="module")
def live_card(tmp_path_factory) -> Path:
    """The shipped live model with runtime.silence_reset_s in its card."""
    folder = tmp_path_factory.mktemp("reset")
    shutil.copy(WEIGHTS_DIR / f"{LIVE_MODEL}.onnx", folder)
    card = json.loads((WEIGHTS_DIR / f"{LIVE_MODEL}.json").read_text())
    card["runtime"] = {"silence_reset_s": 0.3}
    (folder / f"{LIVE_MODEL}.json").write_text(json.dumps(card))
    return folder / f"{LIVE_MODEL}.json"


def test_streaming_equals_whole_file_and_only_speech_after_the_pause_changes(
        live_card: Path) -> None:
    sp = StreamingPredictor(live_card, device="cpu")
    assert sp.silence_reset_s == 0.3
    x = logmel(speech_pause_speech(), sp.logmel)
    whole = sp.predict(x)
    sp.reset()
    streamed = np.concatenate([sp.step(x[i:i + 3]) for i in range(0, len(x), 3)])
    n = min(len(whole), len(streamed))
    assert np.allclose(whole[:n], streamed[:n], atol=1e-5)
    plain = StreamingPredictor(live_card, device="cpu", silence_reset_s=0.0).predict(x)
    fps = sp.fps
    assert np.array_equal(whole[:int(0.9 * fps)], plain[:int(0.9 * fps)])  # before: the same
    after = slice(int(2.5 * fps), int(3.0 * fps))  # the second burst's first half second
    assert np.abs(whole[after] - plain[after]).max() > 1e-3


def test_the_card_value_is_the_default_and_the_node_can_override_it(live_card: Path) -> None:
    from facewire.nodes.blendshapes import BlendshapesNode

    assert StreamingPredictor(WEIGHTS_DIR / f"{LIVE_MODEL}.json").silence_reset_s == 0.3  # shipped
    node = BlendshapesNode(params={"model": str(live_card), "silence_reset_s": 0.0})
    assert node.load_model().silence_reset_s == 0.0
    node = BlendshapesNode(params={"model": str(live_card)})
    assert node.load_model().silence_reset_s == 0.3
    with pytest.raises(ModelError, match="silence_reset_s -2"):
        StreamingPredictor(live_card, silence_reset_s=-2.0)


def test_a_card_is_re_exported_with_a_silence_reset(tmp_path: Path, capsys) -> None:
    from facewire.cli import main as run

    card = WEIGHTS_DIR / f"{LIVE_MODEL}.json"
    assert run(["export", "blendshapes", str(card), "--silence-reset", "0.5", "--out",
                str(tmp_path)]) == 0
    new = json.loads((tmp_path / card.name).read_text())
    assert new["runtime"]["silence_reset_s"] == 0.5
    assert "--silence-reset=0.5" in new["command"]["reexport"]
    assert (tmp_path / f"{LIVE_MODEL}.onnx").read_bytes() == (
        WEIGHTS_DIR / f"{LIVE_MODEL}.onnx").read_bytes()
    assert StreamingPredictor(tmp_path / card.name).silence_reset_s == 0.5
    assert run(["export", str(card), "--silence-reset", "-1", "--out", str(tmp_path)]) == 2
    assert "--silence-reset -1: seconds" in capsys.readouterr().err
