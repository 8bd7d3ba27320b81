"""Long files: cut transcript and audio into sentence-sized pieces that align one by one.

pocketsphinx aligns a few seconds of speech well, but a whole minute in one search is slow
and one bad spot anywhere (a mispronounced name) loses the lot. So a long transcript is
split at its punctuation into sentences (clauses if needed), the audio's pauses are found,
and each sentence boundary is placed on a pause by dynamic programming: the boundary
expected where the sentence's share of the phones says (speaking rate is roughly even over
a take), moved to the pause that keeps every boundary in order with the least squared
shift. Each piece then aligns on its own; a piece that fails leaves only its own span to
the voice.
"""

from __future__ import annotations

import re

import numpy as np

from facewire.phones.plausibility import FRAME_S, active_frames

MIN_PAUSE_S = 0.12  # a gap in the speech at least this long may hold a sentence boundary
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
CLAUSE_END = re.compile(r"(?<=[,])\s+")
MAX_UNIT_WORDS = 40
SHIFT_S = 1.0  # a boundary this far from where the phone count expects it costs 1
LONG_PAUSE_S = 0.28  # pauses this long or longer look like sentence ends (cost 0) ...
SHORT_PAUSE_COST = 4.0  # ... the shortest cost this much  # a "sentence" longer than this is cut at its commas


def split_units(text: str) -> list[str]:
    """Sentences (and clauses of very long sentences) of a written transcript."""
    out: list[str] = []
    for sent in SENTENCE_END.split(text):
        if not sent.strip():
            continue
        if len(sent.split()) > MAX_UNIT_WORDS:
            out += [c for c in CLAUSE_END.split(sent) if c.strip()]
        else:
            out.append(sent.strip())
    return out


def pauses(audio: np.ndarray, min_pause_s: float = MIN_PAUSE_S
           ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Centres and lengths (s) of the pauses inside the speech, and where speech starts
    and ends."""
    act = active_frames(audio)
    idx = np.nonzero(act)[0]
    if len(idx) == 0:
        return np.zeros(0), np.zeros(0), 0.0, len(audio) / 16000
    first, last = int(idx[0]), int(idx[-1])
    centres, lengths = [], []
    run = 0
    for i in range(first, last + 1):
        if not act[i]:
            run += 1
        else:
            if run * FRAME_S >= min_pause_s:
                centres.append((i - run / 2) * FRAME_S)
                lengths.append(run * FRAME_S)
            run = 0
    return np.array(centres), np.array(lengths), first * FRAME_S, (last + 1) * FRAME_S


def place_boundaries(expected: np.ndarray, candidates: np.ndarray,
                     lengths: np.ndarray | None = None) -> np.ndarray | None:
    """Strictly increasing choice of candidates, one per expected boundary, minimising the
    summed squared distance in units of ``SHIFT_S`` plus a penalty for short pauses
    (sentences end in long ones); dynamic programming. None when there are too few."""
    k, p = len(expected), len(candidates)
    if k == 0:
        return np.zeros(0)
    if p < k:
        return None
    cost = ((expected[:, None] - candidates[None, :]) / SHIFT_S) ** 2  # [k, p]
    if lengths is not None:
        cost = cost + SHORT_PAUSE_COST * (1 - np.minimum(lengths / LONG_PAUSE_S, 1))[None, :]
    dp = np.full((k, p), np.inf)
    back = np.zeros((k, p), dtype=np.intp)
    dp[0] = cost[0]
    for b in range(1, k):
        # best previous choice strictly left of each candidate: a running minimum
        best = np.minimum.accumulate(dp[b - 1])
        arg = np.zeros(p, dtype=np.intp)
        for j in range(1, p):
            arg[j] = arg[j - 1] if dp[b - 1][arg[j - 1]] <= dp[b - 1][j] else j
        dp[b, 1:] = cost[b, 1:] + best[:-1]
        back[b, 1:] = arg[:-1]
    j = int(np.argmin(dp[-1]))
    if not np.isfinite(dp[-1, j]):
        return None
    chosen = [j]
    for b in range(k - 1, 0, -1):
        j = int(back[b, j])
        chosen.append(j)
    return candidates[np.array(chosen[::-1])]


def plan_chunks(units_phones: list[int], audio: np.ndarray
                ) -> list[tuple[float, float]] | None:
    """(start, end) in seconds for each unit, from its phone count and the pauses; None
    when the audio has fewer pauses than the transcript has sentence boundaries."""
    centres, lengths, t0, t1 = pauses(audio)
    share = np.cumsum(units_phones) / max(sum(units_phones), 1)
    expected = t0 + share[:-1] * (t1 - t0)
    cuts = place_boundaries(expected, centres, lengths)
    if cuts is None:
        return None
    end = len(audio) / 16000
    edges = [0.0, *cuts.tolist(), end]
    return [(edges[i], edges[i + 1]) for i in range(len(units_phones))]
