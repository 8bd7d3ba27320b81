"""``facewire data``: build and inspect training corpora (``facewire data synth ...``)."""

from __future__ import annotations

import argparse
import sys


def _synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facewire.train.data.synth import synth_corpus

    engines = args.engines.split(",") if args.engines else None
    with tqdm(total=round(args.minutes * 60, 1), unit="s audio", disable=args.quiet) as bar:
        def progress(done: float) -> None:
            # Set rather than add: summed float steps drift past the total and tqdm warns.
            bar.n = min(round(done, 1), bar.total)
            bar.refresh()

        try:
            clips = synth_corpus(args.out, args.minutes, seed=args.seed, engines=engines,
                                 augment_strength=args.augment, progress=progress,
                                 closure_strength=args.closure_aug,
                                 pad_strength=args.pad_silence,
                                 flite_f0=args.flite_f0)
        except RuntimeError as exc:
            print(f"facewire data synth: {exc}", file=sys.stderr)
            return 2
    voices = {c.voice for c in clips}
    minutes = sum(c.duration for c in clips) / 60
    print(f"{len(clips)} clips, {minutes:.2f} min, {len(voices)} voices -> {args.out}")
    return 0


def _relabel(args: argparse.Namespace) -> int:
    from facewire.train.data.synth import relabel_corpus

    try:
        n = relabel_corpus(args.folder)
    except (FileNotFoundError, ValueError) as exc:
        print(f"facewire data relabel: {exc}", file=sys.stderr)
        return 2
    print(f"{n} clips relabelled with the current teacher -> {args.folder}")
    return 0


def hz_range(text: str) -> tuple[float, float]:
    """``LOW,HIGH`` in Hz (argparse type: a bad value is reported as a usage error)."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"takes LOW,HIGH in Hz (e.g. 90,260), got {text!r}") from None
    return low, high


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build training corpora")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    s = dsub.add_parser("synth", help="synthetic multi-voice corpus with teacher curves")
    s.add_argument("--out", required=True, help="corpus folder to write")
    s.add_argument("--minutes", type=float, default=10.0, help="minutes of speech")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--engines", default="", help="comma list of espeak,flite,festival "
                   "(default: all installed)")
    s.add_argument("--augment", type=float, default=1.0,
                   help="augmentation strength, 0 turns it off")
    s.add_argument("--closure-aug", type=float, default=0.0, metavar="S",
                   help="make /p b m/ intervals voiced, noisy or smeared as people's are "
                   "(label stays closed); 0.6*S of them (default 0: off)")
    s.add_argument("--pad-silence", type=float, default=0.0, metavar="S",
                   help="pad 0.7*S of the clips with 0.3-3 s of low noise or silence before "
                   "and after the speech, as a microphone's stream has (default 0: off)")
    s.add_argument("--flite-f0", type=hz_range, default=None, metavar="LOW,HIGH",
                   help="draw each flite clip's mean pitch (Hz) from this range, so that the "
                   "male flite voices also speak at female pitch (default: their own)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_synth)
    r = dsub.add_parser("relabel", help="recompute a corpus's curves with the current teacher")
    r.add_argument("folder", help="corpus folder (from facewire data synth)")
    r.set_defaults(func=_relabel)
