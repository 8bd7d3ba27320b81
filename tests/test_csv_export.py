"""Live Link Face CSV export from a bag and from animate, read back by the shared loader."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import facewire_cmd

from facewire.bag.writer import BagWriter
from facewire.bridges.livelink_csv import read_livelink_csv
from facewire.messages.types import Blendshapes
from facewire.train.data.loaders import read_livelink_csv as load_for_training


def test_bag_export_writes_one_take_per_subject(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bag = tmp_path / "take.mcap"
    sent: dict[str, np.ndarray] = {"alice": rng.random((30, 52)), "bob": rng.random((20, 52))}
    with BagWriter(bag) as w:
        for subject, weights in sent.items():
            for k, row in enumerate(weights):
                w.write("/blendshapes", Blendshapes(weights=row.astype(np.float32),
                                                    subject=subject)
                        .with_header(media_time=k / 60), log_time_ns=k)
    out = tmp_path / "csv"
    done = subprocess.run(facewire_cmd("bag", "csv", str(bag), "--out", str(out)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for subject, weights in sent.items():
        path = out / f"take_1_{subject}.csv"
        take = read_livelink_csv(path)
        assert np.allclose(take.weights, weights, atol=1e-6)
        assert np.allclose(take.times, np.arange(len(weights)) / 60, atol=1e-6)
        times, curves, _ = load_for_training(path)  # the training loader reads it too
        assert np.allclose(curves, weights, atol=1e-6)


def test_bag_export_without_blendshapes_fails_clearly(tmp_path: Path) -> None:
    bag = tmp_path / "empty.mcap"
    with BagWriter(bag):
        pass
    done = subprocess.run(facewire_cmd("bag", "csv", str(bag), "--out", str(tmp_path / "x.csv")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no ARKit Blendshapes" in done.stderr


def test_animate_writes_csv_npz_bag_and_plot(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        sf.write(tmp_path / "in" / f"{name}.wav", audio, 16000)
    (tmp_path / "in" / "broken.wav").write_bytes(b"not audio")
    done = subprocess.run(facewire_cmd("animate", str(tmp_path / "in"), "--out",
                                       str(tmp_path / "out")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # one file could not be read
    assert "broken.wav" in done.stderr
    for name in ("a", "b"):
        for ext in (".csv", ".npz", ".mcap", ".png"):
            assert (tmp_path / "out" / f"{name}{ext}").stat().st_size > 0
        take = read_livelink_csv(tmp_path / "out" / f"{name}.csv")
        npz = np.load(tmp_path / "out" / f"{name}.npz")
        assert len(take.times) == len(npz["weights"]) >= 59
        assert np.allclose(take.weights, npz["weights"], atol=1e-6)
    assert "x real time" in done.stdout
