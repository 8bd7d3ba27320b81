"""``facewire emotion set|list|eval``: steer a live character's emotion, list the emotion
set, and measure the fusion module against the naive sum.

``set`` joins the bus as an ordinary publisher on the control topic (``/emotion`` by
default; a character under a namespace listens on ``/<ns>/emotion``) and sends one
Emotion message; the emotion node eases to it.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emotion", help="set a live character's emotion; list emotions; "
                       "evaluate the fusion module")
    inner = p.add_subparsers(dest="emotion_command", required=True)

    s = inner.add_parser("set", help="publish an Emotion message (eased by the emotion node)")
    s.add_argument("emotion", help="an emotion name, or a mix such as happy:0.6,surprised:0.4")
    s.add_argument("intensity", nargs="?", default="1.0", help="0..1 (default 1)")
    s.add_argument("--topic", default="/emotion", help="control topic (default /emotion)")
    s.add_argument("--registry", help="registry address (default $FACEWIRE_BUS)")
    s.set_defaults(func=set_emotion)

    ls = inner.add_parser("list", help="the emotion set and each preset's strongest curves")
    ls.set_defaults(func=list_emotions)

    ev = inner.add_parser("eval", help="naive sum vs fusion: closure, lip error, upper face "
                          "(also 'facewire eval emotion')")
    add_eval_flags(ev)
    ev.set_defaults(func=eval_emotion)


def add_eval_flags(ev: argparse.ArgumentParser) -> None:
    """The flags of ``facewire emotion eval`` = ``facewire eval emotion``."""
    ev.add_argument("--data", action="append", required=True,
                    help="corpus with teacher curves and phones (facewire data synth); "
                         "repeatable")
    ev.add_argument("--model", default=None, help="fusion model (default: the shipped one)")
    ev.add_argument("--max-clips", type=int, default=100)
    ev.add_argument("--rig", default=None, help="rig npz (default ICT facekit)")
    ev.add_argument("--json", default=None, help="write the rows as JSON here")
    ev.add_argument("--quiet", action="store_true")


def set_emotion(args: argparse.Namespace) -> int:
    from facewire.emotion.presets import EmotionError, check_intensity, parse_mix
    from facewire.messages.types import Emotion

    try:
        mix = parse_mix(args.emotion)
        intensity = check_intensity(args.intensity)
    except EmotionError as exc:
        print(f"facewire emotion set: {exc}", file=sys.stderr)
        return 2
    from facewire.bus.client import RegistryUnreachable
    from facewire.bus.transport import Bus

    try:
        bus = Bus("facewire-cli", registry=args.registry)
        try:
            pub = bus.publisher(args.topic, Emotion)
            pub.publish(Emotion(weights=mix, intensity=intensity))
            n = pub.subscriber_count
        finally:
            bus.close()
    except RegistryUnreachable as exc:
        print(f"facewire emotion set: {exc}", file=sys.stderr)
        return 2
    print(f"{args.topic}: {args.emotion} at {intensity:g} -> {n} subscriber(s)")
    return 0


def list_emotions(args: argparse.Namespace) -> int:
    from facewire.emotion.presets import PRIMARY, SECONDARY
    from facewire.messages.types import EMOTIONS

    for name in EMOTIONS:
        top = sorted(PRIMARY[name].items(), key=lambda kv: -kv[1])[:4]
        sec = sorted(SECONDARY[name].items(), key=lambda kv: -kv[1])[:3]
        own = ", ".join(f"{k} {v:g}" for k, v in top) or "-"
        mouth = ", ".join(f"{k} {v:g}" for k, v in sec) or "-"
        print(f"{name:10s} {own}\n{'':10s} secondary (removed by fusion): {mouth}")
    return 0


def eval_emotion(args: argparse.Namespace) -> int:
    from facewire.emotion.runtime import FusionModelError
    from facewire.train.emotion.evaluate import format_rows, run_eval

    try:
        rows = run_eval(args.data, args.model, args.max_clips,
                        args.rig, args.json, args.quiet)
    except (FileNotFoundError, FusionModelError) as exc:
        print(f"facewire eval emotion: {exc}", file=sys.stderr)
        return 2
    print(format_rows(rows))
    return 0

