"""Batch manifests: CSV, JSONL and folders in; one clear error per mistake."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from facewire.batch.manifest import ManifestError, check_text, read_manifest
from tests.conftest import facewire_cmd


def test_csv_manifest_resolves_paths_and_columns(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "m.csv").write_text(
        "audio,id,text,character,emotion,intensity\n"
        "a.wav,hero/001,Hello there.,Hero,happy,0.5\n"
        "/abs/b.wav,,,,,\n")
    first, second = read_manifest(tmp_path / "m.csv")
    assert first.audio == str((tmp_path / "a.wav").resolve())
    assert first.id == "hero_001"  # an id names files: no path separators
    assert (first.text, first.subject, first.emotion, first.intensity) == (
        "Hello there.", "Hero", "happy", 0.5)
    assert second.id == "b" and second.text is None and second.intensity is None


def test_jsonl_manifest(tmp_path: Path) -> None:
    rows = [{"audio": "x.wav", "text": "one"}, {"audio": "y.flac", "subject": "Ann"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    lines = read_manifest(tmp_path / "m.jsonl")
    assert [ln.id for ln in lines] == ["x", "y"] and lines[1].subject == "Ann"


def test_folder_takes_sidecar_transcripts(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.wav", "sub/b.wav", "notes.md"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "sub" / "b.lab").write_bytes(b"\xff\xfe bad")
    a, b = read_manifest(tmp_path)
    assert (a.id, a.text, b.id) == ("a", "alpha\n", "sub_b")
    with pytest.raises(ValueError, match="UTF-8"):
        check_text(b.text)


@pytest.mark.parametrize("content,match", [
    ("id,text\nx,y\n", "no 'audio' column"),
    ("audio,emotion\na.wav,gleeful\n", "unknown emotion 'gleeful'"),
    ("audio,intensity\na.wav,2\n", "intensity '2' must be a number in"),
    ("audio,speaker\na.wav,x\n", "unknown column"),
    ("audio,id\na.wav,1\nb.wav,1\n", "duplicate line id"),
    ("audio\n\"\"\n", "no 'audio' path"),
])
def test_bad_csv_manifests_name_the_problem(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(ManifestError, match=match):
        read_manifest(tmp_path / "m.csv")


def test_bad_transcripts() -> None:
    assert check_text("  Hi.  ") == "Hi."
    for text, match in (("   ", "empty"), ("a\x00b", "control"), ("x" * 3000, "split")):
        with pytest.raises(ValueError, match=match):
            check_text(text)


def test_cli_reports_a_bad_manifest_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text('{"audio": "a.wav"}\nnot json\n')
    done = subprocess.run(facewire_cmd("batch", str(tmp_path / "m.jsonl"), "--out",
                                       str(tmp_path / "out")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "line 2: not JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_fails_fast_on_an_address_nobody_listens_at(tmp_path: Path) -> None:
    import socket

    (tmp_path / "a.wav").write_bytes(b"")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = subprocess.run(facewire_cmd("batch", str(tmp_path), "--out", str(tmp_path / "out"),
                                       "--address", f"127.0.0.1:{port}"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "nothing answers at 127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr
