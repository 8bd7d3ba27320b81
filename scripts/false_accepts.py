"""Measure how often the words path accepts the right transcript and a wrong one.

The plausibility check (facewire.phones.plausibility) and the alignment retries
(facewire.phones.words) are judged together, as ``animate`` uses them: the first 60 clips
of a synthetic corpus with their own line (right) and with the line seven rows on
(another clip's sentence); every fifth FSDD recording of takes 0-4 (40) with its digit,
the digit five on (a one-word swap), and a synthetic sentence. docs/models.md reports:

    facewire data synth --out SYNTH --minutes 6 --seed 21
    python scripts/false_accepts.py --synth SYNTH [--fsdd ../shared/data/fsdd]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from facewire.phones.words import WordsAligner
from facewire.train.blendshapes.evaluate import DIGIT_WORDS
from facewire.train.data.loaders import load_audio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synth", required=True, help="synthetic corpus (facewire data synth)")
    ap.add_argument("--fsdd", default="../shared/data/fsdd")
    args = ap.parse_args()
    synth = Path(args.synth)
    rows = [json.loads(x) for x in (synth / "manifest.jsonl").read_text().splitlines() if x]
    recordings = Path(args.fsdd) / "recordings"
    if not recordings.is_dir():
        print(f"error: {recordings}: no FSDD recordings; pass --fsdd", file=sys.stderr)
        return 2
    wa = WordsAligner()
    res: dict[str, list] = {k: [] for k in ("right", "another sentence", "fsdd right",
                                            "fsdd other digit", "fsdd sentence")}
    for i, r in enumerate(rows[:60]):
        a = load_audio(synth / r["wav"])
        res["right"].append(wa.align_text(a, r["text"]))
        res["another sentence"].append(wa.align_text(a, rows[(i + 7) % len(rows)]["text"]))
    for f in sorted(recordings.glob("*_[0-4].wav"))[::5]:
        d = int(f.name[0])
        a = load_audio(f)
        res["fsdd right"].append(wa.align_text(a, DIGIT_WORDS[d]))
        res["fsdd other digit"].append(wa.align_text(a, DIGIT_WORDS[(d + 5) % 10]))
        res["fsdd sentence"].append(wa.align_text(a, rows[d]["text"]))
    for k, v in res.items():
        ok = sum(s.source == "transcript" for s in v)
        retried = sum(s.source == "transcript" and s.reason.endswith(")") for s in v)
        why = Counter(s.reason.split(" (")[0][:40] for s in v if s.source == "audio")
        print(f"{k}: accepted {ok}/{len(v)} ({retried} on a retry); fallbacks: "
              + ", ".join(f"{n} {r!r}" for r, n in why.most_common(3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
