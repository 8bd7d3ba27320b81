"""``facewire audio devices``: the audio devices PortAudio sees."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="audio devices")
    inner = p.add_subparsers(dest="audio_command", required=True)
    inner.add_parser("devices", help="list audio devices").set_defaults(func=devices)


def devices(args: argparse.Namespace) -> int:
    """Every device PortAudio sees; says so plainly when none can record (exit 1)."""
    from facewire.audio.devices import list_devices

    try:
        found = list_devices()
    except (OSError, RuntimeError) as exc:  # PortAudio missing or failing to start
        print(f"facewire audio: PortAudio cannot list devices ({exc}); install libportaudio2 "
              "(scripts/apt-packages.txt)", file=sys.stderr)
        return 1
    for d in found:
        print(f"{d['index']:3d}  {d['name']}  ({d['inputs']} in, {d['rate']:.0f} Hz)")
    if not any(d["inputs"] > 0 for d in found):
        print(f"no audio input devices: PortAudio sees {len(found)} device(s), none with "
              "inputs; plug in or enable a microphone, or play a file instead "
              "(facewire launch live_file --arg path=speech.wav)", file=sys.stderr)
        return 1
    return 0
