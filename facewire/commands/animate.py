"""``facewire animate INPUT... --out DIR``: audio files to animation files, offline.

For each input: a Live Link Face style CSV, an .npz of the curves, an MCAP bag of the
graph's audio and blendshapes, and a PNG of the main mouth curves over the waveform.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="animate audio files offline (CSV, npz, bag, plot)")
    p.add_argument("inputs", nargs="+", help="audio files or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default="", help="model folder or .onnx (default: bundled)")
    p.add_argument("--fps", type=float, default=60.0, choices=(60.0, 30.0))
    p.add_argument("--smoothing", default="savgol", choices=("savgol", "one_euro", "none"))
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    p.add_argument("--text", default=None, help="the transcript of a single input (else a "
                   "STEM.TextGrid/.lab/.txt beside each audio file is used when present)")
    p.add_argument("--no-transcript", action="store_true",
                   help="ignore transcripts: animate from the audio alone")
    p.add_argument("--fusion", default=None, help="phone fusion card (default: bundled)")
    p.add_argument("--emotion", default="", help="an emotion for every take (facewire "
                   "emotion list), fused over the speech so the lips still close")
    p.add_argument("--intensity", type=float, default=None,
                   help="the emotion's intensity in [0, 1] (default 0.5)")
    p.set_defaults(func=run)


def collect_inputs(items: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            files.append(path)
    return files


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facewire.animate_outputs import write_outputs
    from facewire.audio import AudioSourceError
    from facewire.models.runtime import ModelError
    from facewire.offline import limit_blas_threads
    from facewire.offline_words import animate_file_words
    from facewire.phones.fusion import load_fusion

    def tqdm_warn(message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    files = collect_inputs(args.inputs)
    if not files:
        print("facewire animate: no audio files found in the inputs", file=sys.stderr)
        return 2
    if args.text is not None and len(files) != 1:
        print(f"facewire animate: --text gives one file's transcript but {len(files)} files "
              "were given; animate one file, or put STEM.txt beside each", file=sys.stderr)
        return 2
    from facewire.emotion.presets import EmotionError
    from facewire.offline_emotion import emotion_amounts

    try:
        if args.intensity is not None and not args.emotion:
            raise EmotionError("--intensity needs --emotion NAME (facewire emotion list)")
        emotion_amounts(args.emotion, args.intensity)
    except EmotionError as exc:
        print(f"facewire animate: {exc}", file=sys.stderr)
        return 2
    try:
        fusion = load_fusion(args.fusion) if args.fusion else None
    except (OSError, ValueError) as exc:
        print(f"facewire animate: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    stems: dict[str, Path] = {}
    for path in files:  # outputs are named by stem: two inputs must not share one
        if stems.setdefault(path.stem, path) != path:
            print(f"facewire animate: {stems[path.stem]} and {path} would both write "
                  f"{out / path.stem}.*; rename one or animate them into separate --out "
                  "folders", file=sys.stderr)
            return 2
    if out.exists() and not out.is_dir():
        print(f"facewire animate: --out {out} is a file; name a folder (it is created if "
              "missing)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    limit_blas_threads()
    failed = 0
    audio_s = compute_s = 0.0
    for path in tqdm(files, desc="animate", unit="file", disable=len(files) < 2):
        t0 = time.perf_counter()
        try:
            take = animate_file_words(path, text=args.text, sidecar=not args.no_transcript,
                                      model=args.model, smoothing={"method": args.smoothing},
                                      fps=args.fps, fusion=fusion, warn=tqdm_warn,
                                      emotion=args.emotion, intensity=args.intensity)
        except AudioSourceError as exc:  # the audio node's own check names file and fix
            print(f"skipped: {exc}", file=sys.stderr)
            failed += 1
            continue
        except ModelError as exc:  # the same for every file: stop at once
            print(f"facewire animate: --model: {exc}", file=sys.stderr)
            return 2
        compute_s += time.perf_counter() - t0
        audio_s += len(take.audio) / take.sample_rate  # a take ends with its audio
        written = write_outputs(take, out / path.stem, plot=not args.no_plot)
        tqdm.write(f"{path} -> {', '.join(str(w) for w in written)}")
    if compute_s > 0:
        print(f"{len(files) - failed} file(s), {audio_s:.1f} s of audio in {compute_s:.2f} s "
              f"({audio_s / compute_s:.0f}x real time)")
    return 1 if failed else 0
