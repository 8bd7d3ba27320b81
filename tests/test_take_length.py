"""Takes match their audio: no padding to whole offline chunks, a neutral face at the end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.bridges.livelink_csv import read_livelink_csv
from facewire.offline import animate_file, release_gain
from tests.conftest import facewire_cmd


def voiced(seconds: float, rate: int = 16000) -> np.ndarray:
    """Quiet, then a buzz that is loud up to the last sample: a line cut off mid-word."""
    t = np.arange(int(round(seconds * rate))) / rate
    env = (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * (t > 0.15)
    noise = 0.002 * np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * env * np.sign(np.sin(2 * np.pi * 140 * t)) + noise).astype(np.float32)


@pytest.mark.parametrize("seconds,rate", [(0.45, 16000), (1.37, 16000), (0.61, 8000)])
def test_take_ends_with_its_audio_and_relaxes(tmp_path: Path, seconds: float, rate: int) -> None:
    path = tmp_path / "line.wav"
    sf.write(path, voiced(seconds, rate), rate)
    take = animate_file(path)
    assert len(take.audio) / take.sample_rate == pytest.approx(seconds, abs=1 / rate)
    assert abs(take.times[-1] - seconds) <= 1 / take.fps, (take.times[-1], seconds)
    assert np.allclose(np.diff(take.times), 1 / take.fps)
    bag_frames = [m for _, m in take.messages if hasattr(m, "weights")]
    assert bag_frames[-1].header.media_time == take.times[-1]  # the bag ends there too
    assert np.abs(take.weights[-1]).max() == 0.0  # neutral at the end
    talking = (take.times > 0.2) & (take.times < take.times[-1] - 0.1)
    assert take.weights[talking].max() > 0.05  # and talking until the release


def test_release_only_touches_the_last_tenth_of_a_second() -> None:
    times = np.arange(60) / 60
    gain = release_gain(times, 0.1)
    assert np.all(gain[times <= times[-1] - 0.1] == 1.0)
    assert gain[-1] == 0.0 and np.all(np.diff(gain) <= 0)


def test_animate_command_writes_takes_of_the_audio_length(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "short.wav", voiced(0.45), 16000)
    done = subprocess.run(facewire_cmd("animate", str(tmp_path / "in"), "--out",
                                       str(tmp_path / "out"), "--no-plot"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    take = read_livelink_csv(tmp_path / "out" / "short.csv")
    npz = np.load(tmp_path / "out" / "short.npz")
    assert abs(take.times[-1] - 0.45) <= 1 / 60 and abs(npz["times"][-1] - 0.45) <= 1 / 60
    assert len(take.times) == len(npz["weights"]) <= 0.45 * 60 + 2
