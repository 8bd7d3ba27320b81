"""VMC sender: a real UDP socket receives the bundles; python-osc's own parser decodes them."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from facewire.bridges.vmc import VmcEncoder, VmcSender, vrm_presets
from facewire.rig.arkit import ARKIT_52


def receive_frame(sock: socket.socket) -> tuple[list[int], list[tuple[str, list]]]:
    """Datagrams until (and including) the one holding /VMC/Ext/Blend/Apply."""
    sizes, msgs = [], []
    while True:
        data = sock.recv(65536)
        sizes.append(len(data))
        packet = OscPacket(data)
        msgs += [(m.message.address, list(m.message.params)) for m in packet.messages]
        if msgs[-1][0] == "/VMC/Ext/Blend/Apply":
            return sizes, msgs


def weights() -> np.ndarray:
    return np.arange(1, 53, dtype=np.float64) / 64.0  # exact in float32


def test_perfect_sync_frame_over_udp(receiver):
    port = receiver.getsockname()[1]
    w = weights()
    with VmcSender("127.0.0.1", port, profile="perfect_sync") as tx:
        assert tx.send(w, 12.5)
        sizes, msgs = receive_frame(receiver)
        assert tx.stats["sent"] == len(sizes) and tx.stats["send_errors"] == 0
    assert len(sizes) >= 2, "52 values do not fit one 1500-byte bundle: must be split"
    assert all(s <= 1500 for s in sizes)
    addresses = [a for a, _ in msgs]
    assert addresses[-1] == "/VMC/Ext/Blend/Apply" and addresses.count("/VMC/Ext/Blend/Apply") == 1
    assert ("/VMC/Ext/OK", [1]) in msgs
    assert ("/VMC/Ext/T", [12.5]) in msgs
    vals = {p[0]: p[1] for a, p in msgs if a == "/VMC/Ext/Blend/Val"}
    assert len(vals) == 52
    for i, name in enumerate(ARKIT_52):
        assert vals[name[0].upper() + name[1:]] == w[i], name


def test_camel_names_mirror_and_clamp():
    enc = VmcEncoder("perfect_sync", name_style="camel", mirror=True, liveness=False)
    w = weights()
    w[ARKIT_52.index("jawOpen")] = np.nan
    w[ARKIT_52.index("eyeBlinkLeft")] = 2.0
    msgs = [m.message for b in enc.bundles(w, 0.0) for m in OscPacket(b).messages]
    vals = {m.params[0]: m.params[1] for m in msgs if m.address == "/VMC/Ext/Blend/Val"}
    assert vals["jawOpen"] == 0.0
    assert vals["eyeBlinkRight"] == 1.0  # mirrored: subject's left eye goes out as Right
    assert vals["eyeBlinkLeft"] == w[ARKIT_52.index("eyeBlinkRight")]
    assert enc.stats.nonfinite == 1 and enc.stats.clamped == 1
    assert not any(m.address.startswith("/VMC/Ext/OK") for m in msgs)


def test_small_bundle_limit_splits_more():
    enc = VmcEncoder("both", max_bundle_bytes=400)
    bundles = enc.bundles(weights(), 1.0)
    assert all(len(b) <= 400 for b in bundles) and len(bundles) >= 8
    msgs = [m.message.address for b in bundles for m in OscPacket(b).messages]
    assert msgs.count("/VMC/Ext/Blend/Val") == 60 and msgs[-1] == "/VMC/Ext/Blend/Apply"
    with pytest.raises(ValueError):
        VmcEncoder(max_bundle_bytes=60)


def arkit(**kw: float) -> np.ndarray:
    w = np.zeros(52)
    for k, v in kw.items():
        w[ARKIT_52.index(k)] = v
    return w


def preset(w: np.ndarray) -> dict[str, float]:
    return dict(zip(("A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R"), vrm_presets(w), strict=True))


def test_vrm_presets_heuristic():
    assert max(preset(arkit()).values()) == 0.0
    a = preset(arkit(jawOpen=0.5))  # open, neutral lips: A
    assert a["A"] == pytest.approx(1.0) and a["O"] == 0.0 and a["I"] == 0.0
    o = preset(arkit(jawOpen=0.5, mouthFunnel=0.8))  # open and rounded: O wins
    assert o["O"] > o["A"] and o["O"] > o["U"]
    u = preset(arkit(mouthPucker=0.9))  # closed and rounded: U
    assert u["U"] == pytest.approx(0.9) and u["A"] == 0.0
    i = preset(arkit(mouthStretchLeft=0.7, mouthStretchRight=0.7))  # spread, closed: I
    assert i["I"] == pytest.approx(0.7) and i["E"] == 0.0
    e = preset(arkit(jawOpen=0.4, mouthSmileLeft=0.8, mouthSmileRight=0.8))  # spread, open: E
    assert e["E"] > e["A"] and e["E"] > e["I"]
    many = preset(arkit(jawOpen=1.0, mouthFunnel=0.5, mouthSmileLeft=0.5, mouthSmileRight=0.5))
    assert sum(many[k] for k in "AIUEO") <= 1.0 + 1e-9
    b = preset(arkit(eyeBlinkLeft=1.0, eyeBlinkRight=0.6))
    assert (b["Blink"], b["Blink_L"], b["Blink_R"]) == pytest.approx((0.6, 0.4, 0.0))


def test_vrm_profile_over_udp(receiver):
    port = receiver.getsockname()[1]
    with VmcSender("127.0.0.1", port, profile="vrm") as tx:
        tx.send(arkit(jawOpen=0.5, eyeBlinkLeft=1.0, eyeBlinkRight=1.0), 0.0)
        sizes, msgs = receive_frame(receiver)
    assert len(sizes) == 1
    vals = {p[0]: p[1] for a, p in msgs if a == "/VMC/Ext/Blend/Val"}
    assert set(vals) == {"A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R"}
    assert vals["A"] == pytest.approx(1.0) and vals["Blink"] == 1.0 and vals["Blink_L"] == 0.0
    vrm1 = VmcEncoder("vrm1").names
    assert vrm1 == ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight")


def test_unreachable_host_never_raises():
    with VmcSender("255.255.255.255", 39539) as tx:
        for k in range(3):
            assert tx.send(weights(), k / 60) is False
        assert tx.stats["send_errors"] >= 3 and tx.stats["frames"] == 3
