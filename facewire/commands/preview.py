"""``facewire preview``: render a rig driven by Blendshapes and/or MeshDeform to an MP4.

Inputs: a bag (Blendshapes and MeshDeform topics, audio from its AudioChunks), the files of
``facewire animate`` (npz or Live Link CSV) or an npz of displacements, or a live topic
recorded for a few seconds. ``--side-by-side`` puts the blendshape path (left) next to the
dense S2L -> S2D path (right). Rendering is software-only (numpy), so it runs anywhere.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preview", help="render animation on a face rig to an MP4 with audio")
    src = p.add_argument_group("input (one of --bag, --weights, --topic)")
    src.add_argument("--bag", help="MCAP bag with Blendshapes and/or MeshDeform (+ AudioChunk)")
    src.add_argument("--weights", help="npz or Live Link CSV from 'facewire animate'")
    src.add_argument("--topic", help="live Blendshapes or MeshDeform topic to record")
    p.add_argument("--deform", help="npz with 'displacements' [T, V, 3] (and 'times' or 'fps'): "
                                    "the dense panel")
    p.add_argument("--deform-topic", help="MeshDeform topic (bag or live; default: the first)")
    p.add_argument("--blendshapes-topic", help="Blendshapes topic in a bag (default "
                                               "/blendshapes or the first)")
    p.add_argument("--audio-topic", default="/audio", help="live AudioChunk topic to record")
    p.add_argument("--seconds", type=float, default=5.0, help="live recording length")
    p.add_argument("--registry", help="registry address for --topic (default $FACEWIRE_BUS)")
    p.add_argument("--audio", help="WAV/FLAC to mux (default: the bag's audio)")
    p.add_argument("--side-by-side", action="store_true",
                   help="blendshape path | MeshDeform path (needs both)")
    p.add_argument("--rig", help="rig npz/glTF (default: the shared ICT-FaceKit rig)")
    p.add_argument("--out", default="preview.mp4")
    p.add_argument("--size", default="512", help="panel size: N or WxH (even numbers)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--yaw", type=float, default=18.0, help="3/4 turn in degrees (0: front)")
    p.add_argument("--focus", choices=("face", "mouth"), default="face")
    p.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    width, height = int(w), int(h or w)
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"--size {text}: use even numbers of at least 16")
    return width, height


def _live(args: argparse.Namespace):
    """Record the live topics for --seconds (queue delivery: every frame is kept)."""
    from facewire.bus.transport import Bus

    bus = Bus("facewire-preview", registry=args.registry)
    try:
        subs = {args.topic: bus.subscribe(args.topic, None, delivery="queue", depth=100000)}
        if args.deform_topic:
            subs[args.deform_topic] = bus.subscribe(args.deform_topic, None, delivery="queue",
                                                    depth=100000)
        if args.audio_topic:
            subs[args.audio_topic] = bus.subscribe(args.audio_topic, None, delivery="queue",
                                                   depth=100000)
        messages = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            got = False
            for topic, sub in subs.items():
                msg = sub.recv(timeout_s=0.0)
                while msg is not None:
                    messages.append((topic, msg))
                    got = True
                    msg = sub.recv(timeout_s=0.0)
            if not got:
                time.sleep(0.01)
        return messages
    finally:
        bus.close()


def load_inputs(args: argparse.Namespace):
    """Tracks, audio and sample rate from the command's inputs."""
    import numpy as np

    from facewire.preview.tracks import (
        PreviewInputError,
        audio_from_chunks,
        track_from_file,
        tracks_from_bag,
        tracks_from_messages,
    )

    given = [x for x in (args.bag, args.weights, args.topic) if x]
    if len(given) != 1 and not (args.deform and not given):
        raise PreviewInputError("give one input: --bag FILE, --weights FILE or --topic TOPIC "
                                "(or --deform FILE alone)")
    audio, rate = np.zeros(0, np.float32), 16000
    tracks = []
    if args.bag:
        tracks, audio, rate = tracks_from_bag(args.bag, args.blendshapes_topic,
                                              args.deform_topic)
    elif args.weights:
        tracks = [track_from_file(args.weights)]
    elif args.topic:
        messages = _live(args)
        if not messages:
            raise PreviewInputError(f"nothing arrived on {args.topic} in {args.seconds:g} s")
        is_deform = type(next(m for t, m in messages if t == args.topic)).__name__ == "MeshDeform"
        tracks, chunks = tracks_from_messages(
            messages, None if is_deform else args.topic,
            args.topic if is_deform else args.deform_topic)
        audio, rate = audio_from_chunks(chunks)
    if args.deform:
        tracks.append(track_from_file(args.deform))
    if args.audio:
        from facewire.audio.files import read_audio_file

        audio, rate = read_audio_file(args.audio)
        audio = audio.reshape(len(audio), -1)[:, 0]
    kinds = [t.kind for t in tracks]
    if args.side_by_side:
        if "weights" not in kinds or "deform" not in kinds:
            raise PreviewInputError(
                "--side-by-side needs a Blendshapes track and a MeshDeform track; found "
                + (", ".join(t.label for t in tracks) or "none"))
        tracks = [tracks[kinds.index("weights")], tracks[kinds.index("deform")]]
    else:
        tracks = tracks[:1]
    return tracks, audio, rate


def run(args: argparse.Namespace) -> int:
    from facewire.preview.compose import write_preview
    from facewire.preview.render import View
    from facewire.preview.tracks import PreviewInputError
    from facewire.preview.video import VideoError
    from facewire.rig.rig import Rig, RigError, default_rig_path

    try:
        width, height = parse_size(args.size)
        rig = Rig.load(args.rig or default_rig_path())
        tracks, audio, rate = load_inputs(args)
        stats = write_preview(rig, tracks, args.out, args.fps, width, height, audio, rate,
                              View(yaw=args.yaw, focus=args.focus))
    except (PreviewInputError, RigError, VideoError, ValueError, FileNotFoundError) as exc:
        print(f"facewire preview: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {Path(args.out)}: {stats['frames']} frames ({stats['seconds']:.2f} s at "
          f"{args.fps:g} fps, {len(tracks)} panel(s) of {width}x{height}) in "
          f"{stats['wall_s']:.1f} s ({stats['frames_per_s']:.1f} frames/s)")
    return 0
