"""Real-data loaders on fixtures the tests build, and on ../shared/data when present."""

from __future__ import annotations

import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.rig.arkit import ARKIT_INDEX, LIVELINK_61
from facewire.train.data.loaders import (
    DataError,
    data_root,
    facegood_column_report,
    load_facegood,
    load_livelink_take,
    load_vocaset,
    parse_timecode,
)

SR = 16000


def _write_csv(path: Path, n: int = 30, step_frames: float = 2.0, drop: str = "",
               extra: str = "", upper: bool = False) -> list[str]:
    """A Live Link Face take: CSV order swaps JawLeft/JawRight and MouthLeft/MouthRight."""
    names = list(LIVELINK_61)
    for a, b in (("JawLeft", "JawRight"), ("MouthLeft", "MouthRight")):
        i, j = names.index(a), names.index(b)
        names[i], names[j] = names[j], names[i]
    names = [x for x in names if x != drop] + ([extra] if extra else [])
    head = ["Timecode", "BlendshapeCount" if upper else "BlendShapeCount"] + names
    if upper:
        head = [h.upper() for h in head]
    lines = [",".join(head)]
    for i in range(n):
        frame = 10 + i * step_frames
        tc = f"01:02:03:{int(frame):02d}.{int(round((frame % 1) * 1000)):03d}"
        vals = [0.0] * len(names)
        vals[names.index("JawOpen")] = i / n if "JawOpen" in names else 0
        if "JawLeft" in names:
            vals[names.index("JawLeft")] = 0.5
        lines.append(",".join([tc, "61"] + [f"{v:.4f}" for v in vals]))
    path.write_text("\n".join(lines) + "\n")
    return names


def _wav(path: Path, seconds: float) -> None:
    sf.write(str(path), np.zeros(int(seconds * SR), np.float32), SR)


def test_timecode() -> None:
    assert parse_timecode("00:00:01:30.500") == pytest.approx(1 + 30.5 / 60)
    with pytest.raises(ValueError):
        parse_timecode("1.5")


def test_livelink_take_by_name_and_resampled(tmp_path: Path) -> None:
    csv = tmp_path / "Slate_1_iPhone.csv"
    _write_csv(csv, n=30, step_frames=2.0, upper=True)  # a 30 fps take, header upper-case
    _wav(tmp_path / "Slate_1_iPhone.wav", 1.2)
    take = load_livelink_take(csv)
    assert take.curves.shape == (59, 52)  # 29 steps of 2/60 s -> 58/60 s at 60 fps
    jaw = take.curves[:, ARKIT_INDEX["jawOpen"]]
    assert jaw[2] == pytest.approx(1 / 30, abs=1e-4)  # frame 2 = CSV row 1
    assert jaw[1] == pytest.approx(0.5 / 30, abs=1e-4)  # interpolated between rows
    assert np.all(take.curves[:, ARKIT_INDEX["jawLeft"]] == 0.5)  # by name, not position
    assert np.all(take.curves[:, ARKIT_INDEX["jawRight"]] == 0.0)
    assert take.head is not None and take.head.shape == (59, 9)


def test_livelink_bad_columns_and_short_audio(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    _write_csv(csv, drop="MouthPucker")
    _wav(tmp_path / "t.wav", 2.0)
    with pytest.raises(DataError, match=r"t\.csv.*missing.*mouthPucker"):
        load_livelink_take(csv)
    _write_csv(csv, extra="Wobble")
    with pytest.raises(DataError, match=r"t\.csv.*unknown columns.*Wobble"):
        load_livelink_take(csv)
    _write_csv(csv, n=60)  # 2 s of curves
    _wav(tmp_path / "t.wav", 0.5)
    with pytest.raises(DataError, match=r"t\.wav.*shorter than its curves"):
        load_livelink_take(csv)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_livelink_audio_from_video(tmp_path: Path) -> None:
    csv = tmp_path / "take.csv"
    _write_csv(csv, n=20)
    mov = tmp_path / "take.mov"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5",
                    "-f", "lavfi", "-i", "color=c=black:s=32x32:d=1.5", "-shortest",
                    "-ac", "1", "-ar", "44100", str(mov)], check=True)
    take = load_livelink_take(csv)
    assert abs(len(take.audio) / SR - 1.5) < 0.1
    assert np.abs(take.audio).max() > 0.1


