"""Loaders for real captures: Live Link Face CSV takes, FACEGOOD pairs, VOCASET sequences.

All return audio as float32 mono at 16 kHz and curves as float32 ``[frames, 52]`` in
``ARKIT_52`` order at 60 fps (the project's frame rate), so training code sees one format.
Bad input fails with an error that names the file and the problem.
"""

from __future__ import annotations

import csv
import math
import os
import pickle
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from facewire.bridges.livelink_csv import parse_timecode  # noqa: F401  (re-exported)
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX, LIVELINK_61

SAMPLE_RATE = 16000
FPS = 60.0
REPO = Path(__file__).resolve().parents[3]  # the checkout: facewire/train/data/ is 3 below


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent; the message names the file."""


def data_root(flag: str | os.PathLike | None = None) -> Path | None:
    """Where real data lives: the flag, else $FACEWIRE_DATA (the shared folder holding
    ``data/`` and ``assets/``, or the data folder itself), else ../shared/data beside the
    repository if it exists; None when none is set or present."""
    if flag:
        return Path(flag)
    env = os.environ.get("FACEWIRE_DATA")
    if env:
        return Path(env) / "data" if (Path(env) / "data").is_dir() else Path(env)
    default = REPO.parent / "shared" / "data"
    return default if default.is_dir() else None


# --------------------------------------------------------------------------- audio


def _to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return x.astype(np.float32)
    g = math.gcd(int(sr), SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, int(sr) // g).astype(np.float32)


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """A wav (or anything soundfile reads) or a video/other file through ffmpeg -> 16 kHz mono."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: audio file not found")
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return _to_16k(x.mean(axis=1), sr)
    except (RuntimeError, sf.LibsndfileError):
        pass
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise DataError(f"{path}: not a sound file, and ffmpeg is not installed to decode it")
    res = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar",
                          str(SAMPLE_RATE), "-f", "s16le", "-"], capture_output=True)
    if res.returncode != 0 or not res.stdout:
        msg = res.stderr.decode(errors="replace").strip().splitlines()
        raise DataError(f"{path}: ffmpeg could not decode audio ({msg[-1] if msg else 'no audio'})")
    return np.frombuffer(res.stdout, "<i2").astype(np.float32) / 32768.0


