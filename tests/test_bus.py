"""Transport and Node runtime with real processes: publisher and subscriber in separate
processes over ipc and tcp, delivery modes, drop counters, node parameters, `node run`,
`node list`, and clean stops on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import find_node, node_list, read_lines, start_node, wait_running, wait_until
from conftest import facewire_cmd, stop_process

from facewire.bus import Bus, ParamError
from facewire.bus.node import validate_params
from facewire.messages import Blendshapes, Text
from facewire.nodes.testing import Talker

# A publisher in its own process: N Blendshapes frames whose weights encode their index;
# with GAP > 0 the seq jumps by GAP half-way (as if GAP messages were lost upstream).
PUBLISHER = """
import sys
import numpy as np
from facewire.bus import Bus
from facewire.messages import Blendshapes
topic, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bus = Bus("pubproc")
pub = bus.publisher(topic, Blendshapes)
for i in range(n):
    if gap and i == n // 2:
        pub.seq += gap
    pub.publish(Blendshapes(weights=np.full(52, i, np.float32)).with_header(media_time=i / 60))
print(pub.endpoint)
bus.close()
"""


def run_publisher(topic: str, n: int, gap: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, topic, str(n), str(gap)],
                            stdout=subprocess.PIPE, text=True)


@pytest.fixture
def bus(registry: str) -> Iterator[Bus]:
    b = Bus("test")
    try:
        yield b
    finally:
        b.close()


def spin_until_exit(bus: Bus, proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """Apply registry events (connect to the new publisher) without taking messages, as a
    node's loop would, until the publisher process is done."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        bus.process_events()
        time.sleep(0.005)
    assert proc.wait(1) == 0


