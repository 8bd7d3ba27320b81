"""pipecat integration: a real pipecat pipeline (pipecat's own ``run_test`` helper) with a TTS
stand-in that emits real espeak-ng audio frames and word timestamps (as pipecat's word-
timestamp TTS services do), the FacewireAvatar processor, and a real facewire graph (the
``agent`` launch file, separate processes) whose Live Link packets an independent decoder
receives on a UDP socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, facewire_cmd, stop_process
from live_helpers import node_counters
from test_livelink import arkit_name, decode

pytest.importorskip("pipecat", reason="the pipecat extra is not installed (pip install -e '.[pipecat]')")

from pipecat.frames.frames import (  # noqa: E402
    Frame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.tests.utils import run_test  # noqa: E402

from facewire.bus.transport import Bus  # noqa: E402
from facewire.integrations.pipecat import FacewireAvatar  # noqa: E402
from facewire.messages.types import AudioChunk, PhoneEvent  # noqa: E402
from facewire.phones.arpabet import BILABIALS  # noqa: E402
from facewire.rig.arkit import ARKIT_INDEX  # noqa: E402

LINE = "Bob made a map of the moon, maybe by the pool."
RIG = SHARED / "assets" / "ict_facekit.npz"


class EspeakTTS(FrameProcessor):
    """TTS stand-in: speaks TTSSpeakFrames with espeak-ng in 20 ms TTSAudioRawFrames, with
    word TTSTextFrames whose pts is the clock at the first audio plus the word's time, as
    pipecat's TTSService stamps them."""

    def __init__(self) -> None:
        super().__init__()
        self.spoken = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, TTSSpeakFrame):
            await self.push_frame(frame, direction)
            return
        from facewire.phones.espeak import shared_espeak

        u = self.spoken = shared_espeak().synth(frame.text, "en-us", {"rate": 170})
        pcm = (np.clip(u.audio, -1, 1) * 32767).astype(np.int16)
        await self.push_frame(TTSStartedFrame())
        clock0 = self.get_clock().get_time()
        words = list(u.words)
        n = int(0.02 * u.sample_rate)
        for i in range(0, len(pcm), n):
            await self.push_frame(TTSAudioRawFrame(audio=pcm[i:i + n].tobytes(),
                                                   sample_rate=u.sample_rate, num_channels=1))
            while words and words[0][1] < (i + n) / u.sample_rate:
                word, t = words.pop(0)
                text = TTSTextFrame(text=word, text_type="word")
                text.pts = clock0 + int(t * 1e9)
                await self.push_frame(text)
        await self.push_frame(TTSStoppedFrame())


def _receive(sock: socket.socket, frames: dict, phones: list, ready: threading.Event,
             stop: threading.Event) -> None:
    """Live Link packets from the UDP socket and the PhoneEvents on the bus, in a thread
    that owns its bus (the test's main thread runs the pipecat pipeline meanwhile)."""
    bus = Bus("test_listener")
    try:
        bus.subscribe("/phones", PhoneEvent, callback=phones.append)
        ready.set()
        sock.settimeout(0.005)
        while not stop.is_set():
            bus.spin_once(5)
            try:
                p = decode(sock.recv(2048))
                frames[p.frame] = p.values
            except TimeoutError:
                pass
    finally:
        bus.close()