def resample_curves(curves: np.ndarray, times: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Curves sampled at ``times`` (s, increasing) -> a uniform grid at ``fps`` from 0."""
    n = int(math.floor(times[-1] * fps + 1e-6)) + 1
    grid = np.arange(n) / fps
    out = np.empty((n, curves.shape[1]), np.float32)
    for k in range(curves.shape[1]):
        out[:, k] = np.interp(grid, times, curves[:, k])
    return out


def _check_audio_covers(path: Path, audio: np.ndarray, n_frames: int, fps: float,
                        tolerance: float = 0.1) -> None:
    need = n_frames / fps
    have = len(audio) / SAMPLE_RATE
    if have + tolerance < need:
        raise DataError(f"{path}: audio is {have:.2f}s, shorter than its curves ({need:.2f}s)")


# --------------------------------------------------------------------------- Live Link Face


@dataclass
class Take:
    """One capture: ARKit curves at 60 fps with the audio that goes with them."""

    name: str
    curves: np.ndarray  # [T, 52] float32, ARKIT_52 order
    audio: np.ndarray  # float32 mono 16 kHz, sample 0 at frame 0
    fps: float = FPS
    head: np.ndarray | None = None  # [T, 9] head and eye rotations (degrees / 180) if present
    mask: np.ndarray = field(default_factory=lambda: np.ones(52, bool))  # curves with data
    source: str = ""


def read_livelink_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A Live Link Face CSV -> (times s from the first row, curves [N, 52], head [N, 9]|None).

    Parsing is the bridges' reader (one reader for import and training); training is
    stricter on top: every ARKit curve must be present (a missing one would train as 0),
    and an unknown column is an error naming the file and the columns.
    """
    from facewire.bridges.livelink_csv import read_livelink_csv as read_take

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: CSV not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = [h.strip() for h in next(csv.reader(f), [])]
    low = {h.lower() for h in header}
    known = {n.lower() for n in LIVELINK_61} | {"timecode", "blendshapecount"}
    unknown = [h for h in header if h and h.lower() not in known]
    if unknown:
        raise DataError(f"{path}: unknown columns {unknown}")
    missing = [n for n in ARKIT_52 if n.lower() not in low]
    if missing:
        raise DataError(f"{path}: missing blendshape columns {missing}")
    try:
        take = read_take(path)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    if len(take.times) == 0:
        raise DataError(f"{path}: header only, no frames")
    times = take.times - take.times[0]
    if np.any(np.diff(times) <= 0):
        raise DataError(f"{path}: timecodes do not increase")
    has_head = all(n.lower() in low for n in LIVELINK_61[52:])
    head = (take.rotations / 180.0).astype(np.float32) if has_head else None
    return times, take.weights, head


def _find_take_audio(csv_path: Path) -> Path | None:
    """The take's wav or video: same stem (without _cal/_raw/_neutral), or the only one."""
    stem = re.sub(r"_(cal|raw|neutral)$", "", csv_path.stem)
    exts = (".wav", ".flac", ".mov", ".mp4", ".m4a")
    for ext in exts:
        cand = csv_path.with_name(stem + ext)
        if cand.exists():
            return cand
    others = [p for p in csv_path.parent.iterdir() if p.suffix.lower() in exts]
    return others[0] if len(others) == 1 else None


def load_livelink_take(csv_path: str | os.PathLike, audio_path: str | os.PathLike | None = None
                       ) -> Take:
    """A Live Link Face take: CSV curves resampled to 60 fps and its audio (wav, or the
    take's video through ffmpeg), both starting at the first CSV frame."""
    csv_path = Path(csv_path)
    times, curves, head = read_livelink_csv(csv_path)
    audio_file = Path(audio_path) if audio_path else _find_take_audio(csv_path)
    if audio_file is None:
        raise DataError(f"{csv_path}: no audio or video beside the take (pass one)")
    audio = load_audio(audio_file)
    grid = resample_curves(curves, times)
    head_grid = resample_curves(head, times) if head is not None else None
    _check_audio_covers(audio_file, audio, len(grid), FPS)
    return Take(csv_path.stem, grid, audio, FPS, head_grid, np.ones(52, bool), str(csv_path))


def load_livelink_folder(folder: str | os.PathLike) -> list[Take]:
    """Every take (``*.csv`` except calibration/neutral ones) in a folder."""
    folder = Path(folder)
    csvs = sorted(p for p in folder.glob("*.csv") if not p.stem.endswith(("_cal", "_neutral")))
    if not csvs:
        raise DataError(f"{folder}: no Live Link Face CSV takes")
    return [load_livelink_take(p) for p in csvs]


# --------------------------------------------------------------------------- FACEGOOD

FACEGOOD_FPS = 30.0
# The bs_value arrays have one more column than the 116 names would need at their index:
# column c holds curve bsname[c - 1] (column 0 is unnamed and constant). Verified from data
# in docs/data.md: with this shift all 11 identical column pairs are _l/_r twins and the
# loudness-following column is mouth_stretch_c, the jawOpen source of upstream's table.
FACEGOOD_SHIFT = 1

# ARKit curve <- FACEGOOD curves (max over them), rows marked 'valid' in
# Voice2Face_blendshape2ARkit.xlsx: the jaw and mouth, the part the data animates.
FACEGOOD_TO_ARKIT: dict[str, tuple[str, ...]] = {
    "jawForward": ("jaw_thrust_c",), "jawLeft": ("jaw_sideways_l",),
    "jawRight": ("jaw_sideways_r",), "jawOpen": ("mouth_stretch_c",),
    "mouthClose": ("mouth_chew_c",),
    "mouthFunnel": ("mouth_funnel_dl", "mouth_funnel_dr", "mouth_funnel_ul", "mouth_funnel_ur"),
    "mouthPucker": ("mouth_pucker_l", "mouth_pucker_r"),
    "mouthLeft": ("mouth_sideways_l",), "mouthRight": ("mouth_sideways_r",),
    "mouthSmileLeft": ("mouth_lipCornerPull_l",), "mouthSmileRight": ("mouth_lipCornerPull_r",),
    "mouthFrownLeft": ("mouth_lipCornerDepress_l", "mouth_lipCornerDepressFix_l"),
    "mouthFrownRight": ("mouth_lipCornerDepress_r", "mouth_lipCornerDepressFix_r"),
    "mouthDimpleLeft": ("mouth_dimple_l",), "mouthDimpleRight": ("mouth_dimple_r",),
    "mouthStretchLeft": ("mouth_lipStretch_l",), "mouthStretchRight": ("mouth_lipStretch_r",),
    "mouthRollLower": ("mouth_suck_dl", "mouth_suck_dr"),
    "mouthRollUpper": ("mouth_suck_ul", "mouth_suck_ur"),
    "mouthShrugLower": ("mouth_chinRaise_d",), "mouthShrugUpper": ("mouth_chinRaise_u",),
    "mouthPressLeft": ("mouth_press_l",), "mouthPressRight": ("mouth_press_r",),
    "mouthLowerDownLeft": ("mouth_lowerLipDepress_l",),
    "mouthLowerDownRight": ("mouth_lowerLipDepress_r",),
    "mouthUpperUpLeft": ("mouth_upperLipRaise_l",),
    "mouthUpperUpRight": ("mouth_upperLipRaise_r",),
}


def facegood_names(folder: str | os.PathLike) -> list[str]:
    """The 116 curve names in upstream's order (bsname.txt: a count line, then names)."""
    path = Path(folder) / "bsname.txt"
    if not path.exists():
        raise DataError(f"{path}: not found")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if lines and lines[0].isdigit():
        count, names = int(lines[0]), lines[1:]
        if count != len(names):
            raise DataError(f"{path}: says {count} names but lists {len(names)}")
        return names
    return lines


def facegood_columns(folder: str | os.PathLike, shift: int = FACEGOOD_SHIFT) -> dict[str, int]:
    """Curve name -> bs_value column under the verified order."""
    names = facegood_names(folder)
    return {n: i + shift for i, n in enumerate(names) if i + shift < len(names)}


def facegood_to_arkit(values: np.ndarray, columns: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """FACEGOOD frames ``[T, 116]`` -> ARKit ``[T, 52]`` and the mask of curves it sets."""
    out = np.zeros((len(values), 52), np.float32)
    mask = np.zeros(52, bool)
    for arkit, sources in FACEGOOD_TO_ARKIT.items():
        cols = [columns[s] for s in sources if s in columns]
        if cols:
            out[:, ARKIT_INDEX[arkit]] = np.clip(values[:, cols].max(axis=1), 0, 1)
            mask[ARKIT_INDEX[arkit]] = True
    return out, mask


def _upsample(values: np.ndarray, fps_in: float, fps: float = FPS) -> np.ndarray:
    times = np.arange(len(values)) / fps_in
    return resample_curves(values, times, fps)


def load_facegood(root: str | os.PathLike | None = None) -> list[Take]:
    """FACEGOOD clips (Mandarin, one speaker) as ARKit mouth curves at 60 fps.

    ``root`` is the facegood folder or a data root containing ``facegood/``. Only the
    jaw/mouth curves are set (``Take.mask``); the rest are zero and must not be trained on.
    """
    folder = Path(root) if root else data_root()
    if folder is None:
        raise DataError("no data root: pass a folder or set FACEWIRE_DATA")
    if (folder / "facegood").is_dir():
        folder = folder / "facegood"
    value_dir = folder / "bs_value"
    files = sorted(value_dir.glob("bs_value_*.npy"))
    if not files:
        raise DataError(f"{value_dir}: no bs_value_*.npy files")
    columns = facegood_columns(folder)
    takes = []
    for f in files:
        clip = f.stem.removeprefix("bs_value_")
        values = np.load(f)
        if values.ndim != 2 or values.shape[1] != len(columns) + FACEGOOD_SHIFT:
            raise DataError(f"{f}: expected [frames, {len(columns) + FACEGOOD_SHIFT}], "
                            f"got {values.shape}")
        wav = folder / "wav" / f"{clip}.wav"
        audio = load_audio(wav)
        curves, mask = facegood_to_arkit(_upsample(values, FACEGOOD_FPS), columns)
        _check_audio_covers(wav, audio, len(curves), FPS)
        takes.append(Take(clip, curves, audio, FPS, None, mask, str(f)))
    return takes


def loudness_envelope(audio: np.ndarray, fps: float, n: int) -> np.ndarray:
    """Log RMS per frame: what the jaw follows most closely in speech."""
    hop = int(round(SAMPLE_RATE / fps))
    x = np.pad(audio, (0, max(0, n * hop - len(audio))))[: n * hop].reshape(n, hop)
    return np.log(np.sqrt(np.mean(x**2, axis=1)) + 1e-4)


def facegood_column_report(root: str | os.PathLike | None = None) -> dict:
    """The evidence for the column order (docs/data.md): varying columns, their best
    correlation with loudness (lags up to +-3 frames), and identical column pairs."""
    folder = Path(root) if root else data_root()
    if folder is not None and (folder / "facegood").is_dir():
        folder = folder / "facegood"
    if folder is None:
        raise DataError("no data root")
    xs, ls = [], []
    for f in sorted((folder / "bs_value").glob("bs_value_*.npy")):
        v = np.load(f)
        a = load_audio(folder / "wav" / f"{f.stem.removeprefix('bs_value_')}.wav")
        n = min(len(v), int(len(a) / SAMPLE_RATE * FACEGOOD_FPS))
        xs.append(v[:n])
        ls.append(loudness_envelope(a, FACEGOOD_FPS, n))
    x, loud = np.concatenate(xs), np.concatenate(ls)
    varying = [int(c) for c in np.nonzero(x.std(axis=0) > 1e-6)[0]]
    corr = {}
    for c in varying:
        corr[c] = max(float(np.corrcoef(np.roll(x[:, c], k), loud)[0, 1]) for k in range(-3, 4))
    pairs = [(a, b) for a, b in zip(varying, varying[1:])
             if b == a + 1 and np.corrcoef(x[:, a], x[:, b])[0, 1] > 0.99]
    return {"frames": len(x), "varying": varying, "loudness_corr": corr, "identical_pairs": pairs,
            "jaw_column": max(corr, key=corr.get)}


# --------------------------------------------------------------------------- VOCASET


@dataclass
class MeshSequence:
    """One spoken sentence as vertex (or landmark) positions per frame, with its audio."""

    subject: str
    sentence: str
    frames: np.ndarray  # [T, V, 3] float32
    audio: np.ndarray  # float32 mono 16 kHz
    fps: float
    template: np.ndarray | None = None  # [V, 3] the subject's neutral

    @property
    def displacements(self) -> np.ndarray:
        """Per-frame offsets from the subject's neutral (what S2L/S2D learn)."""
        if self.template is None:
            raise DataError(f"{self.subject}: no template to subtract")
        return self.frames - self.template[None]


def load_vocaset(root: str | os.PathLike, fps: float = FPS,
                 vertices_dir: str = "vertices_npy", wav_dir: str = "wav",
                 templates: str = "templates.pkl") -> list[MeshSequence]:
    """VOCASET in the per-sentence layout used by FaceFormer and its successors::

        root/vertices_npy/<subject>_<sentence>.npy   [T, V*3] (or [T, V, 3]) at ``fps``
        root/wav/<subject>_<sentence>.wav
        root/templates.pkl                           {subject: [V, 3]} (optional)

    Subjects are named like ``FaceTalk_170725_00137_TA``; the sentence is the last
    ``_``-separated part (``sentence01``). Works for 68-landmark sequences too (V = 68).
    """
    root = Path(root)
    vdir = root / vertices_dir
    files = sorted(vdir.glob("*.npy"))
    if not files:
        raise DataError(f"{vdir}: no vertex sequences (*.npy)")
    temps: dict = {}
    tpath = root / templates
    if tpath.exists():
        with open(tpath, "rb") as f:
            temps = pickle.load(f, encoding="latin1")
    out = []
    for f in files:
        subject, _, sentence = f.stem.rpartition("_")
        if not subject:
            raise DataError(f"{f}: name is not <subject>_<sentence>.npy")
        arr = np.load(f).astype(np.float32)
        if arr.ndim == 2:
            if arr.shape[1] % 3:
                raise DataError(f"{f}: {arr.shape[1]} values per frame is not V*3")
            arr = arr.reshape(len(arr), -1, 3)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise DataError(f"{f}: expected [T, V*3] or [T, V, 3], got {arr.shape}")
        wav = root / wav_dir / f"{f.stem}.wav"
        audio = load_audio(wav)
        _check_audio_covers(wav, audio, len(arr), fps)
        template = temps.get(subject)
        if template is not None:
            template = np.asarray(template, np.float32).reshape(-1, 3)
            if template.shape[0] != arr.shape[1]:
                raise DataError(f"{tpath}: template of {subject} has {template.shape[0]} "
                                f"vertices, {f.name} has {arr.shape[1]}")
        out.append(MeshSequence(subject, sentence, arr, audio, fps, template))
    return out
