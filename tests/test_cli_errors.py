"""User mistakes get one line naming the problem and the fix (no
traceback), a graph that cannot work ends with its reason, and audio files that are empty,
truncated or too short are warned about with their real duration."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgpack
import numpy as np
import pytest
import soundfile as sf
import zmq
from bus_helpers import wait_until
from conftest import facewire_cmd

from facewire.audio.files import audio_file_warnings
from facewire.cli import main

CLIP = Path(__file__).resolve().parents[1] / "facewire" / "data" / "demo_clip.wav"


def one_line_error(capsys: pytest.CaptureFixture, *args: str) -> str:
    """Run the real CLI entry point in this process (as `facewire ARGS` would)."""
    code = main(list(args))  # a traceback would fail the test by itself
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (("node", "run", "talker", "--params-json", "{bad"), ["--params-json", "JSON object"]),
    (("node", "run", "talker", "--params-json", "[1, 2]"), ["--params-json", "JSON object"]),
    (("node", "list", "--registry", "localhost:7447"), ["tcp://HOST:PORT"]),
    (("topic", "hz", "/x", "--registry", "localhost:7447"), ["tcp://HOST:PORT"]),
    (("bus", "--address", "127.0.0.1:7447"), ["tcp://HOST:PORT"]),
    (("launch", "live_file", "--registry", "localhost:7447"), ["tcp://HOST:PORT"]),
])
def test_bad_arguments_give_one_line(args: tuple, words: list[str],
                                     capsys: pytest.CaptureFixture) -> None:
    line = one_line_error(capsys, *args)
    assert all(w in line for w in words), line


@pytest.mark.parametrize("tool", ["echo", pytest.param("hz", marks=pytest.mark.slow),
                                  pytest.param("bw", marks=pytest.mark.slow)])
def test_topic_tools_without_a_registry_give_one_line(tool: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    line = one_line_error(capsys, "topic", tool, "/x", "--registry", f"ipc://{tmp_path}/none.sock",
                          "--timeout", "1")
    assert "no answer from the facewire registry" in line and "facewire bus" in line


def test_animate_model_and_out_mistakes_give_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    line = one_line_error(capsys, "animate", str(CLIP), "--out", str(tmp_path / "o"),
                          "--model", str(tmp_path / "missing.onnx"))
    assert "--model" in line and "not found" in line
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    (tmp_path / "bad.json").write_text("{}")
    line = one_line_error(capsys, "animate", str(CLIP), "--out", str(tmp_path / "o"),
                          "--model", str(tmp_path / "bad.onnx"))
    assert "--model" in line
    taken = tmp_path / "taken"
    taken.write_text("a file")
    line = one_line_error(capsys, "animate", str(CLIP), "--out", str(taken))
    assert "is a file" in line and "folder" in line


def test_node_list_after_a_bad_status_gives_no_traceback(registry: str) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(registry)
    try:
        sock.send(msgpack.packb({"op": "hello", "node": "liar", "pid": 5, "id": 1}))
        assert sock.poll(3000)
        sock.recv()
        sock.send(msgpack.packb({"op": "status", "status": b"\x92garbage"}))
        out = wait_until(lambda: (lambda r: r if "liar" in r.stdout else None)(
            subprocess.run(facewire_cmd("node", "list", "--registry", registry),
                           capture_output=True, text=True, timeout=30)), 10, "liar listed")
        assert out.returncode == 0 and "Traceback" not in out.stderr
        assert "liar  [bad status]" in out.stdout
    finally:
        sock.close(0)


def test_a_node_that_cannot_start_ends_the_launch_with_its_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    file = tmp_path / "one.yaml"
    file.write_text(f"nodes:\n  - {{name: audio, node: audio, params: {{path: '{missing}'}}}}\n"
                    "  - {name: sink, node: sink}\n")
    out = subprocess.run(facewire_cmd("launch", str(file)), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stdout[-2000:]
    assert (f"node audio could not start (exit code 2): ERROR audio cannot start: audio file "
            f"'{missing}' does not exist; stopping everything") in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.slow
def test_live_file_with_a_missing_file_ends_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    out = subprocess.run(facewire_cmd("launch", "live_file", "--arg", f"path={missing}"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout[-2000:]
    assert (f"node audio could not start (exit code 2): ERROR audio cannot start: audio file "
            f"'{missing}' does not exist; stopping everything") in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


# -- audio files -----------------------------------------------------------------------
def wav(path: Path, samples: int, truncate_to: int | None = None) -> Path:
    sf.write(path, np.zeros(samples, np.float32), 16000, subtype="PCM_16")
    if truncate_to is not None:
        data = path.read_bytes()
        path.write_bytes(data[:44 + truncate_to * 2])
    return path


def test_audio_warnings_name_the_real_duration(tmp_path: Path) -> None:
    empty = wav(tmp_path / "empty.wav", 0)
    assert audio_file_warnings(str(empty), 0, 16000) == [
        f"audio file '{empty}' holds no audio (0 samples)"]
    one = wav(tmp_path / "one.wav", 1)
    [warning] = audio_file_warnings(str(one), 1, 16000)
    assert "only 0.0001 s long (1 samples)" in warning
    cut = wav(tmp_path / "cut.wav", 32000, truncate_to=8000)
    data, rate = sf.read(cut)
    [warning] = audio_file_warnings(str(cut), len(data), rate)
    assert "truncated: 0.500 s of audio, its header promises 2.000 s" in warning
    assert audio_file_warnings(str(CLIP), *(lambda d, r: (len(d), r))(*sf.read(CLIP))) == []


def test_animate_warns_and_reports_the_real_duration(tmp_path: Path) -> None:
    one = wav(tmp_path / "one.wav", 1)
    out = subprocess.run(facewire_cmd("animate", str(one), "--out", str(tmp_path / "o"),
                                      "--no-plot"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "only 0.0001 s long" in out.stderr
    assert "0.0 s of audio" in out.stdout  # not the padded chunk's 1.0 s
