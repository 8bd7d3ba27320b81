"""End-to-end latency of the live graph, per frame, from audio capture to UDP out.

Runs the bundled clip in real time through audio -> features -> blendshapes -> smoother
-> Live Link bridge (separate processes, as `facewire launch` starts them), and measures:

- capture -> smoother publish: each frame's arrival at a subscriber minus its capture_ns;
- capture -> Live Link UDP: arrival of the bridge's packet on a local UDP socket (decoded
  independently here) minus the capture_ns of the frame with that frame number;
- each node's algorithmic delay (what it waits for) and compute time per message;
- each process's CPU use while the graph runs at 60 fps.

The floor for comparison is the graph's declared algorithmic delay (feature hop, model
lookahead, frame interpolation, smoothing): what an infinitely fast implementation of the
same graph would still show.

    python benchmarks/latency.py [--seconds 12] [--quick]
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

from facewire.bus.client import ask_registry
from facewire.bus.transport import Bus
from facewire.launch.launcher import fresh_registry_address, registry_answers
from facewire.messages.codec import decode_bytes
from facewire.messages.types import Blendshapes

START_TIMEOUT_S = 30.0  # model loading on a busy machine

LAUNCH = """
description: latency benchmark graph
args:
  port: {default: 0}
  model: {default: facewire_cnn_gru_logmel_live}
  smoothing: {default: closure_safe}
include:
  - file: live_file.yaml
    args: {path: demo_clip.wav, loop: true, wait: 1, model: $(arg model), smoothing: $(arg smoothing)}
nodes:
  - name: bridge
    node: bridge_livelink
    params: {host: 127.0.0.1, port: $(arg port), subject: bench}
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def registry_nodes(address: str) -> list[dict]:
    """The registry's node list (empty when it does not answer)."""
    reply = ask_registry(address, {"op": "list"}, timeout_s=3.0)
    return reply["nodes"] if reply else []


def frame_number(packet: bytes) -> int:
    """Independent decode of a Live Link Face v6 packet's frame number."""
    pos = 1
    for _ in range(2):  # device id, subject name
        (n,) = struct.unpack_from(">i", packet, pos)
        pos += 4 + n
    (frame,) = struct.unpack_from(">i", packet, pos)
    return frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="measurement length")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--model", default="facewire_cnn_gru_logmel_live",
                    help="model (shipped name, folder or .onnx)")
    ap.add_argument("--smoothing", default="closure_safe",
                    choices=("closure_safe", "one_euro", "savgol", "none"))
    ap.add_argument("--quick", action="store_true",
                    help="1 s measured after 1 s of warm-up (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.warmup = 1.0, 1.0

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    port = udp.getsockname()[1]
    launch_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"latency-{os.getpid()}.yaml"
    launch_file.write_text(LAUNCH)
    address = fresh_registry_address()
    env = {**os.environ, "FACEWIRE_BUS": address}
    graph = subprocess.Popen([sys.executable, "-m", "facewire", "launch", str(launch_file),
                              "--registry", address, "--arg", f"port={port}",
                              "--arg", f"model={args.model}", "--arg",
                              f"smoothing={args.smoothing}"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not registry_answers(address, 0.5):
            time.sleep(0.1)
        bus = Bus("latency-bench", registry=address)
        frames: dict[int, int] = {}  # frame number -> capture_ns
        bus_lat: list[float] = []
        udp_lat: list[float] = []
        fps = 60.0

        def on_frame(msg: Blendshapes) -> None:
            now = time.time_ns()
            frames[int(round(msg.header.media_time * fps))] = msg.header.capture_ns
            if measuring:
                bus_lat.append((now - msg.header.capture_ns) / 1e6)

        bus.subscribe("/blendshapes", Blendshapes, callback=on_frame)
        measuring = False
        t_start = time.monotonic()
        t_measure = float("inf")  # set once frames flow after the warm-up
        give_up = t_start + args.warmup + args.seconds + START_TIMEOUT_S
        cpu0: dict[int, float] = {}
        while time.monotonic() - t_measure < args.seconds:
            if not measuring and time.monotonic() > give_up:
                print(f"no frames from the graph within {START_TIMEOUT_S:.0f} s after the "
                      "warm-up; run 'facewire launch live_file' to see why", file=sys.stderr)
                return 1
            bus.spin_once(2)
            while True:
                try:
                    packet = udp.recv(2048)
                except BlockingIOError:
                    break
                now = time.time_ns()
                capture = frames.get(frame_number(packet))
                if measuring and capture:
                    udp_lat.append((now - capture) / 1e6)
            if not measuring and time.monotonic() - t_start > args.warmup and frames:
                measuring = True
                nodes = registry_nodes(address)
                pids = {n["node"]: n["pid"] for n in nodes if n["node"] != "latency-bench"}
                cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
                t_measure = time.monotonic()
        elapsed = time.monotonic() - t_measure
        cpu = {name: (cpu_seconds(pids[name]) - c0) / elapsed for name, c0 in cpu0.items()}
        nodes = registry_nodes(address)
        bus.close()
    finally:
        graph.terminate()
        graph.wait(20)
        launch_file.unlink(missing_ok=True)

    print(f"model {args.model}, smoothing {args.smoothing}")
    print(f"live graph on the bundled clip, {args.seconds:.0f} s measured after "
          f"{args.warmup:.0f} s warm-up, {len(bus_lat)} frames")
    print(f"{'node':12s} {'delay ms':>9s} {'compute us/msg':>15s} {'CPU % of a core':>16s}")
    total_delay = 0.0
    for n in sorted(nodes, key=lambda n: n["node"]):
        if n["node"] not in cpu or not n.get("status"):
            continue
        st = decode_bytes(n["status"])
        busy = sum(v for k, v in st.counters.items() if k.startswith("busy_us.")
                   and not k.endswith(".timer"))
        msgs = sum(v for k, v in st.counters.items() if k.startswith("recv."))
        per_msg = busy / msgs if msgs else 0.0
        total_delay += st.delay_s
        print(f"{n['node']:12s} {st.delay_s * 1000:9.1f} {per_msg:15.0f} {cpu[n['node']] * 100:16.1f}")
    print(f"{'graph':12s} {total_delay * 1000:9.1f} {'':15s} {sum(cpu.values()) * 100:16.1f}")
    floor = total_delay * 1000
    for label, lat in (("capture -> smoothed frame", bus_lat), ("capture -> Live Link UDP", udp_lat)):
        a = np.array(lat)
        if a.size == 0:
            print(f"{label}: no samples")
            continue
        print(f"{label:28s} median {np.median(a):6.1f} ms  p99 {np.percentile(a, 99):6.1f} ms"
              f"  (floor {floor:.1f} ms; median/floor {np.median(a) / (floor or np.nan):.2f}x)")
    print("goals: median <= 40 ms, p99 <= 60 ms, whole graph < 50% of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
