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
    from facewire.nodes.audio import AudioSourceError
    from facewire.offline import animate_file, limit_blas_threads

    files = collect_inputs(args.inputs)
    if not files:
        print("facewire animate: no audio files found in the inputs", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limit_blas_threads()
    failed = 0
    audio_s = compute_s = 0.0
    for path in tqdm(files, desc="animate", unit="file", disable=len(files) < 2):
        t0 = time.perf_counter()
        try:
            take = animate_file(path, model=args.model, smoothing={"method": args.smoothing},
                                fps=args.fps)
        except AudioSourceError as exc:  # the audio node's own check names file and fix
            print(f"skipped: {exc}", file=sys.stderr)
            failed += 1
            continue
        compute_s += time.perf_counter() - t0
        audio_s += len(take.audio) / take.sample_rate
        written = write_outputs(take, out / path.stem, plot=not args.no_plot)
        tqdm.write(f"{path} -> {', '.join(str(w) for w in written)}")
    if compute_s > 0:
        print(f"{len(files) - failed} file(s), {audio_s:.1f} s of audio in {compute_s:.2f} s "
              f"({audio_s / compute_s:.0f}x real time)")
    return 1 if failed else 0
