"""Latency of the live TTS path (`facewire say`): TTS audio playback to Live Link UDP packet.

Runs the ``say`` graph (tts -> audio -> features -> blendshapes -> smoother -> phone_fusion
-> Live Link bridge, separate processes as ``facewire launch`` starts them) on a few lines,
and, as the baseline in the same run, the same graph with the bridge fed the audio path's
frames directly (no phone fusion). For every packet that arrives on a local UDP socket, the
latency is its arrival time minus the capture_ns of the audio sample its frame shows (the
moment the TTS node played it). The fusion node adds no algorithmic delay when the phones
arrive ahead of their audio, which the TTS guarantees; this measures what it costs in
practice (one more process hop and its compute).

    python benchmarks/say_latency.py [--lines 4] [--quick]
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from facewire.bus.transport import Bus
from facewire.launch.launcher import fresh_registry_address, registry_answers
from facewire.messages.types import AudioChunk, PhoneEvent

LINES = (
    "Bob made a map of the moon, maybe by the pool.",
    "Peter picked a peck of pickled peppers.",
    "My mother made warm muffins from memory.",
    "Please bring the big blue box to my boat.",
    "Would you wish a few more rooms with a view?",
    "Five fuzzy pumas moved over the vivid valley.",
)

BASELINE = """
description: say graph without phone fusion (latency baseline)
args:
  text: {default: ""}
  port: {default: 0}
include:
  - file: phone_pipeline.yaml
nodes:
  - name: tts
    node: tts
    params: {text: $(arg text), wait_phones: 2}
    remap: {audio: tts_audio}
  - name: bridge_livelink
    node: bridge_livelink
    params: {host: 127.0.0.1, port: $(arg port), subject: bench}
    remap: {blendshapes: blendshapes_voice}
"""


def frame_number(packet: bytes) -> int:
    """Independent decode of a Live Link Face v6 packet's frame number."""
    pos = 1
    for _ in range(2):  # device id, subject name
        (n,) = struct.unpack_from(">i", packet, pos)
        pos += 4 + n
    (frame,) = struct.unpack_from(">i", packet, pos)
    return frame


def measure(launch: str, text: str, extra: list[str], timeout_s: float) -> np.ndarray:
    """Run one graph speaking ``text``; latencies (ms) of the packets that arrived."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    address = fresh_registry_address()
    env = {**os.environ, "FACEWIRE_BUS": address}
    graph = subprocess.Popen([sys.executable, "-m", "facewire", "launch", launch, "--registry",
                              address, "--arg", f"text={text}", "--arg",
                              f"port={udp.getsockname()[1]}", *extra], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    captures: list[tuple[float, int]] = []  # (media_time, capture_ns) of each chunk
    arrivals: list[tuple[int, int]] = []  # (frame, arrival ns)
    phones: list[PhoneEvent] = []
    try:
        deadline = time.monotonic() + 60
        while not registry_answers(address, 0.5):
            if time.monotonic() > deadline or graph.poll() is not None:
                raise RuntimeError(f"graph {launch} did not start")
        bus = Bus("say-bench", registry=address)
        bus.subscribe("/phones", PhoneEvent, callback=phones.append)
        bus.subscribe("/tts_audio", AudioChunk, callback=lambda m: captures.append(
            (m.header.media_time, m.header.capture_ns)))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            bus.spin_once(1)
            while True:
                try:
                    packet = udp.recv(2048)
                except BlockingIOError:
                    break
                arrivals.append((frame_number(packet), time.time_ns()))
            spoken = [p.end for p in phones if p.phone != "SIL"]
            if spoken and arrivals and arrivals[-1][0] >= (spoken[-1] + 0.1) * 60:
                break
        bus.close()
    finally:
        graph.terminate()
        graph.wait(20)
        udp.close()
    if not captures or not arrivals:
        raise RuntimeError(f"graph {launch}: no audio or no packets")
    t = np.array([c[0] for c in captures])
    ns = np.array([c[1] for c in captures], np.float64)
    out = []
    for frame, arrival in arrivals:  # capture time of the frame's sample, between chunks
        media = frame / 60.0
        if t[0] <= media <= t[-1]:
            out.append((arrival - np.interp(media, t, ns)) / 1e6)
    return np.array(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=4, help="lines spoken per graph (one text)")
    ap.add_argument("--quick", action="store_true", help="one short line (smoke run)")
    args = ap.parse_args()
    text = LINES[0] if args.quick else " ".join(LINES[:max(1, args.lines)])
    timeout = 30.0 if args.quick else 30.0 + 4.0 * args.lines
    baseline_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"say-baseline-{os.getpid()}.yaml"
    baseline_file.write_text(BASELINE)
    try:
        fused = measure("say", text, ["--arg", "wait_phones=2", "--arg", "vmc_port=9"], timeout)
        voice = measure(str(baseline_file), text, [], timeout)
    finally:
        baseline_file.unlink(missing_ok=True)
    print(f"say latency, TTS playback (capture_ns) -> Live Link UDP packet; text of "
          f"{len(text.split())} words")
    rows = (("audio path only (baseline)", voice), ("phone-aware (say graph)", fused))
    for label, lat in rows:
        print(f"{label:28s} {lat.size:5d} packets  median {np.median(lat):6.1f} ms  "
              f"p99 {np.percentile(lat, 99):6.1f} ms")
    print(f"phone-aware / baseline: median {np.median(fused) / np.median(voice):.2f}x, "
          f"p99 {np.percentile(fused, 99) / np.percentile(voice, 99):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
