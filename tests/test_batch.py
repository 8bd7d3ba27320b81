"""``facewire batch`` on a real local Ray instance (one per module: starting Ray costs seconds).

Lines run in real Ray worker processes; the kill test SIGKILLs one of them mid-chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.batch.line import BatchOptions
from facewire.batch.manifest import Line, read_manifest
from facewire.offline import animate_file
from facewire.offline_words import animate_file_words
from tests.conftest import facewire_cmd

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'facewire[batch]')")

from facewire.batch.cluster import make_workers, run_lines, start_ray, stop_ray  # noqa: E402


def speech_like(seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * (2 + seed % 3) * t), 0, None) * (t > 0.1)
    return (0.3 * env * np.sign(np.sin(2 * np.pi * (110 + 10 * seed) * t))
            + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[str]:
    """A local instance with its own short temp folder (Unix socket paths are limited)."""
    temp = tempfile.mkdtemp(prefix="fwray-")
    start_ray(num_cpus=4, temp_dir=temp, object_store_mb=100)  # 2 for the CLI test
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        stop_ray()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def workers(ray_instance: str) -> list:
    return make_workers(2)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    folder.mkdir()
    for i in range(8):
        sf.write(folder / f"line{i}.wav", speech_like(0.4 + 0.15 * i, i), 16000)
    sf.write(folder / "line2.wav", spoken(LINE2), 16000)  # real words, with their transcript
    (folder / "line2.txt").write_text(LINE2)
    return folder


LINE2 = "Bob made a map of the moon."


def spoken(text: str) -> np.ndarray:
    """espeak-ng speech at 16 kHz (the words path needs speech that can be aligned)."""
    from scipy.signal import resample_poly

    from facewire.phones.espeak import EspeakUnavailable, shared_espeak

    try:
        u = shared_espeak().synth(text, "en-us", {"rate": 160})
    except EspeakUnavailable as exc:
        pytest.skip(str(exc))
    return resample_poly(u.audio, 320, 441).astype(np.float32)


def run_all(lines: list[Line], opts: BatchOptions, workers: list, chunk: int = 2
            ) -> dict[str, dict]:
    return {row["id"]: row for row in run_lines(lines, opts, workers, chunk)}


def test_lines_match_animate_and_failures_are_reported(library: Path, tmp_path: Path,
                                                        workers: list) -> None:
    (library / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage")
    (library / "line5.txt").write_text("bad \x07 transcript")
    out = tmp_path / "out"
    rows = run_all(read_manifest(library), BatchOptions(out=str(out), bag=True), workers)
    assert len(rows) == 9
    assert rows["corrupt"]["status"] == "failed" and rows["corrupt"]["attempts"] == 2
    assert "corrupt.wav" in rows["corrupt"]["reason"]
    assert rows["line5"]["status"] == "failed" and "control" in rows["line5"]["reason"]
    done = [r for r in rows.values() if r["status"] == "done"]
    assert len(done) == 7 and all(r["attempts"] == 1 for r in done)
    assert rows["line2"]["text"] == LINE2 and rows["line2"]["path"] == "transcript"
    assert len({r["pid"] for r in done}) == 2  # both workers took lines
    for i in (0, 2, 7):
        npz = np.load(out / f"line{i}.npz")
        wav = library / f"line{i}.wav"
        ref = animate_file_words(wav, warn=None) if i == 2 else animate_file(wav)
        assert npz["weights"].shape == ref.weights.shape
        assert np.abs(npz["weights"] - ref.weights).max() <= 1e-5
        assert (out / f"line{i}.csv").stat().st_size > 0 and (out / f"line{i}.mcap").is_file()
    assert not list(out.glob(".*.tmp")) and not (out / "corrupt.npz").exists()


def test_resume_skips_complete_lines_and_redoes_changed_ones(library: Path, tmp_path: Path,
                                                            workers: list) -> None:
    lines = read_manifest(library)
    opts = BatchOptions(out=str(tmp_path / "out"))
    assert {r["status"] for r in run_all(lines, opts, workers).values()} == {"done"}
    sf.write(library / "line3.wav", speech_like(0.9, 99), 16000)  # new audio
    (tmp_path / "out" / "line6.csv").unlink()  # an output lost
    again = run_all(lines, opts, workers)
    assert sorted(k for k, r in again.items() if r["status"] == "done") == ["line3", "line6"]
    assert all(r["status"] == "skipped" for k, r in again.items() if k not in ("line3", "line6"))
    forced = run_all(lines, BatchOptions(out=opts.out, force=True), workers)
    assert {r["status"] for r in forced.values()} == {"done"}
    changed = run_all([Line(id=ln.id, audio=ln.audio, text="new words") if ln.id == "line1"
                       else ln for ln in lines], opts, workers)
    assert [k for k, r in changed.items() if r["status"] == "done"] == ["line1"]


def test_a_killed_worker_loses_no_line(library: Path, tmp_path: Path, workers: list) -> None:
    for i in range(8, 24):
        shutil.copy(library / f"line{i % 8}.wav", library / f"line{i}.wav")
    lines = read_manifest(library)
    opts = BatchOptions(out=str(tmp_path / "out"))
    rows: dict[str, dict] = {}
    killed = None
    for row in run_lines(lines, opts, workers, chunk=6):
        rows[row["id"]] = row
        if killed is None:  # its worker is already busy with its next chunk
            killed = row["pid"]
            os.kill(killed, signal.SIGKILL)
    assert len(rows) == len(lines)
    failed = {k: (r["attempts"], r.get("reason")) for k, r in rows.items() if r["status"] != "done"}
    assert not failed, failed
    assert any(r["attempts"] == 2 for r in rows.values())  # the killed chunk came back
    assert killed not in {r["pid"] for r in rows.values() if r["attempts"] == 2}
    assert all((tmp_path / "out" / f"{ln.id}.take.json").is_file() for ln in lines)


def test_shipped_audio_gives_the_same_files(library: Path, tmp_path: Path,
                                            workers: list) -> None:
    lines = read_manifest(library)[:3]
    run_all(lines, BatchOptions(out=str(tmp_path / "a")), workers)
    rows = run_all(lines, BatchOptions(out=str(tmp_path / "b"), ship=True), workers)
    assert {r["status"] for r in rows.values()} == {"done"}
    for ln in lines:
        for suffix in (".csv", ".npz"):
            a = (tmp_path / "a" / f"{ln.id}{suffix}").read_bytes()
            assert a == (tmp_path / "b" / f"{ln.id}{suffix}").read_bytes()
    again = run_all(lines, BatchOptions(out=str(tmp_path / "b"), ship=True), workers)
    assert {r["status"] for r in again.values()} == {"skipped"}


def test_cli_joins_a_cluster_by_address(library: Path, tmp_path: Path,
                                        ray_instance: str) -> None:
    """The --address path of the two-node test, here on the module's local instance."""
    (library / "corrupt.wav").write_bytes(b"not audio")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio": str(p), "subject": "Ann"}) + "\n"
                                for p in sorted(library.glob("*.wav"))))
    out = tmp_path / "out"
    cmd = facewire_cmd("batch", str(manifest), "--out", str(out), "--address", ray_instance,
                       "--workers", "2")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # one line failed
    assert "corrupt" in done.stderr and "Traceback" not in done.stderr
    assert "8 done, 0 skipped, 1 failed" in done.stdout
    report = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
    assert len(report) == 9 and {r["subject"] for r in report if r["status"] == "done"} == {"Ann"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 8 and summary["failed"] == 1 and (out / "report.png").is_file()
