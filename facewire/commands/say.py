"""``facewire say "text"``: a TTS-driven character speaks a line, live.

Starts the ``say`` launch file (espeak-ng's audio and phone events -> audio -> features ->
blendshapes -> smoother -> phone_fusion -> Live Link and VMC bridges), waits until the line
has been animated, stops the graph and prints what it saw: phones, frames, and the delay
from each audio sample's playback to its fused frame. With ``--registry`` the line goes to
an already running ``say`` graph instead (a Text message on ``/text``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("say", help="speak a line with espeak-ng through the live graph to the "
                       "engine bridges (a TTS-driven character)")
    p.add_argument("text", help="the line to speak")
    p.add_argument("--voice", default="en-us", help="espeak-ng voice (default en-us)")
    p.add_argument("--rate", type=int, default=160, help="words per minute (default 160)")
    p.add_argument("--host", default="127.0.0.1", help="engine machine (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=11111, help="Live Link Face UDP port")
    p.add_argument("--vmc-port", type=int, default=39539, help="VMC UDP port")
    p.add_argument("--subject", default="facewire", help="character (Live Link subject) name")
    p.add_argument("--model", default="facewire_cnn_gru_logmel_live", help="audio model")
    p.add_argument("--registry", default=None,
                   help="send the line to the say graph running at this registry address")
    p.add_argument("--log", default=None, help="graph log file (default: a temp file)")
    p.set_defaults(func=run)


def _fail(text: str) -> int:
    print(f"facewire say: {text}", file=sys.stderr)
    return 2


def _send_to_running(args: argparse.Namespace) -> int:
    from facewire.bus.client import RegistryUnreachable
    from facewire.bus.transport import Bus
    from facewire.messages.types import Text

    try:
        bus = Bus("facewire-say", registry=args.registry)
    except RegistryUnreachable as exc:
        return _fail(f"{exc} (start a graph first: facewire launch say)")
    try:
        pub = bus.publisher("/text", Text)
        if not pub.wait_for_subscribers(3.0):
            return _fail(f"no tts node listens on /text at {args.registry} "
                         "(start one: facewire launch say)")
        pub.publish(Text(text=args.text))
    finally:
        bus.close()
    print(f"/text: {args.text!r} -> the running graph")
    return 0


def run(args: argparse.Namespace) -> int:
    if not args.text.strip():
        return _fail('nothing to say: give a line, e.g. facewire say "Bob made a map."')
    if not 60 <= args.rate <= 500:
        return _fail(f"--rate {args.rate} is out of range (60..500 words per minute)")
    from facewire.phones.espeak import EspeakUnavailable, shared_espeak

    try:
        if not shared_espeak().has_voice(args.voice):
            return _fail(f"espeak-ng has no voice {args.voice!r} (espeak-ng --voices lists them)")
    except EspeakUnavailable as exc:
        return _fail(str(exc))
    if args.registry:
        return _send_to_running(args)

    from facewire.bus.transport import Bus
    from facewire.launch.launcher import fresh_registry_address, registry_answers
    from facewire.launch.processes import stop_gracefully
    from facewire.messages.types import Blendshapes, PhoneEvent

    address = fresh_registry_address()
    env = {**os.environ, "FACEWIRE_BUS": address}
    log_path = Path(args.log) if args.log else Path(f"/tmp/facewire-say-{os.getpid()}.log")
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    graph_args = {"text": args.text, "voice": args.voice, "rate": args.rate, "host": args.host,
                  "port": args.port, "vmc_port": args.vmc_port, "subject": args.subject,
                  "model": args.model, "wait_phones": 2}
    cmd = [sys.executable, "-m", "facewire", "launch", "say", "--registry", address]
    for key, value in graph_args.items():
        cmd += ["--arg", f"{key}={value}"]
    launch = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    phones: list[PhoneEvent] = []
    latencies: list[float] = []
    last_time = -1.0
    try:
        deadline = time.monotonic() + 30
        while not registry_answers(address, 0.5):
            if launch.poll() is not None or time.monotonic() > deadline:
                return _fail(f"the graph did not start; see {log_path}")
        bus = Bus("facewire-say", registry=address)
        try:
            bus.subscribe("/phones", PhoneEvent, callback=phones.append)
            frames = bus.subscribe("/blendshapes", Blendshapes)
            deadline = time.monotonic() + 60
            last_seen = time.monotonic()
            while time.monotonic() < deadline and launch.poll() is None:
                bus.spin_once(0)
                msg = frames.recv(timeout_s=0.05)
                if msg is not None:
                    last_time, last_seen = msg.header.media_time, time.monotonic()
                    if msg.header.capture_ns:
                        latencies.append((time.time_ns() - msg.header.capture_ns) / 1e6)
                elif latencies and time.monotonic() - last_seen > 2.0:
                    break  # the line has been animated (the graph holds back no frames)
                spoken = [p.end for p in phones if p.phone != "SIL"]
                if spoken and last_time >= spoken[-1] + 0.1:
                    break  # past the last phone, into the rest pose
        finally:
            bus.close()
    finally:
        stop_gracefully(launch)
        log.close()
    if not latencies:
        return _fail(f"no animation frames arrived; see {log_path}")
    spoken = [p for p in phones if p.phone != "SIL"]
    lat = np.array(latencies)
    print(f"said {args.text!r}: {len(spoken)} phones, {phones[-1].end:.2f} s, {len(lat)} fused "
          f"frames to Live Link {args.host}:{args.port} and VMC {args.host}:{args.vmc_port}")
    print(f"playback -> fused frame: median {np.median(lat):.1f} ms, p99 "
          f"{np.percentile(lat, 99):.1f} ms (log: {log_path})")
    return 0
