"""``facewire audio devices``: the audio devices PortAudio sees."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="audio devices")
    inner = p.add_subparsers(dest="audio_command", required=True)
    inner.add_parser("devices", help="list audio devices").set_defaults(func=devices)


def devices(args: argparse.Namespace) -> int:
    from facewire.nodes.audio import list_devices

    for d in list_devices():
        print(f"{d['index']:3d}  {d['name']}  ({d['inputs']} in, {d['rate']:.0f} Hz)")
    return 0
