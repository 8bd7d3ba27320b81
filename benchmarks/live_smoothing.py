"""Which live smoother keeps the lips closing: candidates scored on the live model's output.

The shipped live model animates each clip once through the in-process node graph with no
smoothing (``blendshapes_raw`` after the voice-activity gate, what the smoother node
receives); each candidate smoother then runs over those frames as the node would. Scored
on held-out synthetic clips (closure of /p b m/, false closure, open/close, jitter), the
real FACEGOOD captures (closure events of the real lips, false closure, jaw correlation)
and the real FSDD speakers (open/close, rounding). Baseline in the same run: no smoothing.
The selection rule is in docs/validation.md.

    python benchmarks/live_smoothing.py --data evalset4 [--model NAME] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from facewire.dsp.smoothing import LIP_CURVES, PRESETS, CurveSmoother, SmootherSpec
from facewire.offline import animate_file
from facewire.rig.arkit import ARKIT_INDEX


def candidates() -> dict[str, tuple[SmootherSpec, dict[int, SmootherSpec]]]:
    none = SmootherSpec(method="none")
    lips_raw = {ARKIT_INDEX[n]: none for n in LIP_CURVES}
    out: dict[str, tuple[SmootherSpec, dict[int, SmootherSpec]]] = {
        "none": (none, {}),
        "one_euro 1 Hz b0.05 (former default)": (SmootherSpec("one_euro", min_cutoff=1.0,
                                                              beta=0.05), {}),
        "closure_safe (one_euro 1 Hz, lips raw)": closure_safe(),
    }
    for mc, beta in ((1.0, 1.0), (1.0, 5.0), (1.0, 20.0), (3.0, 1.0), (3.0, 5.0), (5.0, 5.0),
                     (8.0, 2.0), (12.0, 2.0)):
        out[f"one_euro {mc:g} Hz b{beta:g}"] = (SmootherSpec("one_euro", min_cutoff=mc,
                                                             beta=beta), {})
    out["one_euro 3 Hz b1, lips raw"] = (SmootherSpec("one_euro", min_cutoff=3.0, beta=1.0),
                                         lips_raw)
    out["savgol 5 (2 frames late; reference)"] = (SmootherSpec("savgol", window=5), {})
    out["savgol 3/1 (1 frame late; reference)"] = (SmootherSpec("savgol", window=3, order=1),
                                                    {})
    return out


def closure_safe() -> tuple[SmootherSpec, dict[int, SmootherSpec]]:
    """The preset the live launch files use, built as the smoother node builds it."""
    base, per = PRESETS["closure_safe"]
    default = {"min_cutoff": 1.0, "beta": 0.05, **base}  # the node's parameter defaults
    return SmootherSpec(**default), {ARKIT_INDEX[n]: SmootherSpec(**{**default, **o})
                                     for n, o in per.items()}


def smooth(raw: np.ndarray, spec: SmootherSpec, per: dict[int, SmootherSpec],
           fps: float = 60.0) -> np.ndarray:
    s = CurveSmoother(raw.shape[1], spec, per)
    frames = [y for i, x in enumerate(raw) for y, _ in s.push(x, i / fps)]
    frames += [y for y, _ in s.flush()]
    return np.clip(np.stack(frames), 0.0, 1.0)


class RawCache:
    """audio -> the graph's unsmoothed frames, computed once per clip (keyed by content)."""

    def __init__(self, model: str, tmp: Path) -> None:
        self.model, self.tmp, self.raw = model, tmp, {}
        self.transform = lambda raw: raw

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(np.asarray(audio, np.float32).tobytes()).hexdigest()
        if key not in self.raw:
            path = self.tmp / f"{key}.wav"
            sf.write(path, np.asarray(audio, np.float32), 16000, subtype="FLOAT")
            self.raw[key] = animate_file(path, model=self.model,
                                         smoothing={"method": "none"}).weights
        return self.transform(self.raw[key])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", default=[], help="synthetic held-out corpus")
    ap.add_argument("--model", default="facewire_cnn_gru_logmel_live")
    ap.add_argument("--facegood", default=None, help="FACEGOOD folder (default: data root)")
    ap.add_argument("--fsdd", default=None, help="FSDD folder (default: data root)")
    ap.add_argument("--quick", action="store_true", help="a few clips, three candidates")
    args = ap.parse_args()

    from facewire.train.blendshapes.evaluate import evaluate_clips, fsdd_phonetic
    from facewire.train.blendshapes.real_voice import facegood_scores
    from facewire.train.data.dataset import load_sources
    from facewire.train.data.loaders import data_root, load_facegood
    from facewire.train.metrics import default_aperture

    aperture = default_aperture()
    if aperture is None:
        print("live_smoothing: the ICT rig is needed for lip aperture", file=sys.stderr)
        return 2
    root = data_root()
    fg_dir = Path(args.facegood) if args.facegood else (root / "facegood" if root else None)
    fsdd = Path(args.fsdd) if args.fsdd else (root / "fsdd" if root else None)
    utts = load_sources(args.data) if args.data else []
    seen = _train_voices(args.model)
    utts = [u for u in utts if u.voice not in seen]  # held-out voices only
    takes = load_facegood(fg_dir) if fg_dir and fg_dir.exists() else []
    cands = candidates()
    if args.quick:
        utts, takes = utts[:3], [t for t in takes[:1]]
        for t in takes:  # 20 s of one capture
            t.curves, t.audio = t.curves[:1200], t.audio[:320000]
        cands = {k: cands[k] for k in list(cands)[:3]}
        fsdd = None
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = RawCache(args.model, Path(tmp))
        t0 = time.perf_counter()
        for name, (spec, per) in cands.items():
            cache.transform = lambda raw, s=spec, p=per: smooth(raw, s, p)
            r: dict[str, float] = {"delay_ms": CurveSmoother(52, spec, per).delay_frames
                                   * 1000 / 60, "cost_us": cost_us(spec, per)}
            if utts:
                r.update(evaluate_clips(cache, utts, aperture))
            if takes:
                r.update(facegood_scores(cache, takes, aperture))
            if fsdd is not None and fsdd.exists():
                r.update(fsdd_phonetic(cache, fsdd, aperture))
            rows[name] = r
            print(f"  {name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    base = rows["none"]
    print(f"model {args.model}; {len(utts)} synthetic clips, {len(takes)} FACEGOOD takes; "
          f"self_smooth relative to no smoothing")
    head = (f"{'smoother':40s} {'delay':>6s} {'closure':>8s} {'false':>6s} {'o/c':>5s} "
            f"{'jitter':>7s} {'fg_clos':>8s} {'fg_short':>8s} {'fg_false':>8s} {'fg_jaw_r':>8s} "
            f"{'fsdd_o/c':>8s} {'fsdd_rnd':>8s} {'us/frame':>8s} {'eligible':>8s}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        print(f"{name:40s} {r['delay_ms']:6.1f} {100 * r.get('closure', np.nan):7.1f}% "
              f"{100 * r.get('false_closure', np.nan):5.1f}% {r.get('open_close', np.nan):5.2f} "
              f"{r.get('self_smooth', np.nan) / base.get('self_smooth', np.nan):7.2f} "
              f"{100 * r.get('fg_closure', np.nan):7.1f}% "
              f"{100 * r.get('fg_closure_short', np.nan):7.1f}% "
              f"{100 * r.get('fg_false_closure', np.nan):7.1f}% {r.get('fg_jaw_r', np.nan):8.3f} "
              f"{r.get('fsdd_open_close', np.nan):8.2f} {r.get('fsdd_rounding', np.nan):8.2f} "
              f"{r['cost_us']:8.1f} "
              f"{'yes' if eligible(r, base) else 'no':>8s}")
    pick = min((n for n, r in rows.items() if eligible(r, base)),
               key=lambda n: rows[n].get("self_smooth", 0.0))
    print(f"selection rule (docs/validation.md) picks: {pick}")
    if "fg_events" in base:
        print(f"FACEGOOD closure events: {base['fg_events']:.0f} "
              f"({base['fg_short_events']:.0f} short)")
    return 0


def cost_us(spec: SmootherSpec, per: dict[int, SmootherSpec], frames: int = 3000) -> float:
    """Compute per frame of one CurveSmoother.push, best of three runs, in microseconds."""
    x = np.random.default_rng(0).random((frames, 52))
    best = float("inf")
    for _ in range(3):
        s = CurveSmoother(52, spec, per)
        t0 = time.perf_counter()
        for i, row in enumerate(x):
            s.push(row, i / 60)
        best = min(best, (time.perf_counter() - t0) / frames * 1e6)
    return best


def _train_voices(model: str) -> set[str]:
    from facewire.models.runtime import read_card_safe, resolve_model

    card = read_card_safe(resolve_model(model)[1])
    return set(((card.get("training") or {}).get("split") or {}).get("train_voices", []))


def eligible(r: dict[str, float], base: dict[str, float]) -> bool:
    """docs/validation.md: no delay; closures kept within 2 points, false closure within 1,
    FSDD open/close within 0.05 of no smoothing (a missing figure does not disqualify)."""
    def drop(key: str) -> float:
        v, b = r.get(key, np.nan), base.get(key, np.nan)
        return 0.0 if v != v or b != b else b - v

    return (r["delay_ms"] == 0 and drop("fg_closure") <= 0.02
            and drop("fg_closure_short") <= 0.02 and drop("closure") <= 0.02
            and -drop("false_closure") <= 0.01 and drop("fsdd_open_close") <= 0.05)


if __name__ == "__main__":
    sys.exit(main())