def test_pipecat_agent_speaks_through_a_facewire_graph(
        registry: str, receiver: socket.socket, tmp_path: Path) -> None:
    from facewire.phones.espeak import EspeakUnavailable, shared_espeak

    try:
        shared_espeak()
    except EspeakUnavailable as exc:
        pytest.skip(str(exc))
    log = tmp_path / "launch.log"
    graph = subprocess.Popen(
        facewire_cmd("launch", "agent", "--registry", registry, "--arg",
                     f"port={receiver.getsockname()[1]}", "--arg", "vmc_port=9"),
        stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    frames: dict[int, dict[str, float]] = {}
    phones: list[PhoneEvent] = []
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=_receive, args=(receiver, frames, phones, ready, stop))
    try:
        probe = Bus("test_probe")
        try:  # the graph is up when its audio and phone_fusion nodes listen
            pubs = [probe.publisher("/tts_audio", AudioChunk), probe.publisher("/phones", PhoneEvent)]
            deadline = time.monotonic() + 90
            while any(p.subscriber_count < 1 for p in pubs) and time.monotonic() < deadline:
                assert graph.poll() is None, log.read_text()
                probe.spin_once(50)
            up = all(p.subscriber_count for p in pubs)
        finally:
            probe.close()
        assert up, log.read_text()
        listener.start()
        assert ready.wait(10)
        tts, avatar = EspeakTTS(), FacewireAvatar(registry=registry)
        down, _ = asyncio.run(run_test(Pipeline([tts, avatar]), frames_to_send=[
            TTSSpeakFrame(LINE)], start_timeout=30))
        deadline = time.monotonic() + 20
        end_frame = int(tts.spoken.duration * 60) - 3
        while time.monotonic() < deadline and (not frames or max(frames) < end_frame):
            time.sleep(0.05)
        fusion = node_counters(registry, "phone_fusion")
    finally:
        stop.set()
        if listener.is_alive():
            listener.join()
        stop_process(graph, 15)
    # the agent's frames went on down the pipeline unchanged (to the output transport)
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert len(audio) == -(-len(tts.spoken.audio) // int(0.02 * tts.spoken.sample_rate))
    assert avatar.words_forwarded == len(tts.spoken.words) >= 9
    assert phones and avatar.phones_forwarded == len(phones)
    assert frames, log.read_text()
    last = max(frames)
    assert last >= end_frame and sorted(frames) == list(range(min(frames), last + 1))
    weights = np.zeros((last + 1, 52))
    for k, values in frames.items():
        for wire, v in values.items():
            if arkit_name(wire) in ARKIT_INDEX:
                weights[k, ARKIT_INDEX[arkit_name(wire)]] = v
    # the frames were fused with the word-timed phones (the first word's frames may leave
    # from the voice alone: its phones are known when the second word's timestamp comes)
    assert fusion.get("fused", 0) >= 0.9 * len(frames), fusion
    # and the lips close on every /p b m/ espeak-ng actually spoke (its own phone timing,
    # which the avatar never saw: it only had word timestamps)
    truth = [(p.phone, p.start, p.end) for p in tts.spoken.phones]
    assert sum(p[0] in BILABIALS for p in truth) >= 8
    if RIG.exists():
        from facewire.train.metrics import LipAperture, bilabial_closure_rate

        aperture = LipAperture.from_rig(RIG)(weights)
        assert bilabial_closure_rate(aperture, truth) == 1.0


def test_an_interruption_drops_unplayed_audio_and_its_phones(registry: str) -> None:
    """Barge-in: what was not played is not sent, the media clock stays continuous, and the
    next response's phones follow in order (a real registry and bus; no graph needed)."""
    from facewire.phones.espeak import EspeakUnavailable, shared_espeak

    try:
        shared_espeak()
    except EspeakUnavailable as exc:
        pytest.skip(str(exc))
    from pipecat.frames.frames import InterruptionFrame
    from pipecat.tests.utils import SleepFrame

    chunks: list[tuple[float, float]] = []  # (media_time, seconds)
    phones: list[PhoneEvent] = []
    ready, stop = threading.Event(), threading.Event()

    def listen() -> None:
        bus = Bus("test_graph_stand_in")
        try:
            bus.subscribe("/tts_audio", AudioChunk, callback=lambda m: chunks.append(
                (m.header.media_time, len(m.samples) / m.sample_rate)))
            bus.subscribe("/phones", PhoneEvent, callback=phones.append)
            ready.set()
            while not stop.is_set():
                bus.spin_once(5)
        finally:
            bus.close()

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        assert ready.wait(10)
        tts, avatar = EspeakTTS(), FacewireAvatar(registry=registry)
        first = "Please bring the big blue box to my boat, and the map by the pool."
        asyncio.run(run_test(Pipeline([tts, avatar]), frames_to_send=[
            TTSSpeakFrame(first), SleepFrame(0.6), InterruptionFrame(),
            TTSSpeakFrame("Maybe.")], start_timeout=30))
        time.sleep(0.3)
    finally:
        stop.set()
        listener.join()
    long_line = shared_espeak().synth(first, "en-us", {"rate": 170}).duration
    short_line = tts.spoken.duration
    total = sum(d for _, d in chunks)
    for (t0, d0), (t1, _) in zip(chunks, chunks[1:]):  # one continuous media clock
        assert t1 == pytest.approx(t0 + d0, abs=1e-6)
    assert 0.6 < total < long_line + short_line + 2 * 0.3 - 0.5  # part of the line was dropped
    for a, b in zip(phones, phones[1:]):  # in order, nothing overlapping
        assert b.start >= a.end - 1e-9
    assert phones[-1].end <= total + 1e-6 and phones[-1].phone == "SIL"
    # the second response ("Maybe.") is spelled after the cut: its /m/ is among the phones
    restart = max(t for t, _ in chunks) - short_line - 0.3
    assert any(p.phone == "M" and p.start >= restart - 0.05 for p in phones)
