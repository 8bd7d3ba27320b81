"""The audio node through the in-process bus: files, rates, channels, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.audio import AudioSourceError
from facewire.audio.devices import find_input_device
from facewire.audio.files import read_audio_file
from facewire.bus.runners import ProcessRunner
from facewire.messages.types import AudioChunk
from facewire.nodes.audio import Audio
from facewire.testing import local_graph, run_node


def run_file(path: Path, **params) -> list[AudioChunk]:
    node = Audio(name="audio", params={"source": "file", "path": str(path), "realtime": False,
                                       "exit_at_end": True, **params})
    return run_node(node, drive=True)["audio"]


def test_stereo_44k_file_becomes_16k_mono_chunks(tmp_path: Path) -> None:
    sr = 44100
    t = np.arange(sr) / sr
    left = 0.5 * np.sin(2 * np.pi * 300 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, left], axis=1), sr)
    chunks = run_file(path)
    assert all(c.sample_rate == 16000 and c.samples.shape == (160, 1) for c in chunks)
    assert [c.header.media_time for c in chunks[:3]] == [0.0, 0.01, 0.02]
    audio = np.concatenate([c.samples[:, 0] for c in chunks])
    assert len(audio) == 16000  # one second, padded to whole chunks
    expected = 0.5 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    assert np.abs(audio - expected)[200:-200].max() < 2e-3


def test_last_partial_chunk_is_padded_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, np.full(16000 + 8000, 0.25, np.float32), 16000)
    chunks = run_file(path, chunk_ms=1000.0)
    assert [c.samples.shape[0] for c in chunks] == [16000, 16000]
    assert np.all(chunks[1].samples[:8000] == 0.25) and np.all(chunks[1].samples[8000:] == 0)


def test_topic_source_resamples_pushed_chunks() -> None:
    node = Audio(name="audio", params={"source": "topic"})
    bus = local_graph(node).bus
    out = bus.subscribe("/audio", AudioChunk)
    pushed = bus.publisher("/input", AudioChunk)
    rng = np.random.default_rng(0)
    for _ in range(100):  # one second at 48 kHz in 10 ms stereo blocks
        pushed.publish(AudioChunk(samples=rng.standard_normal((480, 2)).astype(np.float32) * 0.1,
                                  sample_rate=48000))
    assert 95 <= len(out.received) <= 100
    times = [c.header.media_time for c in out.received]
    assert np.allclose(np.diff(times), 0.01)


def test_unreadable_and_nan_files_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(AudioSourceError, match="cannot read audio file"):
        read_audio_file(str(bad))
    with pytest.raises(AudioSourceError, match="does not exist"):
        read_audio_file(str(tmp_path / "missing.wav"))
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioSourceError, match="NaN"):
        read_audio_file(str(nan))


def test_node_with_bad_file_fails_to_start_without_traceback(tmp_path: Path, caplog,
                                                             registry: str) -> None:
    node = Audio(name="audio", params={"source": "file", "path": str(tmp_path / "x.wav")})
    assert ProcessRunner(node, registry=registry).run() == 2
    assert "does not exist" in caplog.text


def test_missing_device_lists_the_devices() -> None:
    with pytest.raises(AudioSourceError, match="Input devices"):
        find_input_device("no such microphone 1234")
