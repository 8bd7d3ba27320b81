"""Live Link Face v6 packets, checked by a strict decoder written here from the layout in
shared/reference/LIVELINK_FACE.md (not from the encoder), over a real UDP socket."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

import numpy as np
import pytest

from facewire.bridges.livelink import LiveLinkEncoder, LiveLinkSender
from facewire.rig.arkit import ARKIT_52, LIVELINK_61

# The wire order written out by hand from the reference table, independent of the library.
WIRE_ORDER = """EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft
EyeSquintLeft EyeWideLeft EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight
EyeLookUpRight EyeSquintRight EyeWideRight JawForward JawLeft JawRight JawOpen MouthClose
MouthFunnel MouthPucker MouthLeft MouthRight MouthSmileLeft MouthSmileRight MouthFrownLeft
MouthFrownRight MouthDimpleLeft MouthDimpleRight MouthStretchLeft MouthStretchRight
MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper MouthPressLeft MouthPressRight
MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight BrowDownLeft
BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft
CheekSquintRight NoseSneerLeft NoseSneerRight TongueOut HeadYaw HeadPitch HeadRoll LeftEyeYaw
LeftEyePitch LeftEyeRoll RightEyeYaw RightEyePitch RightEyeRoll""".split()


@dataclass
class Packet:
    device_id: str
    subject: str
    frame: int
    sub_frame: float
    rate: tuple[int, int]
    values: dict[str, float]


def decode(data: bytes) -> Packet:
    """Strict v6 decoder: every length checked, nothing left over."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        assert pos + n <= len(data), f"truncated at byte {pos} (+{n}) of {len(data)}"
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    assert 266 < len(data) <= 1286, len(data)
    assert take(1)[0] == 6, "version must be 6"
    strings = []
    for _ in range(2):
        (n,) = struct.unpack(">i", take(4))
        assert 0 <= n <= 1016
        strings.append(take(n).decode("utf-8"))
    frame, sub = struct.unpack(">if", take(8))
    num, den = struct.unpack(">ii", take(8))
    assert den > 0 and num > 0
    assert 0.0 <= sub < 1.0
    assert take(1)[0] == 61, "count must be 61"
    values = struct.unpack(">61f", take(61 * 4))
    assert pos == len(data), f"{len(data) - pos} trailing bytes"
    return Packet(strings[0], strings[1], frame, sub, (num, den), dict(zip(WIRE_ORDER, values, strict=True)))


def arkit_name(wire: str) -> str:
    return wire[0].lower() + wire[1:]


def distinct_weights() -> np.ndarray:
    # Each shape its own value, exact in float32: k/64.
    return np.arange(1, 53, dtype=np.float64) / 64.0


def test_library_order_matches_reference():
    assert list(LIVELINK_61) == WIRE_ORDER


def test_packet_fields_order_and_values():
    w = distinct_weights()
    rot = [18.0, -36.0, 9.0, 1.8, 3.6, 5.4, -1.8, -3.6, -5.4]
    dev = "0C6A2E4B-1111-2222-3333-444455556666"
    p = decode(LiveLinkEncoder("Actor01", dev, fps=60).encode(w, 1.25, rot))
    assert (p.device_id, p.subject) == (dev, "Actor01")
    assert (p.frame, p.sub_frame, p.rate) == (75, 0.0, (60, 1))
    for wire in WIRE_ORDER[:52]:
        assert p.values[wire] == w[ARKIT_52.index(arkit_name(wire))], wire
    got_rot = [p.values[n] for n in WIRE_ORDER[52:]]
    np.testing.assert_allclose(got_rot, np.array(rot) / 180.0, rtol=1e-6)
    # The reference's example: 36-char id + 11-char subject = 317 bytes.
    assert len(LiveLinkEncoder("MetaHuman01", dev).encode(w, 0.0)) == 317


