"""Bridge nodes in a running graph: Blendshapes published on the bus come out as Live Link Face
packets (checked by the strict decoder of test_livelink) and VMC bundles (python-osc)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from bus_helpers import start_node, wait_running
from conftest import stop_process
from pythonosc.osc_packet import OscPacket
from test_livelink import decode

from facewire.bus.transport import Bus
from facewire.messages.types import Blendshapes
from facewire.rig.arkit import ARKIT_52


@pytest.fixture
def udp(receiver: socket.socket) -> socket.socket:
    receiver.settimeout(5.0)  # node processes start slower than an in-process sender
    return receiver


def frame(k: int, subject: str = "") -> Blendshapes:
    w = np.zeros(52, dtype=np.float32)
    w[ARKIT_52.index("jawOpen")] = (k % 8) / 8
    return Blendshapes(weights=w, subject=subject).with_header(media_time=2.0 + k / 60)


def test_livelink_node_streams_packets(registry: str, udp: socket.socket, tmp_path: Path) -> None:
    port = udp.getsockname()[1]
    proc = start_node("facewire.nodes.bridge_livelink:LiveLinkBridge", "--name", "ll",
                      "--param", f"port={port}", "--param", "subject=Ada",
                      "--param", "subjects=[Bob]", "--remap", "blendshapes=/bs",
                      "--registry", registry, log=tmp_path / "ll.log")
    bus = Bus("test")
    try:
        wait_running(registry, "ll", proc)
        pub = bus.publisher("/bs", Blendshapes)
        for k in range(12):
            pub.publish(frame(k))
            pub.publish(frame(k, subject="Bob"))
        got = [decode(udp.recv(2048)) for _ in range(24)]
    finally:
        bus.close()
        stop_process(proc)
    ada = [p for p in got if p.subject == "Ada"]
    bob = [p for p in got if p.subject == "Bob"]
    assert [p.frame for p in ada] == list(range(120, 132))  # one frame per 1/60 s of audio
    assert [p.frame for p in bob] == list(range(120, 132))
    assert all(p.rate == (60, 1) and p.sub_frame == 0.0 for p in got)
    assert [p.values["JawOpen"] for p in ada] == [(k % 8) / 8 for k in range(12)]
    assert ada[0].device_id != bob[0].device_id


def test_livelink_node_refuses_long_subject(registry: str, tmp_path: Path) -> None:
    log = tmp_path / "ll.log"
    proc = start_node("facewire.nodes.bridge_livelink:LiveLinkBridge", "--name", "ll",
                      "--param", "subject=" + "x" * 1100, "--registry", registry, log=log)
    try:
        assert proc.wait(timeout=30) != 0
    finally:
        stop_process(proc)
    assert "1016" in log.read_text()


def test_vmc_node_streams_bundles(registry: str, udp: socket.socket, tmp_path: Path) -> None:
    port = udp.getsockname()[1]
    proc = start_node("facewire.nodes.bridge_vmc:VmcBridge", "--name", "vmc",
                      "--param", f"port={port}", "--param", "profile=vrm",
                      "--remap", "blendshapes=/bs", "--registry", registry, log=tmp_path / "v.log")
    bus = Bus("test")
    try:
        wait_running(registry, "vmc", proc)
        pub = bus.publisher("/bs", Blendshapes)
        pub.publish(frame(4))  # jawOpen 0.5
        data = udp.recv(65536)
    finally:
        bus.close()
        stop_process(proc)
    assert len(data) <= 1500
    msgs = {m.message.address: m.message.params for m in OscPacket(data).messages}
    assert msgs["/VMC/Ext/T"] == [pytest.approx(2.0 + 4 / 60)]
    vals = {m.message.params[0]: m.message.params[1] for m in OscPacket(data).messages
            if m.message.address == "/VMC/Ext/Blend/Val"}
    assert vals["A"] == pytest.approx(1.0)
