"""``facewire bag record|play|info|repair``: MCAP bags of a graph's topics."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facewire.bag.reader import BagInfo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bag", help="record, play and inspect MCAP bags")
    inner = p.add_subparsers(dest="bag_command", required=True)

    rec = inner.add_parser("record", help="record topics of a running graph")
    rec.add_argument("topics", nargs="*", metavar="TOPIC", help="topics to record")
    rec.add_argument("--all", "-a", action="store_true",
                     help="record every topic, following new ones as they appear")
    rec.add_argument("-o", "--output", help="bag file (default facewire_<date>_<time>.mcap)")
    rec.add_argument("--compression", choices=("zstd", "lz4", "none"), default="zstd")
    rec.add_argument("--chunk-size", type=int, default=1024 * 1024, metavar="BYTES",
                     help="largest chunk before it is written out (default 1 MiB)")
    rec.add_argument("--flush-interval", type=float, default=0.5, metavar="S",
                     help="write the chunk in progress this often; a SIGKILL loses at most "
                          "this much (default 0.5 s)")
    rec.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    rec.add_argument("--registry", help="registry address (default $FACEWIRE_BUS)")
    rec.set_defaults(func=record)

    play = inner.add_parser("play", help="publish a bag's messages on their topics")
    play.add_argument("file")
    play.add_argument("--rate", "-r", type=float, default=1.0,
                      help="speed factor on the recorded timing (default 1)")
    play.add_argument("--loop", "-l", action="store_true", help="play again and again")
    play.add_argument("--start", "-s", type=float, default=0.0, metavar="S",
                      help="skip the first S seconds of the bag")
    play.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these topics")
    play.add_argument("--fast", action="store_true",
                      help="as fast as possible, without pacing and without drops")
    play.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                      help="wait until N subscribers are connected before playing")
    play.add_argument("--wait-timeout", type=float, default=10.0, metavar="S")
    play.add_argument("--registry", help="registry address (default $FACEWIRE_BUS)")
    play.set_defaults(func=play_bag)

    info = inner.add_parser("info", help="duration, topics, counts, truncation")
    info.add_argument("file")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=show_info)

    rep = inner.add_parser("repair", help="copy what a truncated bag holds into a complete one")
    rep.add_argument("file")
    rep.add_argument("output")
    rep.add_argument("--compression", choices=("zstd", "lz4", "none"), default="zstd")
    rep.set_defaults(func=repair_bag)

    csv_p = inner.add_parser("csv", help="export Blendshapes as Live Link Face CSV takes "
                                         "(importable by Unreal's and Blender's importers)")
    csv_p.add_argument("file")
    csv_p.add_argument("--out", required=True, help="CSV file, or a folder for one per subject")
    csv_p.add_argument("--topic", default="/blendshapes", help="Blendshapes topic")
    csv_p.set_defaults(func=export_csv)

    exp = inner.add_parser("export", help="rewrite a bag as JSON-encoded MCAP with named "
                                          "curves (opens in Foxglove)")
    exp.add_argument("file")
    exp.add_argument("--json", action="store_true", required=True,
                     help="JSON messages with JSON schemas (the one export format so far)")
    exp.add_argument("--out", "-o", help="output file (default FILE.json.mcap)")
    exp.add_argument("--topics", nargs="+", metavar="TOPIC", help="export only these topics")
    exp.set_defaults(func=export_json_bag)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)


def _fail(exc: Exception) -> int:
    print(f"facewire bag: {exc}", file=sys.stderr)
    return 2


def record(args: argparse.Namespace) -> int:
    from facewire.bag.recorder import Recorder
    from facewire.bus.client import RegistryUnreachable
    from facewire.bus.runners import ProcessRunner

    _logging()
    if not args.topics and not args.all:
        return _fail(ValueError("name the topics to record, or pass --all"))
    if args.topics and args.all:
        return _fail(ValueError("give topics or --all, not both"))
    output = args.output or datetime.datetime.now().strftime("facewire_%Y%m%d_%H%M%S.mcap")
    try:
        recorder = Recorder(name="bag_record", params={
            "path": output, "topics": tuple(args.topics), "compression": args.compression,
            "chunk_size": args.chunk_size, "flush_s": args.flush_interval,
            "duration": args.duration or 0.0})
        runner = ProcessRunner(recorder, registry=args.registry)  # no file without a graph
    except (RegistryUnreachable, OSError, ValueError) as exc:
        return _fail(exc)
    logging.getLogger("facewire.bag").info(
        "recording %s to %s (Ctrl-C stops)", " ".join(args.topics) or "all topics", output)
    return runner.run()


def play_bag(args: argparse.Namespace) -> int:
    from facewire.bag.player import Player
    from facewire.bag.reader import BagError
    from facewire.bus.client import RegistryUnreachable
    from facewire.bus.runners import ProcessRunner

    _logging()
    try:
        player = Player(name="bag_play", params={
            "path": args.file, "topics": tuple(args.topics or ()), "rate": args.rate,
            "loop": args.loop, "start": args.start, "fast": args.fast,
            "wait_subscribers": args.wait_subscribers, "wait_timeout": args.wait_timeout})
        runner = ProcessRunner(player, registry=args.registry)
    except (BagError, RegistryUnreachable, ValueError) as exc:
        return _fail(exc)
    return runner.run()


def _stamp(ns: int) -> str:
    t = datetime.datetime.fromtimestamp(ns / 1e9)
    return t.isoformat(sep=" ", timespec="milliseconds")


def format_info(info: BagInfo) -> str:
    """The text of ``facewire bag info``."""
    lost = info.size - info.recovered_bytes
    if info.complete:
        status = "complete"
    else:
        status = (f"TRUNCATED: {info.problem}; recovered {info.messages} messages in "
                  f"{info.chunks} complete chunks, {lost} bytes after them lost "
                  "('facewire bag repair' writes a complete copy)")
    lines = [
        f"path:        {info.path}",
        f"size:        {info.size} bytes",
        f"status:      {status}",
        f"messages:    {info.messages}",
    ]
    if info.messages:
        lines += [
            f"duration:    {info.duration_s:.3f} s",
            f"start:       {_stamp(info.start_ns)}",
            f"end:         {_stamp(info.end_ns)}",
        ]
    lines.append(f"compression: {', '.join(sorted(info.compression)) or 'none'} "
                 f"({info.chunks} chunks)")
    lines.append("topics:")
    width = max((len(t) for t in info.topics), default=0)
    for t in sorted(info.topics.values(), key=lambda t: t.topic):
        hz = ""
        if info.duration_s > 0 and t.count > 1:
            hz = f"  ~{t.count / info.duration_s:.1f} Hz"
        lines.append(f"  {t.topic:<{width}}  {t.type:<12} {t.count:>8} msgs{hz}")
    return "\n".join(lines)


def show_info(args: argparse.Namespace) -> int:
    from facewire.bag.reader import BagError, BagReader

    try:
        info = BagReader(args.file).info()
    except BagError as exc:
        return _fail(exc)
    print(json.dumps(info.as_dict(), indent=2) if args.json else format_info(info))
    return 0


def repair_bag(args: argparse.Namespace) -> int:
    from facewire.bag.reader import BagError, repair

    try:
        info = repair(args.file, args.output, compression=args.compression)
    except (BagError, OSError) as exc:
        return _fail(exc)
    what = f"was truncated ({info.problem})" if info.problem else "was already complete"
    print(f"{args.file} {what}; wrote {info.messages} messages to {args.output}")
    return 0


def export_csv(args: argparse.Namespace) -> int:
    """One take per subject, timecode from each frame's media_time."""
    from pathlib import Path

    import numpy as np

    from facewire.bag.reader import BagError, BagReader
    from facewire.bridges.livelink_csv import take_filename, write_livelink_csv
    from facewire.messages.types import Blendshapes

    try:
        messages = BagReader(args.file).read_all([args.topic])
    except BagError as exc:
        return _fail(exc)
    takes: dict[str, list[Blendshapes]] = {}
    for m in messages:
        if isinstance(m.msg, Blendshapes) and m.msg.weights.size == 52:
            takes.setdefault(m.msg.subject or "facewire", []).append(m.msg)
    if not takes:
        return _fail(ValueError(f"no ARKit Blendshapes on {args.topic} in {args.file}"))
    out = Path(args.out)
    many = len(takes) > 1 or out.suffix.lower() != ".csv"
    if many:
        out.mkdir(parents=True, exist_ok=True)
    for subject, frames in takes.items():
        frames.sort(key=lambda f: f.header.media_time)
        path = out / take_filename(Path(args.file).stem, 1, subject) if many else out
        write_livelink_csv(path, np.stack([f.weights for f in frames]),
                           times=np.array([f.header.media_time for f in frames]),
                           fps=frames[0].fps)
        print(f"{subject}: {len(frames)} frames -> {path}")
    return 0


def export_json_bag(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facewire.bag.json_export import export_json
    from facewire.bag.reader import BagError

    src = Path(args.file)
    out = Path(args.out) if args.out else src.with_name(src.stem + ".json.mcap")
    try:
        counts = export_json(src, out, args.topics)
    except (BagError, OSError, ValueError) as exc:
        return _fail(exc)
    skipped = counts.pop("undecodable", 0)
    total = sum(counts.values())
    if not total:
        out.unlink(missing_ok=True)
        return _fail(ValueError(f"nothing to export from {src}"
                                + (f" on {' '.join(args.topics)}" if args.topics else "")))
    print(f"{total} messages on {len(counts)} topics -> {out}"
          + (f" ({skipped} undecodable skipped)" if skipped else ""))
    return 0