def test_sub_frame_and_rates():
    enc = LiveLinkEncoder("s", fps=60)
    p = decode(enc.encode(np.zeros(52), 2.0 + 0.5 / 60))
    assert p.frame == 120 and p.sub_frame == pytest.approx(0.5, abs=1e-4)
    p = decode(LiveLinkEncoder("s", fps=30).encode(np.zeros(52), 1.0))
    assert (p.frame, p.rate) == (30, (30, 1))
    p = decode(LiveLinkEncoder("s", fps=29.97).encode(np.zeros(52), 10.0))
    assert p.rate == (30000, 1001) and p.frame == 299
    with pytest.raises(ValueError):
        LiveLinkEncoder("s", fps=(60, 0))


def test_mirror_swaps_sides_and_negates_yaw_roll():
    w = distinct_weights()
    rot = [10.0, 20.0, 30.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    p = decode(LiveLinkEncoder("s", mirror=True).encode(w, 0.0, rot))
    idx = ARKIT_52.index
    assert p.values["EyeBlinkLeft"] == w[idx("eyeBlinkRight")]
    assert p.values["MouthLeft"] == w[idx("mouthRight")]
    assert p.values["JawRight"] == w[idx("jawLeft")]
    assert p.values["JawOpen"] == w[idx("jawOpen")]
    got = np.array([p.values[n] for n in WIRE_ORDER[52:]]) * 180.0
    np.testing.assert_allclose(got, [-10, 20, -30, -4, 5, -6, -1, 2, -3], rtol=1e-5)
    plain = decode(LiveLinkEncoder("s").encode(w, 0.0, rot))
    assert plain.values["EyeBlinkLeft"] == w[idx("eyeBlinkLeft")]


def test_bad_values_clamped_and_counted():
    enc = LiveLinkEncoder("s")
    w = distinct_weights()
    w[0], w[1], w[2] = np.nan, 1.7, -0.3
    p = decode(enc.encode(w, 0.0, [np.inf, 0, 0, 400, 0, 0, 0, 0, 0]))
    assert p.values["BrowDownLeft"] == 0.0
    assert p.values["BrowDownRight"] == 1.0 and p.values["BrowInnerUp"] == 0.0
    assert p.values["HeadYaw"] == 0.0 and p.values["LeftEyeYaw"] == 1.0
    assert enc.stats.nonfinite == 2 and enc.stats.clamped == 3
    with pytest.raises(ValueError):
        enc.encode(np.zeros(51), 0.0)


def test_name_too_long_refused_at_start():
    with pytest.raises(ValueError, match="1016"):
        LiveLinkEncoder("x" * 1000, device_id="d" * 36)
    LiveLinkEncoder("x" * 980, device_id="d" * 36)  # 1016 bytes: still fits
    with pytest.raises(ValueError):
        LiveLinkEncoder("")


def test_real_socket_two_subjects_frames_advance(receiver):
    port = receiver.getsockname()[1]
    with LiveLinkSender("127.0.0.1", port, subject="Ada", fps=60) as tx:
        tx.add_subject("Bob")
        w = distinct_weights()
        for k in range(10):
            assert tx.send(w, 3.0 + k / 60)
            assert tx.send(w[::-1].copy(), 3.0 + k / 60, subject="Bob")
        got = [decode(receiver.recv(2048)) for _ in range(20)]
        assert tx.stats["sent"] == 20 and tx.stats["send_errors"] == 0
    ada = [p for p in got if p.subject == "Ada"]
    bob = [p for p in got if p.subject == "Bob"]
    assert [p.frame for p in ada] == list(range(180, 190))
    assert [p.frame for p in bob] == list(range(180, 190))
    assert len({p.device_id for p in got}) == 2
    assert len(ada[0].device_id) == 36
    assert bob[0].values["JawOpen"] == w[::-1][ARKIT_52.index("jawOpen")]


def test_unreachable_host_never_raises(caplog):
    # Broadcast without SO_BROADCAST fails in sendto() itself (EACCES): a real send error.
    with LiveLinkSender("255.255.255.255", 11111, subject="s") as tx, caplog.at_level(logging.WARNING):
        for k in range(5):
            assert tx.send(np.zeros(52), k / 60) is False
        assert tx.stats["send_errors"] == 5 and tx.stats["sent"] == 0
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1
    # A documentation-range address (maybe routed, maybe not) must not raise either.
    with LiveLinkSender("192.0.2.1", 11111, subject="s") as tx:
        for k in range(3):
            tx.send(np.zeros(52), k / 60)
