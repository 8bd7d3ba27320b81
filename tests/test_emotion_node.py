"""The emotion node as a real process on a real bus: an Emotion control message changes
the fused frames (eased), a bad control message is logged and ignored while the node keeps
running, and an unknown emotion in the launch parameters stops the node with a clear error.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import find_node, start_node, wait_running
from conftest import facewire_cmd, stop_process

from facewire.bus.transport import Bus
from facewire.emotion.presets import UPPER_INDEX, one_hot
from facewire.emotion.runtime import WEIGHTS_DIR
from facewire.messages.types import Blendshapes, Emotion
from facewire.rig.arkit import ARKIT_INDEX

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "facewire_emotion_fusion.onnx").exists(),
                                reason="shipped fusion model absent")


def speech_frame(i: int) -> Blendshapes:
    w = np.zeros(52, np.float32)
    w[ARKIT_INDEX["jawOpen"]] = 0.3 + 0.2 * np.sin(i / 5)
    return Blendshapes(weights=w, subject="ada").with_header(media_time=i / 60,
                                                             capture_ns=i * 16_666_667)


def pump(bus: Bus, pub, got: list, start: int, n: int) -> int:
    """Send n frames (one per spin) and collect the replies; returns the next index."""
    for i in range(start, start + n):
        pub.publish(speech_frame(i))
        bus.spin_once(5)
    deadline = time.monotonic() + 5
    while len(got) < start + n and time.monotonic() < deadline:
        bus.spin_once(20)
    return start + n


def test_control_message_changes_the_output_eased_and_bad_ones_are_ignored(
        registry: str, tmp_path: Path) -> None:
    log = tmp_path / "emotion.log"
    node = start_node("emotion", "--param", "emotion=neutral", "--param", "ease_s=0.25",
                      "--remap", "input=/speech", "--remap", "output=/fused", log=log)
    bus = Bus("test_emotion")
    try:
        got: list[Blendshapes] = []
        bus.subscribe("/fused", Blendshapes, callback=got.append)
        pub = bus.publisher("/speech", Blendshapes)
        ctl = bus.publisher("/emotion", Emotion)
        wait_running(registry, "emotion", node, 30)
        i = pump(bus, pub, got, 0, 30)
        assert len(got) == 30, log.read_text()
        neutral_upper = np.stack([g.weights for g in got])[:, UPPER_INDEX].sum(1)
        assert neutral_upper.max() < 0.3
        assert got[-1].subject == "ada" and got[-1].header.media_time == pytest.approx(29 / 60)

        ctl.publish(Emotion(weights=one_hot("surprised"), intensity=1.0))
        bus.spin_once(200)  # let the control message land before the next frames
        i = pump(bus, pub, got, i, 40)
        upper = np.stack([g.weights for g in got[30:]])[:, UPPER_INDEX].sum(1)
        assert upper[-1] > 1.5, "surprise did not reach the face"
        assert np.abs(np.diff(upper)).max() < 0.5 * upper[-1], "the change was a step"
        assert np.argmax(upper > 0.95 * upper[-1]) >= 5, "no glide"

        # bad control messages: logged, ignored, the node keeps running and keeps surprise
        ctl.publish(Emotion(weights=one_hot("happy"), intensity=1.7))
        ctl.publish(Emotion(weights=-one_hot("happy"), intensity=0.5))
        bus.spin_once(200)
        i = pump(bus, pub, got, i, 20)
        assert len(got) == i
        assert np.stack([g.weights for g in got[-5:]])[:, UPPER_INDEX].sum(1).min() > 1.5
        info = find_node(registry, "emotion")
        assert info is not None and node.poll() is None

        # the command line steers it too
        cli = subprocess.run(facewire_cmd("emotion", "set", "happy", "0.8", "--registry",
                                          registry), capture_output=True, text=True, timeout=30)
        assert cli.returncode == 0, cli.stderr
        i = pump(bus, pub, got, i, 30)
        smile = got[-1].weights[ARKIT_INDEX["mouthSmileLeft"]]
        assert smile > 0.3, smile
    finally:
        bus.close()
        stop_process(node)
    text = log.read_text()
    assert "emotion message ignored: intensity must be in [0, 1]" in text
    assert "emotion weights must be >= 0" in text


def test_unknown_emotion_at_launch_is_a_clear_error() -> None:
    out = subprocess.run(facewire_cmd("node", "run", "emotion", "--param", "emotion=joyful"),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "must be one of" in out.stderr and "joyful" in out.stderr


def test_cli_refuses_bad_emotions_before_touching_the_bus() -> None:
    for args, msg in ((["joyful"], "unknown emotion 'joyful'"),
                      (["happy", "1.5"], "intensity must be in [0, 1]"),
                      (["happy", "nan"], "intensity must be in [0, 1]")):
        out = subprocess.run(facewire_cmd("emotion", "set", *args, "--registry",
                                          "ipc:///nonexistent/bus.sock"),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and msg in out.stderr, out.stderr