def _vocaset(root: Path, subjects: int = 2, v: int = 68) -> None:
    (root / "vertices_npy").mkdir(parents=True)
    (root / "wav").mkdir()
    rng = np.random.default_rng(0)
    temps = {}
    for s in range(subjects):
        subj = f"FaceTalk_170725_0013{s}_TA"
        temps[subj] = rng.standard_normal((v, 3)).astype(np.float32)
        for k in (1, 2):
            t = 30 + 10 * k
            seq = temps[subj][None] + 0.01 * rng.standard_normal((t, v, 3))
            np.save(root / "vertices_npy" / f"{subj}_sentence0{k}.npy", seq.reshape(t, -1))
            _wav(root / "wav" / f"{subj}_sentence0{k}.wav", t / 60 + 0.05)
    with open(root / "templates.pkl", "wb") as f:
        pickle.dump(temps, f)


def test_vocaset_format(tmp_path: Path) -> None:
    _vocaset(tmp_path)
    seqs = load_vocaset(tmp_path)
    assert len(seqs) == 4
    s = seqs[0]
    assert s.subject == "FaceTalk_170725_00130_TA" and s.sentence == "sentence01"
    assert s.frames.shape == (40, 68, 3)
    assert np.abs(s.displacements).max() < 0.1  # template subtracted per subject


def test_vocaset_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no vertex sequences"):
        load_vocaset(tmp_path)
    _vocaset(tmp_path, subjects=1)
    bad = tmp_path / "vertices_npy" / "FaceTalk_170725_00130_TA_sentence01.npy"
    np.save(bad, np.zeros((40, 100)))
    with pytest.raises(DataError, match="not V\\*3"):
        load_vocaset(tmp_path)


FACEGOOD = (data_root() or Path("/nonexistent")) / "facegood"
needs_facegood = pytest.mark.skipif(
    not (FACEGOOD / "bs_value").is_dir(),
    reason="FACEGOOD not found: set FACEWIRE_DATA or place ../shared/data/facegood",
)


@needs_facegood
def test_facegood_column_order_evidence() -> None:
    r = facegood_column_report(FACEGOOD)
    assert r["jaw_column"] == 74  # follows loudness (r ~ 0.75); others are below 0.4
    assert r["loudness_corr"][74] > 0.6
    names = (FACEGOOD / "bsname.txt").read_text().split()[1:]
    assert names[74 - 1] == "mouth_stretch_c"  # the shifted order names it the jaw source
    for a, b in r["identical_pairs"]:  # twins are _l/_r (or dl/dr, ul/ur) under the shift
        na, nb = names[a - 1], names[b - 1]
        assert na[:-1] == nb[:-1] and na != nb, (na, nb)


@needs_facegood
def test_facegood_loads_as_arkit_mouth() -> None:
    takes = load_facegood(FACEGOOD)
    assert len(takes) >= 1
    t = takes[0]
    assert t.curves.shape[1] == 52 and t.mask[ARKIT_INDEX["jawOpen"]]
    assert not t.mask[ARKIT_INDEX["eyeBlinkLeft"]]
    jaw = t.curves[:, ARKIT_INDEX["jawOpen"]]
    assert 0.05 < jaw.mean() < 0.3 and jaw.max() > 0.5
    assert abs(len(t.audio) / SR - len(t.curves) / 60) < 0.2


def test_the_data_root_defaults_to_shared_beside_the_checkout(monkeypatch) -> None:
    """Found without FACEWIRE_DATA when ../shared/data sits beside the repository (a module
    that moves deeper in the package must still find it)."""
    from facewire.train.data.loaders import REPO, data_root

    assert (REPO / "facewire" / "__init__.py").exists()
    monkeypatch.delenv("FACEWIRE_DATA", raising=False)
    beside = REPO.parent / "shared" / "data"
    assert data_root() == (beside if beside.is_dir() else None)
