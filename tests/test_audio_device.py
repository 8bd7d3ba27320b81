"""A real audio device path: PulseAudio null sink -> PortAudio -> the live graph.

A private PulseAudio server gets a null sink; paplay plays a speech clip into it; the audio
node captures the sink's monitor through PortAudio (ALSA's pulse plugin), and the jawOpen
curve that comes out of the graph must follow the clip's loudness.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from bus_helpers import find_node, wait_until
from conftest import facewire_cmd, stop_process
from live_helpers import train_tiny_model

from facewire.audio.files import BUNDLED_AUDIO
from facewire.bus.transport import Bus
from facewire.messages.types import Blendshapes
from facewire.models.runtime import default_model_path
from facewire.rig.arkit import ARKIT_INDEX

pytestmark = pytest.mark.skipif(
    not (shutil.which("pulseaudio") and shutil.which("paplay")),
    reason="PulseAudio is not installed (make test installs pulseaudio and pulseaudio-utils)",
)


@pytest.fixture
def pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private PulseAudio server with a null sink; clients find it through the env."""
    runtime = tmp_path / "pulse"
    runtime.mkdir()
    sink = "facewire_test"
    monkeypatch.setenv("PULSE_RUNTIME_PATH", str(runtime))
    monkeypatch.setenv("PULSE_STATE_PATH", str(runtime))
    monkeypatch.setenv("PULSE_SOURCE", f"{sink}.monitor")  # what ALSA's "pulse" device records
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
         "--disable-shm", "-L", "module-native-protocol-unix",
         "-L", f"module-null-sink sink_name={sink} rate=16000 channels=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def up() -> bool:
            assert proc.poll() is None, f"pulseaudio did not start: {proc.stderr.read()}"
            return subprocess.run(["pactl", "info"], capture_output=True).returncode == 0

        wait_until(up, 15, "pulseaudio")
        yield sink
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    default = default_model_path()
    return default if default.exists() else train_tiny_model(tmp_path_factory.mktemp("dev"))


def loudness(audio: np.ndarray, sr: int, fps: float = 60.0) -> np.ndarray:
    hop = int(sr / fps)
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    return np.sqrt((frames ** 2).mean(axis=1))


def best_lagged_correlation(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest Pearson correlation of y shifted later by 0..max_lag frames against x."""
    best = (-1.0, 0)
    for lag in range(max_lag + 1):
        n = min(len(x), len(y) - lag)
        r = float(np.corrcoef(x[:n], y[lag:lag + n])[0, 1])
        best = max(best, (r, lag))
    return best


def test_microphone_path_through_pulseaudio_follows_loudness(
        pulse: str, registry: str, model: Path, tmp_path: Path) -> None:
    clip, sr = sf.read(BUNDLED_AUDIO / "demo_clip.wav", dtype="float32")
    clip = clip[: 6 * sr]
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip, sr)
    frames: list[Blendshapes] = []
    bus = Bus("test_listener")
    bus.subscribe("/blendshapes", Blendshapes, callback=frames.append)
    log = tmp_path / "launch.log"
    graph = subprocess.Popen(
        facewire_cmd("launch", "live_mic", "--registry", registry, "--arg", "device=pulse",
                     "--arg", f"model={model}", "--arg", "smoothing=none"),
        stdout=open(log, "w"), stderr=subprocess.STDOUT, env=os.environ.copy())  # noqa: SIM115
    try:
        def running() -> bool:
            assert graph.poll() is None, log.read_text()
            bus.spin_once(10)
            return all((n := find_node(registry, name)) and n["state"] == "running"
                       for name in ("audio", "features", "blendshapes", "smoother"))

        wait_until(running, 60, "the microphone graph")
        player = subprocess.Popen(["paplay", "-d", pulse, str(wav)])
        deadline = time.monotonic() + len(clip) / sr + 3
        while time.monotonic() < deadline:
            bus.spin_once(20)
        assert player.wait(10) == 0
    finally:
        bus.close()
        stop_process(graph, 15)
    assert frames, f"no frames from the microphone graph:\n{log.read_text()}"
    jaw = np.array([f.weights[ARKIT_INDEX["jawOpen"]] for f in frames])
    env = loudness(clip, sr)
    assert len(jaw) > len(env), f"{len(jaw)} frames for {len(env)} frames of audio"
    # the clip starts somewhere in the captured stream: find where, then compare
    r, lag = best_lagged_correlation(env, jaw, max_lag=len(jaw) - len(env))
    np.savez(tmp_path / "series.npz", jaw=jaw, env=env)
    print(f"jawOpen vs loudness r={r:.3f} at {lag / 60:.2f} s into the capture")
    assert r > 0.5, f"jawOpen follows loudness with r={r:.2f} (clip found {lag / 60:.2f} s in)"
