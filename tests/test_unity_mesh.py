"""The Unity package's dense mesh stream: MeshDeform frames sent by the Python bridge node as
real UDP datagrams, reassembled and applied to fake meshes by the Runtime C# under mono."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facewire.bridges.unity_mesh import MeshStreamError, encode_frame
from facewire.messages.base import Header
from facewire.messages.types import MeshDeform
from facewire.nodes.bridge_unity_mesh import UnityMeshBridge
from facewire.testing import local_graph

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "unity_stub"
RUNTIME = ROOT / "bridge_unity" / "Runtime"
needs_mono = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None,
    reason="needs Debian's mono C# compiler and runtime (apt-get install mono-mcs mono-runtime)")


def test_frames_are_split_into_datagrams_that_do_not_fragment():
    d = np.arange(26719 * 3, dtype=np.float32).reshape(-1, 3)
    packets = encode_frame(d, 7, 1.25, 0.01, "Ada", 1400)
    assert max(len(p) for p in packets) <= 1400
    assert len(packets) == -(-26719 // ((1400 - 37 - 3) // 12))
    # reassemble in Python from the documented layout
    out = np.zeros_like(d)
    for k, p in enumerate(packets):
        magic, ver, _, idx, count, frame, n, first, m, t, mpu = struct.unpack_from(
            "<4sBBHHIIIHdf", p)
        assert (magic, ver, idx, count, frame, n, t) == (b"FWMD", 1, k, len(packets), 7, 26719,
                                                         1.25)
        assert mpu == pytest.approx(0.01) and p[36] == 3 and p[37:40] == b"Ada"
        out[first:first + m] = np.frombuffer(p[40:], "<f4").reshape(m, 3)
    np.testing.assert_array_equal(out, d)
    with pytest.raises(MeshStreamError, match="longer than 64 bytes"):
        encode_frame(d[:3], 0, 0.0, 0.01, "x" * 65)
    with pytest.raises(MeshStreamError, match=r"must be \[vertices, 3\]"):
        encode_frame(d[:, :2], 0, 0.0, 0.01)


def mcs(*args: str) -> None:
    proc = subprocess.run(["mcs", "-nologo", "-warnaserror+", *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unity_mesh")
    mcs("-target:library", f"-out:{out / 'UnityEngine.dll'}", str(STUB / "UnityEngine.cs"))
    runtime = sorted(str(p) for p in RUNTIME.glob("*.cs"))
    mcs(f"-r:{out / 'UnityEngine.dll'}", f"-out:{out / 'meshharness.exe'}", *runtime,
        str(STUB / "MeshHarness.cs"))
    return out / "meshharness.exe"


def ada(k: int, n: int = 3000) -> np.ndarray:
    """Frame k of subject Ada, in centimetres."""
    i = np.arange(n, dtype=np.float32)
    return np.stack([i * 0.001 * (k + 1), np.full(n, 2.0 * (k + 1)), np.full(n, -1.0)],
                    axis=1).astype(np.float32)


def bad_packets() -> list[bytes]:
    good = encode_frame(ada(0, 10), 0, 0.0, 0.01, "Ada")[0]
    v2 = good[:4] + bytes([2]) + good[5:]
    chunk = bytearray(good)
    struct.pack_into("<H", chunk, 6, 5)  # chunk index 5 of 1
    return [b"XXXX" + good[4:], good[:20], v2, good + b"\0\0\0\0", bytes(chunk), v2]


def read_until(proc: subprocess.Popen, marker: str, lines: list[str]) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        lines.append(line.rstrip("\n"))
        if line.startswith((marker, "FAIL", "TIMEOUT")):
            break
    assert lines and lines[-1].startswith(marker), "\n".join(lines)


@needs_mono
def test_unity_applies_mesh_deform_from_the_python_node(harness):
    proc = subprocess.Popen(["mono", str(harness)], cwd=harness.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    node = None
    try:
        read_until(proc, "READY", lines)
        port = int(lines[-1].split()[1])
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for p in bad_packets():
            raw.sendto(p, ("127.0.0.1", port))
        zed = encode_frame(ada(0, 500), 0, 0.0, 0.01, "Zed")
        for p in zed[:2]:  # an incomplete frame, abandoned when the next one starts
            raw.sendto(p, ("127.0.0.1", port))
        for p in encode_frame(ada(1, 500), 1, 0.0, 0.01, "Zed"):
            raw.sendto(p, ("127.0.0.1", port))
        raw.close()

        node = UnityMeshBridge(name="unity_mesh", params={"port": port, "unit": "cm"},
                               remaps={"deform": "/mesh_deform"})
        bus = local_graph(node).bus
        pub = bus.publisher("/mesh_deform", MeshDeform)
        for k in range(2):
            pub.publish(MeshDeform(displacements=ada(k), subject="Ada",
                                   header=Header(media_time=k / 60)))
        bob = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
        pub.publish(MeshDeform(displacements=bob, subject="Bob"))
        read_until(proc, "NEXT", lines)
        pub.publish(MeshDeform(displacements=ada(2), subject="Ada",
                               header=Header(media_time=2 / 60)))
        out, _ = proc.communicate(timeout=60)
    finally:
        if node is not None:
            node.on_stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines += out.splitlines()
    text = "\n".join(lines)
    assert proc.returncode == 0 and "DONE" in lines, text

    verts = {(f[1], int(f[2])): tuple(map(float, f[3:])) for f in
             (line.split() for line in lines if line.startswith("V "))}
    approx = pytest.approx
    # neutral (i * 0.01, 1, 0) m + frame 1 in cm -> m, x negated (flipX)
    for i in (0, 1, 1499, 2999):
        assert verts["Head", i] == approx((i * 0.01 - i * 0.002 * 0.01, 1 + 0.04, -0.01),
                                          abs=1e-6)
    for i in (0, 2999):
        assert verts["Head2", i] == approx((i * 0.01 - i * 0.003 * 0.01, 1 + 0.06, -0.01),
                                           abs=1e-6)
    # Bob: vertex map [2, 2, 0, 1], gain 2, no flip
    mapped = {0: (0, 1, 0.02), 1: (0.01, 1, 0.02), 2: (0.02 + 0.02, 1, 0), 3: (0.03, 1.02, 0)}
    for i, v in mapped.items():
        assert verts["Bob", i] == approx(v, abs=1e-6)
    assert verts["Restored", 2999] == approx((29.99, 1.0, 0.0), abs=1e-5)  # OnDisable

    def field(name: str) -> list[str]:
        return next(line for line in lines if line.startswith(name + " ")).split()[1:]

    assert field("APPLIED") == ["2", "0", "1"]  # the repeated LateUpdate applied nothing
    assert field("SKIPPED") == ["0", "2", "0"]
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 1, errors  # the mismatch is logged once, every such frame skipped
    assert "MeshDeform has 3000 vertices, mesh OtherTopology has 100" in errors[0]
    assert "MeshDeform has 3000 vertices" in " ".join(field("LASTERROR"))
    sent_ok = 2 + len(encode_frame(ada(1, 500), 1, 0.0, 0.01, "Zed")) + 3 * len(
        encode_frame(ada(0), 0, 0.0, 0.01, "Ada")) + 1
    assert field("PACKETS") == [str(sent_ok), "6"]
    assert field("FRAMES") == ["5", "1"]  # Zed 1, Ada 3, Bob 1 complete; Zed's first dropped
    assert int(field("NORMALS")[0]) >= 1
    warnings = [line for line in lines if line.startswith("WARN")]
    for cause in ("BadMagic", "TooShort", "WrongVersion", "BadLength", "BadChunk"):
        assert len([w for w in warnings if cause in w]) == 1, warnings
