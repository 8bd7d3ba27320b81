"""The live TTS path through real processes: the ``say`` graph speaks a line with espeak-ng,
and an independent Live Link Face decoder on a UDP socket checks that the lips close on
every /p b m/ the TTS spoke (closure as ``facewire eval`` defines it: lip aperture < 2 mm on
the ICT rig); a second UDP socket checks that VMC packets flow too."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, facewire_cmd, stop_process
from live_helpers import node_counters
from test_livelink import arkit_name, decode

from facewire.bus.transport import Bus
from facewire.messages.types import PhoneEvent, Text
from facewire.phones.arpabet import BILABIALS
from facewire.rig.arkit import ARKIT_INDEX

LINE = "Bob made a map of the moon, maybe by the pool."
LINE2 = "Pam bumps the mop."  # sent on /text while the first line plays
RIG = SHARED / "assets" / "ict_facekit.npz"


def _espeak_or_skip() -> None:
    from facewire.phones.espeak import EspeakUnavailable, shared_espeak

    try:
        shared_espeak()
    except EspeakUnavailable as exc:
        pytest.skip(str(exc))


def test_say_graph_closes_the_lips_on_every_bilabial_at_the_engine(
        registry: str, receiver: socket.socket, tmp_path: Path) -> None:
    _espeak_or_skip()
    vmc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vmc.bind(("127.0.0.1", 0))
    vmc.setblocking(False)
    receiver.settimeout(0.05)
    phones: list[PhoneEvent] = []
    bus = Bus("test_listener")
    bus.subscribe("/phones", PhoneEvent, callback=phones.append)
    text = bus.publisher("/text", Text)
    log = tmp_path / "launch.log"
    graph = subprocess.Popen(
        facewire_cmd("launch", "say", "--registry", registry, "--arg", f"text={LINE}",
                     "--arg", f"port={receiver.getsockname()[1]}",
                     "--arg", f"vmc_port={vmc.getsockname()[1]}", "--arg", "wait_phones=2"),
        stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    frames: dict[int, dict[str, float]] = {}
    vmc_packets = 0
    line1_end = np.inf
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert graph.poll() is None, log.read_text()
            bus.spin_once(2)
            try:
                p = decode(receiver.recv(2048))
                frames[p.frame] = p.values
            except TimeoutError:
                pass
            try:
                while vmc.recv(65536):
                    vmc_packets += 1
            except BlockingIOError:
                pass
            if frames and text.sent == 0 and text.subscriber_count:
                # line 1 plays (its phones all came before its audio): send line 2
                line1_end = max(ph.end for ph in phones)
                text.publish(Text(text=LINE2))
            spoken = [ph.end for ph in phones if ph.phone != "SIL"]
            if (text.sent and spoken and spoken[-1] > line1_end
                    and max(frames) >= (spoken[-1] + 0.1) * 60):
                break
        fusion = node_counters(registry, "phone_fusion")
    finally:
        bus.close()
        stop_process(graph, 15)
        vmc.close()
    assert phones and frames, log.read_text()
    last = max(frames)
    assert sorted(frames) == list(range(min(frames), last + 1)), "frames missing at the receiver"
    weights = np.zeros((last + 1, 52))
    for k, values in frames.items():
        for wire, v in values.items():
            if arkit_name(wire) in ARKIT_INDEX:
                weights[k, ARKIT_INDEX[arkit_name(wire)]] = v
    segments = [(p.phone, p.start, p.end) for p in phones]
    bilabials = [s for s in segments if s[0] in BILABIALS]
    assert len(bilabials) >= 12, segments
    assert sum(s[1] >= line1_end for s in bilabials) >= 4  # line 2's, after line 1
    if RIG.exists():
        from facewire.train.metrics import LipAperture, bilabial_closure_rate

        aperture = LipAperture.from_rig(RIG)(weights)
        assert bilabial_closure_rate(aperture, segments) == 1.0
        # and the mouth opens between them: the open vowels are far from closed
        vowels = [s for s in segments if s[0] in ("AA", "AE", "AO", "AW", "AY")]
        assert min(aperture[int(a * 60):int(np.ceil(b * 60))].max() for _, a, b in vowels) > 4.0
    else:  # without the rig: the seal (mouthClose / jawOpen) inside every /p b m/
        jaw, close = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
        for _, a, b in bilabials:
            sl = slice(int(a * 60), int(np.ceil(b * 60)))
            assert (weights[sl, close] / np.maximum(weights[sl, jaw], 1e-6)).max() > 0.6
    # the frames at the engine were fused with the phones, none waited out to the voice alone
    assert fusion.get("fused", 0) >= len(frames) and fusion.get("voice_only", 0) == 0, fusion
    assert vmc_packets > 50, "the VMC bridge sent nothing"
