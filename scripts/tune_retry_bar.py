"""Reproduce the choice of the bar an alignment retry must clear (facewire.phones.words).

A retry (noise-gated copy, wide search) gets more chances to squeeze a transcript onto the
audio, wrong ones included, so it meets a stricter plausibility bar than the first try.
Validation data only (never the held-out sets docs/models.md reports): a synthetic corpus
(``facewire data synth --out val --minutes 4 --seed 22``). Every clip is aligned with its
own line (right) and with the line of the clip seven rows on (wrong), every retry attempt
scored; the chosen bar is the loosest on the grid (the most right attempts passing) that
lets no wrong attempt through.

    python scripts/tune_retry_bar.py --val VAL_DIR [--clips 70]
"""

from __future__ import annotations

import argparse
import itertools
import sys

from facewire.phones.align import AlignmentError
from facewire.phones.transcript import normalize_transcript
from facewire.phones.words import WordsAligner
from facewire.train.blendshapes.eval_words import load_text_clips

CONFIDENCE = tuple(range(-38, -29))
COVERAGE = (0.6, 0.7, 0.8, 0.9)


def retry_scores(aligner: WordsAligner, audio, text: str) -> list[tuple[float, float]]:
    """(confidence, coverage) of each retry attempt that aligns at all."""
    aligner.align_text(audio, text)  # out-of-dictionary words enter the dictionaries here
    words = " ".join(normalize_transcript(text))
    out = []
    for al, x, note in aligner._attempts(audio):  # the first try too: pocketsphinx's
        try:  # running normalisation then sees what it saw when the bar was chosen
            phones = al.align(x, words)
        except AlignmentError:
            continue
        chk = aligner._check(phones, x, al, audio)
        if note:
            out.append((chk.confidence, chk.coverage))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--val", required=True, help="validation synth corpus")
    ap.add_argument("--clips", type=int, default=70)
    args = ap.parse_args()
    clips = load_text_clips(args.val)[: args.clips]
    aligner = WordsAligner()
    right, wrong = [], []
    for i, c in enumerate(clips):
        right += retry_scores(aligner, c.audio, c.text)
        wrong += retry_scores(aligner, c.audio, clips[(i + 7) % len(clips)].text)
    print(f"{len(clips)} clips: {len(right)} right and {len(wrong)} wrong retry attempts")
    best = None
    for conf, cov in itertools.product(CONFIDENCE, COVERAGE):
        n_right = sum(c >= conf and v >= cov for c, v in right)
        n_wrong = sum(c >= conf and v >= cov for c, v in wrong)
        print(f"confidence >= {conf}, coverage >= {cov}: right {n_right}, wrong {n_wrong}")
        if n_wrong == 0 and (best is None or n_right > best[0]):
            best = (n_right, conf, cov)
    print("chosen: " + (f"confidence >= {best[1]}, coverage >= {best[2]}" if best else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
