"""The Unity package's Runtime C#, compiled with mono's mcs against tests/unity_stub, receives
real Live Link Face packets from the Python LiveLinkSender and applies them to fake meshes."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facewire.bridges.livelink import LiveLinkEncoder, LiveLinkSender
from facewire.rig.arkit import ARKIT_52, LIVELINK_61

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "unity_stub"
RUNTIME = ROOT / "bridge_unity" / "Runtime"
SAMPLE = ROOT / "bridge_unity" / "Samples~" / "BasicReceiver"

pytestmark = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None,
    reason="needs Debian's mono C# compiler and runtime (apt-get install mono-mcs mono-runtime)",
)


def mcs(*args: str) -> None:
    proc = subprocess.run(["mcs", "-nologo", "-warnaserror+", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unity")
    mcs("-target:library", f"-out:{out / 'UnityEngine.dll'}", str(STUB / "UnityEngine.cs"))
    runtime = sorted(str(p) for p in RUNTIME.glob("*.cs"))
    mcs(f"-r:{out / 'UnityEngine.dll'}", f"-out:{out / 'harness.exe'}", *runtime, str(STUB / "Harness.cs"))
    return out / "harness.exe"


def test_sample_compiles(harness):
    sources = sorted(str(p) for p in [*RUNTIME.glob("*.cs"), *SAMPLE.glob("*.cs")])
    mcs("-target:library", f"-r:{harness.parent / 'UnityEngine.dll'}", f"-out:{harness.parent / 'sample.dll'}", *sources)


ADA = {
    "jawOpen": 0.4, "mouthSmileLeft": 0.25, "mouthSmileRight": 0.75, "eyeBlinkLeft": 0.5,
    "eyeBlinkRight": 0.125, "browInnerUp": 0.3, "tongueOut": 0.9, "mouthClose": 0.8,
    "mouthPucker": 0.6, "cheekPuff": 0.7, "mouthFunnel": 0.35,
}


def vector(values: dict[str, float]) -> np.ndarray:
    w = np.zeros(52)
    for k, v in values.items():
        w[ARKIT_52.index(k)] = v
    return w


def bad_packets() -> list[bytes]:
    good = LiveLinkEncoder("Ada").encode(vector(ADA), 0.0)
    v5 = bytes([5]) + good[1:]
    count60 = bytearray(good)
    count60[len(good) - 61 * 4 - 1] = 60
    return [v5, good[:200], bytes(count60), good + b"\x00\x00\x00\x00", v5]


def test_receiver_applies_packets_from_python(harness):
    proc = subprocess.Popen(
        ["mono", str(harness), "0", "183"], cwd=harness.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip("\n"))
            if line.startswith(("READY", "FAIL")):
                break
        assert lines and lines[-1].startswith("READY"), "\n".join(lines)
        port = int(lines[-1].split()[1])
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for p in bad_packets():
            raw.sendto(p, ("127.0.0.1", port))
        raw.close()
        with LiveLinkSender("127.0.0.1", port, subject="Ada", fps=60) as tx:
            tx.add_subject("Bob")
            tx.send(vector({"jawOpen": 0.2}), 0.0, subject="Bob")
            for k in range(4):
                tx.send(vector(ADA), 3.0 + k / 60, rotations=[45.0, 0, 0, 0, 0, 0, 0, 0, 0])
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines += out.splitlines()
    text = "\n".join(lines)
    assert proc.returncode == 0 and "DONE" in lines, text

    weights: dict[tuple[str, str], float] = {}
    for line in lines:
        if line.startswith("W "):
            _, renderer, shape, value = line.split()
            weights[renderer, shape] = float(value)
    face = {s: v for (r, s), v in weights.items() if r == "Face"}
    face2 = {s: v for (r, s), v in weights.items() if r == "Face2"}
    approx = pytest.approx

    # Receiver A: name matching in several styles, 0-100 scale, profile gain, clamp.
    assert face["blendShape1.jawOpen"] == approx(40.0)
    assert face["MouthSmile_L"] == approx(25.0) and face["mouthSmileRight"] == approx(75.0)
    assert face["EyeBlinkLeft"] == approx(50.0) and face["eye_blink_right"] == approx(12.5)
    assert face["BROWINNERUP"] == approx(30.0) and face["ARKit_TongueOut"] == approx(90.0)
    assert face["Lips_Closed"] == approx(100.0)  # 0.8 x gain 2 = 160, clamped to 100
    assert face["mouthPucker"] == approx(30.0)  # per-shape gain 0.5
    assert face["cheekPuff"] == 0.0  # disabled in the profile
    assert face["mouth_funnel"] == approx(35.0)
    assert face["Unrelated"] == 7.0  # never touched
    assert weights["Teeth", "blendShape2.JawOpen"] == approx(40.0)
    assert weights["Teeth", "Teeth_Other"] == 0.0
    # Receiver B, same subject: mirrored, global gain 2.5, no clamp, no profile.
    assert face2["MouthSmile_L"] == approx(187.5) and face2["mouthSmileRight"] == approx(62.5)
    assert face2["EyeBlinkLeft"] == approx(31.25) and face2["eye_blink_right"] == approx(125.0)
    assert face2["ARKit_TongueOut"] == approx(225.0) and face2["cheekPuff"] == approx(175.0)
    assert face2["Lips_Closed"] == 0.0  # no profile: "Lips_Closed" is not an ARKit name
    # Receiver C follows its own subject on the same port.
    assert weights["BobFace", "jawOpen"] == approx(20.0)

    frame = next(line for line in lines if line.startswith("FRAME")).split()
    assert frame[1:6] == ["Ada", "183", "0", "60", "1"] and len(frame[6]) == 36
    assert "RECEIVED 5" in lines and "REJECTED 5" in lines
    assert float(next(line for line in lines if line.startswith("HEADYAW")).split()[1]) == approx(45.0)
    warnings = [line for line in lines if line.startswith("WARN")]
    assert len([w for w in warnings if "WrongVersion" in w]) == 1, warnings  # two sent, warned once
    assert any("(version 5, expected 6)" in w for w in warnings)
    assert any("TooShort" in w for w in warnings) and any("WrongCount" in w for w in warnings)
    assert any("TrailingBytes" in w for w in warnings)


def test_packet_layout_constants_agree():
    """The C# constants are the Python ones (checked from source text, no mono needed)."""
    src = (RUNTIME / "LiveLinkFacePacket.cs").read_text()
    assert "MaxPacketBytes = 1286" in src
    names = src.split("Names =")[1].split("};")[0]
    assert [n.strip().strip('"') for n in names.replace("{", "").split(",") if n.strip()] == list(LIVELINK_61)
