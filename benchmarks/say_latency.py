"""Latency of the live TTS path (`facewire say`): TTS audio playback to Live Link UDP packet.

Runs the ``say`` graph (tts -> audio -> features -> blendshapes -> smoother -> phone_fusion
-> Live Link bridge, separate processes as ``facewire launch`` starts them) on a few lines,
with, as the baseline in the same run on the same audio, a second Live Link bridge fed the
audio path's frames directly (no phone fusion). For every packet that arrives on a local UDP socket, the
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
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from latency import frame_number  # benchmarks/ is on the path when run as a script

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

GRAPH = """
description: say graph plus a second Live Link bridge on the audio path's own frames
args:
  text: {default: ""}
  port: {default: 0}
  baseline_port: {default: 0}
include:
  - file: say.yaml
    args: {text: $(arg text), port: $(arg port), vmc_port: 9, wait_phones: 2}
nodes:
  - name: bridge_baseline
    node: bridge_livelink
    params: {host: 127.0.0.1, port: $(arg baseline_port), subject: baseline}
    remap: {blendshapes: blendshapes_voice}
"""


def measure(text: str, timeout_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Run the graph speaking ``text``; latencies (ms) of the fused and the baseline packets."""
    socks = []
    for _ in range(2):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        socks.append(udp)
    launch_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"say-latency-{os.getpid()}.yaml"
    launch_file.write_text(GRAPH)
    address = fresh_registry_address()
    env = {**os.environ, "FACEWIRE_BUS": address}
    graph = subprocess.Popen([sys.executable, "-m", "facewire", "launch", str(launch_file),
                              "--registry", address, "--arg", f"text={text}",
                              "--arg", f"port={socks[0].getsockname()[1]}",
                              "--arg", f"baseline_port={socks[1].getsockname()[1]}"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    captures: list[tuple[float, int]] = []  # (media_time, capture_ns) of each chunk
    arrivals: list[list[tuple[int, int]]] = [[], []]  # per socket: (frame, arrival ns)
    phones: list[PhoneEvent] = []
    try:
        deadline = time.monotonic() + 60
        while not registry_answers(address, 0.5):
            if time.monotonic() > deadline or graph.poll() is not None:
                raise RuntimeError("the say graph did not start")
        bus = Bus("say-bench", registry=address)
        bus.subscribe("/phones", PhoneEvent, callback=phones.append)
        bus.subscribe("/tts_audio", AudioChunk, callback=lambda m: captures.append(
            (m.header.media_time, m.header.capture_ns)))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            bus.spin_once(1)
            for sock, out in zip(socks, arrivals):
                while True:
                    try:
                        packet = sock.recv(2048)
                    except BlockingIOError:
                        break
                    out.append((frame_number(packet), time.time_ns()))
            spoken = [p.end for p in phones if p.phone != "SIL"]
            if spoken and all(a and a[-1][0] >= (spoken[-1] + 0.1) * 60 for a in arrivals):
                break
        bus.close()
    finally:
        graph.terminate()
        graph.wait(20)
        launch_file.unlink(missing_ok=True)
        for sock in socks:
            sock.close()
    if not captures or not all(arrivals):
        raise RuntimeError("the say graph sent no audio or no packets")
    t = np.array([c[0] for c in captures])
    ns = np.array([c[1] for c in captures], np.float64)
    result = []
    for packets in arrivals:  # capture time of each frame's sample, between chunk starts
        lat = [(arrival - np.interp(frame / 60.0, t, ns)) / 1e6 for frame, arrival in packets
               if t[0] <= frame / 60.0 <= t[-1]]
        result.append(np.array(lat))
    return result[0], result[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=4, help="lines spoken (as one text)")
    ap.add_argument("--quick", action="store_true", help="one short line (smoke run)")
    args = ap.parse_args()
    text = LINES[0] if args.quick else " ".join(LINES[:max(1, args.lines)])
    fused, voice = measure(text, 30.0 if args.quick else 30.0 + 4.0 * args.lines)
    print(f"say latency, TTS playback (capture_ns) -> Live Link UDP packet; text of "
          f"{len(text.split())} words, both bridges in one graph on the same audio")
    rows = (("audio path only (baseline)", voice), ("phone-aware (say graph)", fused))
    for label, lat in rows:
        print(f"{label:28s} {lat.size:5d} packets  median {np.median(lat):6.1f} ms  "
              f"p99 {np.percentile(lat, 99):6.1f} ms")
    print(f"phone-aware / baseline: median {np.median(fused) / np.median(voice):.2f}x, "
          f"p99 {np.percentile(fused, 99) / np.percentile(voice, 99):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
