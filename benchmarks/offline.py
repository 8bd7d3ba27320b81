"""Offline animation speed: ``facewire animate``'s graph as a multiple of real time.

Runs the bundled clip through the same nodes `animate` uses (audio -> features ->
blendshapes -> smoother, in-process), and, as the baseline in the same run, the bare
model on precomputed features: the ratio shows what the node graph costs on top.

With transcripts: espeak-ng speaks lines of known text (a short clip aligned in
one piece, and a long one aligned sentence by sentence); `animate` with the transcript
(pocketsphinx alignment, plausibility check, teacher, fusion) beside audio-only on the
same clips, both as multiples of real time.

    python benchmarks/offline.py [--repeat 5] [--model DIR] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from facewire.audio.files import BUNDLED_AUDIO, read_audio_file
from facewire.models.logmel import logmel
from facewire.models.runtime import StreamingPredictor, default_model_path
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
    ap.add_argument("--quick", action="store_true", help="smoke run: one repeat, short clips")
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
    words_benchmark(model, args.repeat, args.quick)
    return 0


def words_benchmark(model: str, repeat: int, quick: bool) -> None:
    """Audio-only vs with-transcript ``animate`` on espeak-ng clips of known text."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from facewire.offline_words import animate_file_words, shared_aligner
    from facewire.train.data.synth import SENTENCES

    if shutil.which("espeak-ng") is None:
        print("words path: skipped, espeak-ng is not installed")
        return
    t0 = time.perf_counter()
    aligner = shared_aligner()
    aligner.aligner, aligner.loop  # noqa: B018 - load pocketsphinx's models now
    init_s = time.perf_counter() - t0
    lines = {"short (one piece)": " ".join(SENTENCES[: 2 if quick else 4])}
    if not quick:  # over LONG_S (20 s): aligned sentence by sentence
        lines["long (by sentence)"] = " ".join(SENTENCES[:24])
    print(f"\nwith transcripts (alignment included), best of {repeat}; model load and "
          f"pocketsphinx start ({init_s:.2f} s, once per process) not counted")
    print(f"{'clip':22s} {'audio s':>8s} {'audio-only x':>13s} {'transcript x':>13s} "
          f"{'ratio':>6s}  source")
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in lines.items():
            wav = Path(tmp) / "line.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
            data, rate = read_audio_file(str(wav))
            seconds = len(data) / rate
            audio_s = best_of(repeat, lambda w=wav: animate_file_words(w, model=model,
                                                                       sidecar=False))
            take = animate_file_words(wav, text=text, model=model, warn=None)
            words_s = best_of(repeat, lambda w=wav, t=text: animate_file_words(
                w, text=t, model=model, warn=None))
            print(f"{label:22s} {seconds:8.1f} {seconds / audio_s:13.0f} "
                  f"{seconds / words_s:13.1f} {words_s / audio_s:6.1f}  {take.source} "
                  f"({take.source_reason})")


if __name__ == "__main__":
    sys.exit(main())
