"""What a batch animates: a CSV or JSONL manifest (one dialogue line per row), or a folder.

Columns: ``audio`` (required; relative paths are relative to the manifest), and optional
``id``, ``text``, ``subject`` (or ``character``), ``emotion``, ``intensity``, ``model``.
A folder means every audio file in it, each with its transcript from a sidecar
``<stem>.txt`` (or ``.lab``) when one exists. Errors name the row and the fix.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from facewire.messages.types import EMOTIONS

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
TRANSCRIPT_EXTENSIONS = (".txt", ".lab")
COLUMNS = ("audio", "id", "text", "subject", "character", "emotion", "intensity", "model")
SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
MAX_TEXT = 2000


class ManifestError(ValueError):
    """A manifest that cannot be read; the text names the row and the fix."""


@dataclass(frozen=True)
class Line:
    """One line of dialogue to animate."""

    id: str
    audio: str  # absolute path (shared storage) as the manifest named it
    text: str | None = None
    subject: str = ""
    emotion: str = ""
    intensity: float | None = None
    model: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def check_text(text: str) -> str:
    """A transcript the aligner can take, or ValueError saying what is wrong with it."""
    if not text.strip():
        raise ValueError("transcript is empty (leave the text column blank for none)")
    if len(text) > MAX_TEXT:
        raise ValueError(f"transcript is {len(text)} characters, more than {MAX_TEXT}: "
                         "split the line")
    if "\ufffd" in text:
        raise ValueError("transcript is not valid UTF-8: save it as UTF-8 text")
    bad = sorted({c for c in text if ord(c) < 32 and c not in "\t\n\r"})
    if bad:
        raise ValueError(f"transcript holds control characters {[hex(ord(c)) for c in bad]}: "
                         "save it as plain UTF-8 text")
    return text.strip()


def _line_from_row(row: dict, base: Path, where: str) -> Line:
    unknown = sorted(k for k in row if k not in COLUMNS)
    if unknown:
        raise ManifestError(f"{where}: unknown column(s) {unknown}; known: {', '.join(COLUMNS)}")
    audio = str(row.get("audio") or "").strip()
    if not audio:
        raise ManifestError(f"{where}: no 'audio' path; every row names its audio file")
    path = Path(audio).expanduser()
    path = path if path.is_absolute() else base / path
    line_id = str(row.get("id") or "").strip() or path.stem
    safe = SAFE_ID.sub("_", line_id)
    if safe in ("", ".", ".."):
        raise ManifestError(f"{where}: id {line_id!r} cannot name an output file")
    emotion = str(row.get("emotion") or "").strip()
    if emotion and emotion not in EMOTIONS:
        raise ManifestError(f"{where}: unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
    intensity = row.get("intensity")
    if intensity not in (None, ""):
        try:
            intensity = float(intensity)
        except (TypeError, ValueError):
            intensity = math.nan
        if not 0.0 <= intensity <= 1.0:
            raise ManifestError(f"{where}: intensity {row.get('intensity')!r} must be a number "
                                "in [0, 1]")
    else:
        intensity = None
    text = row.get("text")
    text = None if text is None or str(text) == "" else str(text)
    subject = str(row.get("subject") or row.get("character") or "").strip()
    return Line(id=safe, audio=str(path.resolve()), text=text, subject=subject,
                emotion=emotion, intensity=intensity, model=str(row.get("model") or "").strip())


def _rows_csv(path: Path) -> list[tuple[str, dict]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "audio" not in [n.strip() for n in reader.fieldnames]:
            raise ManifestError(f"{path}: the CSV header has no 'audio' column (first row must "
                                f"name the columns, e.g. audio,id,text)")
        return [(f"{path.name} row {i + 2}", {k.strip(): v for k, v in r.items()
                                              if k is not None})
                for i, r in enumerate(reader)]


def _rows_jsonl(path: Path) -> list[tuple[str, dict]]:
    rows = []
    for i, text in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not text.strip():
            continue
        where = f"{path.name} line {i + 1}"
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{where}: not JSON ({exc.msg}); one object per line") from None
        if not isinstance(row, dict):
            raise ManifestError(f"{where}: expected a JSON object like {{\"audio\": ...}}")
        rows.append((where, row))
    return rows


def _rows_folder(folder: Path) -> list[tuple[str, dict]]:
    rows = []
    for audio in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        row: dict = {"audio": str(audio), "id": str(audio.relative_to(folder).with_suffix(""))
                     .replace("/", "_")}
        for ext in TRANSCRIPT_EXTENSIONS:
            sidecar = audio.with_suffix(ext)
            if sidecar.is_file():
                # undecodable bytes become U+FFFD, which check_text reports for this line
                row["text"] = sidecar.read_text(encoding="utf-8", errors="replace")
                break
        rows.append((str(audio), row))
    return rows


def read_manifest(source: str | Path) -> list[Line]:
    """Lines from a .csv / .jsonl manifest or a folder of audio files."""
    path = Path(source).expanduser()
    if path.is_dir():
        rows, base = _rows_folder(path), path
        if not rows:
            raise ManifestError(f"{path}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) here")
    elif not path.is_file():
        raise ManifestError(f"{path}: no such manifest file or folder")
    elif path.suffix.lower() == ".csv":
        rows, base = _rows_csv(path), path.parent
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows, base = _rows_jsonl(path), path.parent
    else:
        raise ManifestError(f"{path}: a manifest is .csv or .jsonl (or pass a folder of audio)")
    lines = [_line_from_row(row, base, where) for where, row in rows]
    seen: dict[str, int] = {}
    for line in lines:
        seen[line.id] = seen.get(line.id, 0) + 1
    dupes = sorted(k for k, n in seen.items() if n > 1)
    if dupes:
        raise ManifestError(f"{path}: duplicate line id(s) {dupes[:5]}: give each row a "
                            "unique 'id' (outputs are named by it)")
    return lines
