"""`facewire topic list|echo|hz|bw` against a live talker node."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest
from bus_helpers import start_node, wait_running
from conftest import facewire_cmd, stop_process

from facewire.bus import Bus
from facewire.messages import Landmarks


@pytest.fixture
def talker(registry: str) -> Iterator[subprocess.Popen]:
    proc = start_node("talker", "--name", "tk", "--param", "rate=100", "--remap",
                      "output=/chat")
    try:
        wait_running(registry, "tk", proc)
        yield proc
    finally:
        stop_process(proc)


def topic(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(facewire_cmd("topic", *args), capture_output=True, text=True,
                          timeout=30)


def test_list(talker: subprocess.Popen) -> None:
    out = topic("list", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["/chat"] == {"types": ["Text"], "publishers": ["tk"],
                                               "subscribers": []}
    text = topic("list").stdout
    assert "/chat  [Text]" in text and "publishers:  tk" in text


def test_echo_n(talker: subprocess.Popen) -> None:
    out = topic("echo", "/chat", "-n", "3", "--json", "--timeout", "10")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3
    numbers = [int(r["text"].split()[-1]) for r in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert [r["header"]["seq"] for r in rows] == numbers


def test_echo_summarises_arrays(registry: str) -> None:
    proc = subprocess.Popen(facewire_cmd("topic", "echo", "/lm", "-n", "1", "--timeout", "15"),
                            stdout=subprocess.PIPE, text=True)
    bus = Bus("test")
    try:
        pub = bus.publisher("/lm", Landmarks)
        arr = np.arange(68 * 3, dtype=np.float32).reshape(68, 3)
        while proc.poll() is None:
            pub.publish(Landmarks(displacements=arr))
            time.sleep(0.05)
        out = proc.communicate()[0]
    finally:
        bus.close()
        stop_process(proc)
    assert proc.returncode == 0
    assert "displacements: float32[68, 3] [0, 1, 2, 3, 4, 5, ...]" in out
    assert "rig: ict_facekit" in out


def test_idle_subscriber_still_sees_a_late_publisher(registry: str) -> None:
    """A plain Bus (no Node heartbeat) must stay known to the registry while it waits:
    a publisher that appears after the registry's client timeout is still announced."""
    from facewire.bus.registry import CLIENT_TIMEOUT_S

    echo = subprocess.Popen(facewire_cmd("topic", "echo", "/late", "-n", "1", "--json",
                                         "--timeout", str(CLIENT_TIMEOUT_S + 15)),
                            stdout=subprocess.PIPE, text=True)
    time.sleep(CLIENT_TIMEOUT_S + 1.5)
    talker = start_node("talker", "--param", "rate=50", "--remap", "output=/late")
    try:
        out = echo.communicate(timeout=CLIENT_TIMEOUT_S + 20)[0]
    finally:
        stop_process(talker)
        stop_process(echo)
    assert echo.returncode == 0 and '"text": "hello' in out


def test_hz(talker: subprocess.Popen) -> None:
    out = topic("hz", "/chat", "--timeout", "2.6", "--period", "1")
    assert out.returncode == 0, out.stderr
    rates = [float(line.split()[2]) for line in out.stdout.splitlines()
             if line.startswith("average rate:")]
    assert rates and 60 < rates[-1] < 140, out.stdout  # 100 Hz, generous for a busy host
    assert "min:" in out.stdout and "std dev:" in out.stdout


def test_bw(talker: subprocess.Popen) -> None:
    out = topic("bw", "/chat", "--timeout", "2.6", "--period", "1")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("average:")]
    assert lines, out.stdout
    value, unit = lines[-1].split()[1:3]
    per_s = float(value) * {"B/s": 1, "KB/s": 1024}[unit]
    assert 2000 < per_s < 20000, out.stdout  # ~100 messages/s of ~80 bytes


def test_no_registry_is_a_clear_error(tmp_path) -> None:
    out = topic("list", "--registry", f"ipc://{tmp_path}/none.sock")
    assert out.returncode == 2 and "facewire bus" in out.stderr
