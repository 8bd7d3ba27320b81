"""CLI and documentation defects, one test each (they must not come back)."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.cli import main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p.stem for p in (REPO / "facewire/launch/files").glob("*.yaml"))
DOCS = [REPO / "README.md", REPO / "bridge_unreal/README.md", REPO / "bridge_unity/README.md",
        *sorted((REPO / "docs").glob("*.md"))]


def _clip(path: Path, seconds: float, seed: int) -> Path:
    """A short real speech excerpt (the bundled clip) so animate has voice to work on."""
    data, rate = sf.read(REPO / "facewire/data/demo_clip.wav", dtype="float32")
    start = int(seed * 0.3 * rate)
    sf.write(path, data[start:start + int(seconds * rate)], rate)
    return path


def test_animate_keeps_inputs_apart_whose_names_differ_after_a_dot(tmp_path: Path) -> None:
    a = _clip(tmp_path / "c2.05.wav", 0.6, 0)
    b = _clip(tmp_path / "c2.5.wav", 0.6, 3)
    out = tmp_path / "out"
    assert main(["animate", str(a), str(b), "--out", str(out), "--no-plot"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["c2.05.csv", "c2.05.mcap", "c2.05.npz", "c2.5.csv", "c2.5.mcap", "c2.5.npz"]
    wa = np.load(out / "c2.05.npz")["weights"]
    wb = np.load(out / "c2.5.npz")["weights"]
    assert not np.array_equal(wa, wb), "each input keeps its own curves"


def test_animate_refuses_two_inputs_with_one_output_name(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _clip(tmp_path / "a/take.wav", 0.3, 0)
    b = _clip(tmp_path / "b/take.wav", 0.3, 1)
    out = tmp_path / "out"
    assert main(["animate", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "would both write" in err and "take" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_audio_devices_says_so_when_there_is_no_input(monkeypatch, capsys) -> None:
    """No microphone here to unplug: the device list PortAudio returns is replaced."""
    from facewire.audio import devices as audio_node
    from facewire.commands import audio

    monkeypatch.setattr(audio_node, "list_devices", lambda: [
        {"index": 0, "name": "HDMI out", "inputs": 0, "rate": 48000.0}])
    assert audio.devices(argparse.Namespace()) == 1
    captured = capsys.readouterr()
    assert "HDMI out" in captured.out
    assert "no audio input devices" in captured.err and "1 device" in captured.err

    monkeypatch.setattr(audio_node, "list_devices", lambda: [])
    assert audio.devices(argparse.Namespace()) == 1
    assert "none with inputs" in capsys.readouterr().err

    monkeypatch.setattr(audio_node, "list_devices", lambda: [
        {"index": 3, "name": "USB mic", "inputs": 1, "rate": 16000.0}])
    assert audio.devices(argparse.Namespace()) == 0
    assert "USB mic" in capsys.readouterr().out


def test_audio_devices_never_prints_nothing() -> None:
    """The real command on this machine: a device list or the sentence saying none."""
    proc = subprocess.run([sys.executable, "-m", "facewire", "audio", "devices"],
                          capture_output=True, text=True, timeout=60)
    assert (proc.stdout + proc.stderr).strip()
    assert "Traceback" not in proc.stderr


def test_demo_with_a_missing_file_is_one_line_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "facewire", "demo", "--path",
                           str(tmp_path / "missing.wav"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.wav" in lines[0] and "does not exist" in lines[0]


def _documented_launches() -> list[tuple[str, str]]:
    """(doc file, command) for every `facewire launch <bundled file> ...` line in a code block."""
    found = []
    for doc in DOCS:
        if not doc.exists():
            continue
        blocks = re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), flags=re.S)
        for block in blocks:
            for line in block.splitlines():
                line = line.split("#", 1)[0].strip().removesuffix("&").strip()  # background
                words = shlex.split(line) if line.startswith("facewire launch ") else []
                if len(words) > 2 and Path(words[2]).stem in BUNDLED:
                    found.append((str(doc.relative_to(REPO)), line))
    return found


DOCUMENTED = _documented_launches()


def test_docs_show_launch_commands() -> None:
    assert len(DOCUMENTED) >= 5, DOCUMENTED
    assert any(doc == "README.md" and "engine=unreal" in cmd for doc, cmd in DOCUMENTED)


@pytest.mark.parametrize("doc,command", DOCUMENTED, ids=[f"{d}:{c}" for d, c in DOCUMENTED])
def test_documented_launch_commands_are_accepted(doc: str, command: str, capsys) -> None:
    """Each documented launch line passes the launcher's own checks (--dry-run)."""
    argv = shlex.split(command)[1:] + ["--dry-run"]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse rejecting the syntax (e.g. ROS's `host:=`)
        rc = exc.code
    assert rc == 0, f"{doc}: `{command}` is rejected:\n{capsys.readouterr().err}"


def test_launch_docs_list_every_bundled_file() -> None:
    text = (REPO / "docs/launch.md").read_text()
    missing = [name for name in BUNDLED if f"`{name}`" not in text]
    assert not missing, f"docs/launch.md does not list {missing}"
