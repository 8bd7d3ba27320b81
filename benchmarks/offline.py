"""Offline animation speed: ``facewire animate``'s graph as a multiple of real time.

Runs the bundled clip through the same nodes `animate` uses (audio -> features ->
blendshapes -> smoother, in-process), and, as the baseline in the same run, the bare
model on precomputed features: the ratio shows what the node graph costs on top.

    python benchmarks/offline.py [--repeat 5] [--model DIR] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from facewire.models.logmel import logmel
from facewire.models.runtime import StreamingPredictor, default_model_path
from facewire.nodes.audio import BUNDLED_AUDIO, read_audio_file
from facewire.offline import animate_file


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default="")
    ap.add_argument("--path", default=str(BUNDLED_AUDIO / "demo_clip.wav"))
    ap.add_argument("--quick", action="store_true", help="one repeat (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.repeat = 1
    data, rate = read_audio_file(args.path)
    seconds = len(data) / rate
    model = args.model or str(default_model_path())

    graph_s = best_of(args.repeat, lambda: animate_file(args.path, model=model))
    predictor = StreamingPredictor(model, device="cpu")
    audio16 = data[:, 0] if rate == 16000 else None
    if audio16 is None:
        print("baseline needs a 16 kHz clip", file=sys.stderr)
        return 2
    features_s = best_of(args.repeat, lambda: logmel(audio16))
    feats = logmel(audio16)
    model_s = best_of(args.repeat, lambda: predictor.predict(feats))
    print(f"clip: {args.path} ({seconds:.1f} s), model {model}, best of {args.repeat}")
    print(f"{'path':38s} {'seconds':>8s} {'x real time':>12s}")
    for label, s in (("animate graph (audio..smoother)", graph_s),
                     ("baseline: log-mel + bare model", features_s + model_s),
                     ("  of which log-mel", features_s), ("  of which model", model_s)):
        print(f"{label:38s} {s:8.3f} {seconds / s:12.0f}")
    print(f"graph / baseline time: {graph_s / (features_s + model_s):.2f}x  "
          f"(goal: animate >= 200x real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
