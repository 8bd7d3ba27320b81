"""The bundled engine launch files as running graphs, checked by independent receivers:
a strict Live Link Face decoder on a UDP socket (Unreal/Unity) and a python-osc server (VMC)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import facewire_cmd, stop_process
from live_helpers import train_tiny_model
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from test_livelink import decode

from facewire.bus.transport import Bus
from facewire.messages.types import Blendshapes


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("engines"))


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    t = np.arange(int(1.5 * 16000)) / 16000
    audio = 0.3 * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * np.sign(np.sin(2 * np.pi * 140 * t))
    path = tmp_path / "speech.wav"
    sf.write(path, audio.astype(np.float32), 16000)
    return path


def test_live_graph_from_a_file_to_unreal_sends_strict_livelink_packets(
        registry: str, model: Path, clip: Path, tmp_path: Path) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    frames: dict[int, np.ndarray] = {}
    bus = Bus("test_listener")
    bus.subscribe("/blendshapes", Blendshapes, callback=lambda m: frames.__setitem__(
        int(round(m.header.media_time * 60)), m.weights))
    log = tmp_path / "launch.log"
    graph = subprocess.Popen(
        facewire_cmd("launch", "live", "--arg", "source=file", "--arg", "engine=unreal",
                     "--registry", registry, "--arg",
                     f"path={clip}", "--arg", "loop=false", "--arg", f"model={model}",
                     "--arg", f"port={udp.getsockname()[1]}", "--arg", "subject=hero"),
        stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    packets, arrivals = [], []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(packets) < 80:
            assert graph.poll() is None, log.read_text()
            bus.spin_once(5)
            try:
                packets.append(decode(udp.recv(2048)))
                arrivals.append(time.monotonic())
            except TimeoutError:
                pass
        for _ in range(20):
            bus.spin_once(10)
    finally:
        bus.close()
        stop_process(graph, 15)
        udp.close()
    assert len(packets) >= 80, log.read_text()
    assert {p.subject for p in packets} == {"hero"} and len({p.device_id for p in packets}) == 1
    assert all(p.rate == (60, 1) for p in packets)
    numbers = [p.frame for p in packets]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "frames skipped"
    span = arrivals[-1] - arrivals[0]
    assert 0.7 * len(packets) / 60 < span < 2.0 * len(packets) / 60, "not paced at 60 fps"
    for p in packets:  # each packet carries the frame the graph published for that time
        if p.frame in frames:
            assert p.values["JawOpen"] == pytest.approx(frames[p.frame][24], abs=1e-6)
            assert p.values["MouthClose"] == pytest.approx(frames[p.frame][26], abs=1e-6)
    assert max(p.values["JawOpen"] for p in packets) > 0.01


def test_live_graph_from_a_file_to_vmc_feeds_a_python_osc_server(
        registry: str, model: Path, clip: Path, tmp_path: Path) -> None:
    received: list[tuple[str, tuple]] = []
    lock = threading.Lock()

    def record(address: str, *args: object) -> None:
        with lock:
            received.append((address, args))

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(record)
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    log = tmp_path / "launch.log"
    graph = subprocess.Popen(
        facewire_cmd("launch", "live", "--arg", "source=file", "--arg", "engine=vmc",
                     "--registry", registry, "--arg",
                     f"path={clip}", "--arg", f"model={model}",
                     "--arg", f"vmc_port={server.server_address[1]}"),
        stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert graph.poll() is None, log.read_text()
            with lock:
                if sum(a == "/VMC/Ext/Blend/Apply" for a, _ in received) >= 30:
                    break
            time.sleep(0.05)
    finally:
        stop_process(graph, 15)
        server.shutdown()
    with lock:
        got = list(received)
    applies = [i for i, (a, _) in enumerate(got) if a == "/VMC/Ext/Blend/Apply"]
    assert len(applies) >= 30, log.read_text()
    first, second = applies[0], applies[1]
    frame = {args[0]: args[1] for a, args in got[first + 1:second] if a == "/VMC/Ext/Blend/Val"}
    assert "JawOpen" in frame and len(frame) == 52  # perfect sync: every ARKit shape per frame
    assert all(0.0 <= v <= 1.0 for v in frame.values())
    assert any(a == "/VMC/Ext/OK" and args[0] == 1 for a, args in got)
    times = [args[0] for a, args in got if a == "/VMC/Ext/T"]
    assert len(times) >= 2 and times[-1] > times[0]