def receive(sub, n: int, timeout_s: float = 20.0) -> list:
    out = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        msg = sub.recv(timeout_s=0.5)
        if msg is not None:
            out.append(msg)
    return out


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_all_messages_arrive_in_order_across_processes(
    transport: str, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subscriber declared first, publisher process sends at full speed: nothing lost."""
    monkeypatch.setenv("FACEWIRE_TRANSPORT", transport)
    b = Bus("test")
    try:
        n = 500
        sub = b.subscribe("/frames", Blendshapes, depth=n)
        proc = run_publisher("/frames", n)
        got = receive(sub, n)
        endpoint = proc.communicate(timeout=20)[0].strip()
        assert proc.returncode == 0
        assert endpoint.startswith(f"{transport}://")
        assert sub.endpoints == {endpoint}
        assert [int(m.weights[0]) for m in got] == list(range(n))
        assert [m.header.seq for m in got] == list(range(n))
        assert [m.header.media_time for m in got] == [i / 60 for i in range(n)]
        assert all(m.header.stamp_ns > 0 for m in got)
        assert dict(sub.drops) == {}
    finally:
        b.close()


def test_latest_delivery_keeps_only_the_newest(bus: Bus) -> None:
    n = 300
    sub = bus.subscribe("/frames", Blendshapes, delivery="latest", depth=n)
    proc = run_publisher("/frames", n)
    spin_until_exit(bus, proc)
    time.sleep(0.3)  # everything is in the subscriber's queue before the first take()
    taken = []
    wait_until(lambda: taken.extend(sub.take()) or (taken and taken[-1].header.seq == n - 1),
               10, "the last frame")
    assert sub.received == n
    assert len(taken) + sub.drops["superseded"] == n
    assert sub.drops["superseded"] >= n // 2  # a backlog collapses to (almost) one frame
    assert int(taken[-1].weights[0]) == n - 1


def test_queue_delivery_take_returns_everything(bus: Bus) -> None:
    n = 50
    sub = bus.subscribe("/frames", Blendshapes, delivery="queue", depth=n)
    spin_until_exit(bus, run_publisher("/frames", n))
    taken: list = []
    wait_until(lambda: taken.extend(sub.take()) or len(taken) == n, 10, "all frames")
    assert [m.header.seq for m in taken] == list(range(n))
    assert sub.drops["superseded"] == 0


def test_sequence_gaps_are_counted(bus: Bus) -> None:
    n, gap = 40, 7
    sub = bus.subscribe("/frames", Blendshapes, depth=n)
    proc = run_publisher("/frames", n, gap)
    got = receive(sub, n)
    assert proc.wait(20) == 0
    assert len(got) == n
    assert sub.drops["seq_gap"] == gap
    assert got[n // 2].header.seq - got[n // 2 - 1].header.seq == gap + 1


def test_bad_delivery_mode_is_refused(bus: Bus) -> None:
    with pytest.raises(ValueError, match="delivery"):
        bus.subscribe("/x", Text, delivery="newest")


# -- msg show ---------------------------------------------------------------------------
def test_msg_show_prints_schema() -> None:
    out = subprocess.run(facewire_cmd("msg", "show", "Blendshapes"), capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0
    assert "Blendshapes (version 1)" in out.stdout
    assert "weights: float32[shapes]" in out.stdout
    assert "media_time" in out.stdout
    js = subprocess.run(facewire_cmd("msg", "show", "Landmarks", "--json"), capture_output=True,
                        text=True, timeout=20)
    assert '"title": "Landmarks"' in js.stdout and "float32[68, 3]" in js.stdout
    bad = subprocess.run(facewire_cmd("msg", "show", "Nope"), capture_output=True, text=True,
                         timeout=20)
    assert bad.returncode == 2 and "unknown message type 'Nope'" in bad.stdout
    listed = subprocess.run(facewire_cmd("msg", "list"), capture_output=True, text=True,
                            timeout=20)
    for name in ("AudioChunk", "Blendshapes", "Landmarks", "NodeStatus"):
        assert name in listed.stdout


# -- node parameters and `node run` ----------------------------------------------------
def test_params_validated_with_defaults() -> None:
    assert validate_params(Talker, {}) == {"rate": 10.0, "count": 0, "text": "hello"}
    assert validate_params(Talker, {"rate": "25", "count": "3"})["rate"] == 25.0
    with pytest.raises(ParamError, match="'rate' must be float"):
        validate_params(Talker, {"rate": "fast"})
    with pytest.raises(ParamError, match="'count' must be int"):
        validate_params(Talker, {"count": True})
    with pytest.raises(ParamError, match=">= 0"):
        validate_params(Talker, {"count": -1})
    with pytest.raises(ParamError, match="no parameter 'speed'"):
        validate_params(Talker, {"speed": 1})


def test_node_run_rejects_bad_param_type(registry: str) -> None:
    out = subprocess.run(facewire_cmd("node", "run", "talker", "--param", "rate=fast"),
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    assert "parameter 'rate' must be float" in out.stderr
    assert find_node(registry, "talker") is None  # nothing started


def test_node_run_against_running_registry(bus: Bus, registry: str) -> None:
    sub = bus.subscribe("/chat", Text, depth=100)
    proc = start_node("talker", "--param", "rate=200", "--param", "count=20",
                      "--param", "text=hi", "--remap", "output=/chat", "--registry", registry)
    try:
        got = receive(sub, 20)
        assert [m.text for m in got] == [f"hi {i}" for i in range(20)]
        assert [m.header.media_time for m in got] == [i / 200 for i in range(20)]
    finally:
        stop_process(proc)
    assert proc.returncode == 0


def test_node_list_shows_status_and_counters(registry: str, tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    sink = start_node("sink", "--name", "sk", "--remap", "input=/chat", "--param",
                      f"path={path}")
    talker = start_node("talker", "--name", "tk", "--param", "rate=50", "--remap",
                        "output=/chat")
    try:
        wait_running(registry, "sk", sink)
        wait_until(lambda: (find_node(registry, "sk") or {}).get("counters", {})
                   .get("recv.input", 0) >= 3, 15, "sink counters")
        nodes = {n["node"]: n for n in node_list(registry)}
        assert nodes["tk"]["state"] == "running"
        assert nodes["tk"]["outputs"] == {"output": "/chat"}
        assert nodes["sk"]["inputs"] == {"input": "/chat"}
        assert nodes["tk"]["counters"]["sent.output"] >= 3
        assert nodes["sk"]["pid"] == sink.pid
        text = subprocess.run(facewire_cmd("node", "list"), capture_output=True, text=True,
                              timeout=20).stdout
        assert "sk  [running]" in text and "input <- /chat" in text
        assert "recv.input=" in text and "sent.output=" in text
        assert "facewire-cli" not in text
        assert len(read_lines(path)) >= 3
    finally:
        stop_process(talker)
        stop_process(sink)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_stop_on_signal(registry: str, sig: signal.Signals, tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    proc = start_node("talker", "--name", "tk", "--param", "rate=100", log=log)
    try:
        wait_running(registry, "tk", proc)
        proc.send_signal(sig)
        assert proc.wait(10) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
        wait_until(lambda: find_node(registry, "tk") is None, 5, "node gone from the registry")
    finally:
        stop_process(proc)


def test_publisher_waits_only_for_announced_subscribers(bus: Bus) -> None:
    """A publisher with nobody listening sends at once (no sync wait)."""
    pub = bus.publisher("/lonely", Blendshapes)
    t0 = time.monotonic()
    for _ in range(10):
        pub.publish(Blendshapes(weights=np.zeros(52, np.float32)))
    assert time.monotonic() - t0 < 1.0
    assert pub.seq == 10
