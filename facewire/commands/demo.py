"""``facewire demo``: the bundled clip through the live graph in real time.

Starts the ``demo`` launch file (audio -> features -> blendshapes -> smoother -> Live Link
and VMC bridges on localhost), records a bag, shows a live meter of the main mouth curves
in the terminal, and writes a plot of the take at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from facewire.launch.processes import stop_gracefully

METER_CURVES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
                "mouthStretchLeft", "mouthPressLeft")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the live demo on the bundled speech clip")
    p.add_argument("--path", default="demo_clip.wav", help="audio file (default: bundled clip)")
    p.add_argument("--out", default="out/demo", help="folder for the bag and the plot")
    p.add_argument("--no-meter", action="store_true", help="print a summary line instead")
    p.set_defaults(func=run)


def _meter(weights: np.ndarray, media_time: float, latency_ms: float) -> list[str]:
    from facewire.rig.arkit import ARKIT_INDEX

    lines = [f"t={media_time:6.2f} s   capture->frame {latency_ms:5.1f} ms"]
    for name in METER_CURVES:
        v = float(weights[ARKIT_INDEX[name]])
        bar = "#" * int(round(v * 40))
        lines.append(f"{name:17s} {bar:<40s} {v:4.2f}")
    return lines


def run(args: argparse.Namespace) -> int:
    from facewire.animate_outputs import plot_take
    from facewire.audio import AudioSourceError
    from facewire.audio.files import read_audio_file
    from facewire.bag.reader import BagReader
    from facewire.bus.transport import Bus
    from facewire.launch.launcher import fresh_registry_address, registry_answers
    from facewire.messages.types import Blendshapes
    from facewire.offline import Take

    try:
        data, rate = read_audio_file(args.path)
    except AudioSourceError as exc:  # its text names the file and the fix
        print(f"facewire demo: {exc}", file=sys.stderr)
        return 2
    duration = len(data) / rate
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bag_path = out / "demo.mcap"
    address = fresh_registry_address()
    env = {**os.environ, "FACEWIRE_BUS": address}
    py = [sys.executable, "-m", "facewire"]
    log = open(out / "launch.log", "w")  # noqa: SIM115 (closed below)
    print(f"facewire demo: {args.path} ({duration:.1f} s) -> Live Link UDP 127.0.0.1:11111, "
          f"VMC 127.0.0.1:39539; log in {out / 'launch.log'}")
    launch = subprocess.Popen([*py, "launch", "demo", "--registry", address,
                               "--arg", f"path={args.path}"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    recorder = None
    frames: list[Blendshapes] = []
    latencies: list[float] = []
    try:
        deadline = time.monotonic() + 30
        while not registry_answers(address, 0.5):
            if launch.poll() is not None or time.monotonic() > deadline:
                print("facewire demo: the graph did not start; see the log", file=sys.stderr)
                return 1
        recorder = subprocess.Popen([*py, "bag", "record", "-o", str(bag_path), "/audio",
                                     "/blendshapes"], env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
        bus = Bus("demo-meter", registry=address)
        sub = bus.subscribe("/blendshapes", Blendshapes, delivery="latest")
        tty = sys.stdout.isatty() and not args.no_meter
        drawn = 0
        last_print = last_seen = 0.0
        deadline = time.monotonic() + duration + 60
        while time.monotonic() < deadline and launch.poll() is None:
            msg = sub.recv(timeout_s=0.1)
            if msg is None:
                if frames and time.monotonic() - last_seen > 3.0:
                    break
                continue
            last_seen = time.monotonic()
            frames.append(msg)
            latencies.append((time.time_ns() - msg.header.capture_ns) / 1e6)
            if msg.header.media_time >= duration - 0.1:
                break
            if time.monotonic() - last_print > (0.066 if tty else 1.0):
                last_print = time.monotonic()
                lines = _meter(msg.weights, msg.header.media_time, latencies[-1])
                if tty:
                    sys.stdout.write(f"\x1b[{drawn}F" if drawn else "")
                    sys.stdout.write("\n".join(f"{ln}\x1b[K" for ln in lines) + "\n")
                    drawn = len(lines)
                else:
                    print(lines[0] + "  jawOpen " + lines[1].split()[-1])
                sys.stdout.flush()
        bus.close()
    finally:
        if recorder is not None:
            stop_gracefully(recorder)
        stop_gracefully(launch)
        log.close()
    if not frames:
        print("facewire demo: no animation frames arrived; see the log", file=sys.stderr)
        return 1
    take = Take.from_messages([(m.topic, m.msg) for m in BagReader(bag_path).read_all()])
    png = out / "demo.png"
    plot_take(take, png)
    from facewire.preview.compose import preview_bag

    print(preview_bag(bag_path, out / "demo.mp4"), flush=True)
    lat = np.array(latencies)
    print(f"\n{len(frames)} frames seen live; capture -> smoothed frame latency median "
          f"{np.median(lat):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms")
    print(f"bag: {bag_path} ({len(take.audio) / take.sample_rate:.1f} s of audio, "
          f"{len(take.times)} frames); plot: {png}")
    return 0
