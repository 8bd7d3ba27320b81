"""Live Link Face CSV takes: our writer, our reader, and a hand-written phone-style take."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from facewire.bridges.livelink_csv import (
    format_timecode,
    parse_timecode,
    read_livelink_csv,
    take_filename,
    write_livelink_csv,
)
from facewire.rig.arkit import ARKIT_52

# Column order of a phone take, written by hand: JawRight before JawLeft, MouthRight
# before MouthLeft.
PHONE_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,"
    "EyeLookUpLeft,EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,"
    "EyeLookOutRight,EyeLookUpRight,EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,"
    "JawOpen,MouthClose,MouthFunnel,MouthPucker,MouthRight,MouthLeft,MouthSmileLeft,"
    "MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,MouthDimpleRight,"
    "MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,"
    "MouthUpperUpLeft,MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,"
    "BrowOuterUpRight,CheekPuff,CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,"
    "TongueOut,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,"
    "RightEyePitch,RightEyeRoll"
)


def phone_take() -> str:
    cols = PHONE_HEADER.split(",")[2:]
    rows = [PHONE_HEADER.replace("BlendShapeCount", "BlendshapeCount")]
    for k, tc in enumerate(["15:31:07:24.487", "15:31:07:26.493"]):
        vals = ["0"] * 61
        vals[cols.index("JawRight")] = "0.1"
        vals[cols.index("JawLeft")] = "0.2"
        vals[cols.index("MouthRight")] = "0.3"
        vals[cols.index("MouthLeft")] = "0.4"
        vals[cols.index("JawOpen")] = f"{0.5 + 0.1 * k}"
        vals[cols.index("HeadYaw")] = "0.25"
        rows.append(",".join([tc, "61", *vals]))
    return "\n".join(rows) + "\n"


def test_hand_written_phone_take_maps_by_name():
    take = read_livelink_csv(io.StringIO(phone_take()))
    i = ARKIT_52.index
    assert take.weights.shape == (2, 52) and take.weights.dtype == np.float32
    assert take.weights[0, i("jawRight")] == pytest.approx(0.1)
    assert take.weights[0, i("jawLeft")] == pytest.approx(0.2)
    assert take.weights[0, i("mouthRight")] == pytest.approx(0.3)
    assert take.weights[0, i("mouthLeft")] == pytest.approx(0.4)
    np.testing.assert_allclose(take.weights[:, i("jawOpen")], [0.5, 0.6])
    assert take.rotations[0, 0] == pytest.approx(45.0)  # 0.25 * 180 degrees
    assert take.times[0] == pytest.approx(15 * 3600 + 31 * 60 + 7 + 24.487 / 60)
    assert take.times[1] - take.times[0] == pytest.approx(2.006 / 60)


def test_writer_header_is_phone_order():
    f = io.StringIO()
    write_livelink_csv(f, np.zeros((1, 52)))
    header = f.getvalue().splitlines()[0]
    assert header == PHONE_HEADER


def test_round_trip():
    rng = np.random.default_rng(0)
    w = rng.random((30, 52))
    r = rng.uniform(-60, 60, (30, 9))
    f = io.StringIO()
    write_livelink_csv(f, w, rotations=r, fps=30, start=12.0)
    f.seek(0)
    take = read_livelink_csv(f)
    np.testing.assert_allclose(take.weights, w, atol=1e-6)
    np.testing.assert_allclose(take.rotations, r, atol=1e-3)
    np.testing.assert_allclose(take.times, 12.0 + np.arange(30) / 30, atol=1e-5)
    assert take.fps == pytest.approx(30.0, rel=1e-4)
    lines = f.getvalue().splitlines()
    assert lines[1].startswith("00:00:12:00.000,61,") and lines[2].startswith("00:00:12:02.000,")


def test_shuffled_lowercase_columns(tmp_path):
    f = io.StringIO()
    w = np.random.default_rng(1).random((3, 52))
    write_livelink_csv(f, w)
    rows = list(csv.reader(io.StringIO(f.getvalue())))
    order = [0, 1, *np.random.default_rng(2).permutation(np.arange(2, len(rows[0]))).tolist()]
    path = tmp_path / "Slate_1_Actor.csv"
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([rows[0][j].lower() for j in order])
        for row in rows[1:]:
            writer.writerow([row[j] for j in order])
    np.testing.assert_allclose(read_livelink_csv(path).weights, w, atol=1e-6)


def test_clamps_on_write_and_rejects_garbage():
    f = io.StringIO()
    w = np.zeros((1, 52))
    w[0, 0], w[0, 1] = np.nan, 3.0
    write_livelink_csv(f, w)
    f.seek(0)
    take = read_livelink_csv(f)
    assert take.weights[0, 0] == 0.0 and take.weights[0, 1] == 1.0
    with pytest.raises(ValueError, match="Timecode"):
        read_livelink_csv(io.StringIO("a,b\n1,2\n"))
    bad = phone_take().replace("0.5", "zero point five")
    with pytest.raises(ValueError, match="row 1"):
        read_livelink_csv(io.StringIO(bad))


def test_timecode_helpers():
    assert format_timecode(3661.5) == "01:01:01:30.000"
    assert format_timecode(59.99999) == "00:00:59:59.999"
    assert parse_timecode("01:01:01:30.000") == pytest.approx(3661.5)
    assert take_filename("Slate", 3, "iPhone", "cal") == "Slate_3_iPhone_cal.csv"
