"""A line's files as bytes, and writing them so that a crash never leaves half a file.

The files are rendered in memory first: on shared storage the worker then writes them, and
without shared storage they travel back to the driver as bytes, so both modes write the
same bytes the same way. Each file goes to a temporary name and is renamed into place
(atomic on one file system); the ``.take.json`` record goes last and is what marks a line
complete for resumption.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np

from facewire.offline import Take
from facewire.rig.arkit import ARKIT_52

RECORD_SUFFIX = ".take.json"


def output_suffixes(bag: bool, plot: bool) -> list[str]:
    return [".csv", ".npz"] + ([".mcap"] if bag else []) + ([".png"] if plot else [])


def render_outputs(take: Take, bag: bool, plot: bool) -> dict[str, bytes]:
    """Suffix -> file bytes; the same content ``facewire animate`` writes."""
    from facewire.bridges.livelink_csv import write_livelink_csv

    files: dict[str, bytes] = {}
    text = io.StringIO()
    write_livelink_csv(text, take.weights, times=take.times, fps=take.fps)
    files[".csv"] = text.getvalue().encode("utf-8")
    buf = io.BytesIO()
    np.savez_compressed(buf, weights=take.weights, times=take.times, fps=take.fps,
                        names=np.array(ARKIT_52), **take.emotion_fields())
    files[".npz"] = buf.getvalue()
    if bag:
        from facewire.bag.writer import BagWriter

        with tempfile.TemporaryDirectory(prefix="facewire-bag-") as tmp:
            path = Path(tmp) / "take.mcap"
            with BagWriter(path) as writer:
                for topic, msg in take.messages:
                    writer.write(topic, msg, log_time_ns=msg.header.stamp_ns)
            files[".mcap"] = path.read_bytes()
    if plot:
        from facewire.animate_outputs import plot_take

        buf = io.BytesIO()
        plot_take(take, buf)
        files[".png"] = buf.getvalue()
    return files


def write_atomic(path: Path, data: bytes, fsync: bool = False) -> None:
    """Write to a temporary name beside ``path``, then rename over it: a killed process
    leaves the old file or the new one, never half of one. ``fsync`` also survives a power
    cut, at a few ms per file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_line_files(out: Path, line_id: str, files: dict[str, bytes], record: dict,
                     fsync: bool = False) -> None:
    """The outputs, then the record that says they are complete."""
    out.mkdir(parents=True, exist_ok=True)
    for suffix, data in files.items():
        write_atomic(out / f"{line_id}{suffix}", data, fsync)
    write_atomic(out / f"{line_id}{RECORD_SUFFIX}", json.dumps(record, sort_keys=True).encode(),
                 fsync)


def complete_record(out: Path, line_id: str, digest: str, suffixes: list[str]) -> dict | None:
    """The line's record when it matches ``digest`` and every output file is there."""
    try:
        record = json.loads((out / f"{line_id}{RECORD_SUFFIX}").read_text())
    except (OSError, ValueError):
        return None
    complete = record.get("digest") == digest and all(
        (out / f"{line_id}{s}").is_file() for s in suffixes)
    return record if complete else None
