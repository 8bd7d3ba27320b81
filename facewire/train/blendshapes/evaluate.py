"""Evaluation of blendshape models (``facewire eval``): numbers and a table.

Metrics, per model, averaged over clips:

* ``l2``: mean per-frame Euclidean distance between predicted and target ARKit-52 vectors
  (seed 000), and ``mse`` per curve;
* ``smooth``: temporal smoothness (seed 002), mean over frames of
  ``|(e[t+1]-e[t]) - (e^[t+1]-e^[t])|^2 / N``; ``self_smooth``: of the prediction alone,
  ``|e[t] - (e[t-1]+e[t+1])/2|^2 / N`` (lower is smoother; compare with the target's own);
* phonetic checks on the ICT rig's lip aperture (facewire.train.metrics): ``closure`` (share of
  /p b m/ whose aperture drops below 2 mm), ``open_close`` aperture ratio, ``rounding`` ratio;
* ``vowel_closure`` / ``fsdd_vowel_closure``: share of vowels whose lips are closed (aperture
  under 2 mm) at the vowel's middle frame, on the clips and on the real digits;
* ``lmd`` / ``lmd_lips``: landmark distance over the ICT rig's 68 landmarks (and its 20 lip
  landmarks), normalised by mouth width (seed 000);
* ``fsdd_open_close`` / ``fsdd_rounding``: the same phonetic ratios on real speech (the
  spoken digits), phones from pocketsphinx forced alignment of the known digit word;
* ``fg_closure`` / ``fg_false_closure`` / ``fg_jaw_r`` (``--real``): on the real FACEGOOD
  captures, the share of the real lips' closure events the model also closes, closed
  frames where the real lips are wide open, and jaw correlation
  (facewire.train.blendshapes.real_voice);
* ``en_closure`` / ``en_vowel_closure`` / ... (``--real``): real read English with
  transcripts, phones force-aligned, audio-only (facewire.train.blendshapes.real_english);
* ``xspk``: on the spoken-digits data, DTW distance between the same digit from different
  speakers over the same-speaker distance (1 = speaker-agnostic); ``xspk_warm`` the same
  with each digit animated after its speaker has talked for a few seconds (a live session).

Models are exported ONNX (through the runtime, i.e. what ships) or torch checkpoints.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facewire.train.data.dataset import Utterance
from facewire.train.metrics import (
    BILABIALS,
    LandmarkDistance,
    LipAperture,
    bilabial_closure_rate,
    dtw_distance,
    false_closure_rate,
    open_close_aperture_ratio,
    rounding_ratio,
    vowel_closure_rate,
)

Predict = Callable[[np.ndarray], np.ndarray]  # 16 kHz audio -> [frames, 52] at 60 fps
COLUMNS = ("l2", "lmd", "lmd_lips", "smooth", "self_smooth", "closure", "false_closure",
           "vowel_closure",
           "open_close", "rounding", "fg_closure", "fg_closure_short", "fg_false_closure",
           "fg_jaw_r", "en_bilabials", "en_closure", "en_false_closure", "en_vowel_closure",
           "en_open_close", "en_rounding",
           "fsdd_open_close", "fsdd_rounding", "fsdd_vowel_closure", "xspk", "xspk_warm")
GROUP_COLUMNS = ("clips", "bilabials", "closure", "false_closure", "open_close", "rounding",
                 "l2")
GROUPINGS = ("engine", "voice")
SAMPLE_RATE = 16000
WARM_STEP, WARM_STEP_FRAMES = 800, 3  # 50 ms: whole numbers of samples and of 60 fps frames
WARM_GAP_S = 0.5
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LIP_LANDMARKS = tuple(range(48, 68))


def l2_distance(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over frames of the Euclidean distance between weight vectors."""
    return float(np.mean(np.linalg.norm(pred - target, axis=1)))


def temporal_smoothness(pred: np.ndarray, target: np.ndarray) -> float:
    """Seed 002: mismatch of frame-to-frame velocities, per curve."""
    d = np.diff(pred, axis=0) - np.diff(target, axis=0)
    return float(np.mean(np.sum(d**2, axis=1)) / pred.shape[1]) if len(d) else float("nan")


def self_smoothness(x: np.ndarray) -> float:
    """Seed 002: distance of each frame from the mean of its neighbours, per curve."""
    if len(x) < 3:
        return float("nan")
    d = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    return float(np.mean(np.sum(d**2, axis=1)) / x.shape[1])


def model_predictor(path: str | Path, fps: float = 60.0) -> tuple[str, Predict]:
    """A name and audio->curves function for an exported model (.onnx/.json/folder) or a
    torch checkpoint (.pt)."""
    p = Path(path)
    if p.suffix == ".pt":
        from facewire.train.blendshapes.checkpoint import (
            load_checkpoint,
            net_from_checkpoint,
            predict_curves,
        )
        from facewire.train.data.dataset import FeatureSpec, feature_fn

        ck = load_checkpoint(p)
        net = net_from_checkpoint(ck)
        spec = FeatureSpec.from_dict(ck["features"])
        fn = feature_fn(spec)
        return f"{ck['arch']} ({p.parent.name}/{p.name})", \
            lambda audio: predict_curves(net, fn(audio), spec, fps)
    from facewire.models.logmel import logmel
    from facewire.models.runtime import StreamingPredictor

    sp = StreamingPredictor(p, device="cpu", fps=fps)
    if sp.logmel is None:
        from facewire.train.data.dataset import FeatureSpec, feature_fn

        fn = feature_fn(FeatureSpec.from_dict(sp.card["features"]))
        return sp.card["name"], lambda audio: sp.predict(fn(audio))
    cfg = sp.logmel
    return sp.card["name"], lambda audio: sp.predict(logmel(audio, cfg))


def pocketsphinx_teacher() -> tuple[str, Predict]:
    """Baseline: pocketsphinx phone recognition (English allphone decoding, its
    bundled acoustic model) then the co-articulation teacher. Offline: the teacher
    anticipates 120 ms, and the recogniser sees the whole clip."""
    import os

    from pocketsphinx import Decoder, get_model_path

    from facewire.phones.arpabet import SIL, arpabet_phones
    from facewire.phones.teacher import phones_to_curves

    mp = get_model_path()
    dec = Decoder(hmm=os.path.join(mp, "en-us", "en-us"),
                  allphone=os.path.join(mp, "en-us", "en-us-phone.lm.bin"),
                  lw=2.0, pip=0.3, beam=1e-20, pbeam=1e-20, loglevel="FATAL")

    def predict(audio: np.ndarray) -> np.ndarray:
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        phones = []
        for seg in dec.seg():
            try:
                sym = arpabet_phones(seg.word.strip("+"))
            except KeyError:
                sym = (SIL,)
            phones.append((sym[0], seg.start_frame / 100, (seg.end_frame + 1) / 100))
        return phones_to_curves(phones, int(len(audio) / 16000 * 60))

    return "pocketsphinx+teacher (offline)", predict


def evaluate_clips(predict: Predict, utts: Sequence[Utterance], aperture: LipAperture | None,
                   progress: Callable[[Sequence[Utterance]], Any] | None = None,
                   keep: dict[str, np.ndarray] | None = None,
                   landmarks: LandmarkDistance | None = None) -> dict[str, float]:
    """Metrics of one model over clips with target curves: l2/mse/smoothness averaged per
    clip; closure and the ratios pooled over all clips' phones (a single clip may lack a
    vowel class). ``keep`` receives the predictions by clip id (for plots)."""
    from facewire.train.metrics import _as_phone_list

    rows: dict[str, list[float]] = {k: [] for k in ("l2", "mse", "smooth", "self_smooth",
                                                    "lmd", "lmd_lips")}
    aps, ws, phones, t = [], [], [], 0.0
    for u in (progress(utts) if progress else utts):
        pred = predict(u.audio)
        if keep is not None:
            keep[u.id] = pred
        n = min(len(pred), len(u.curves))
        pr, tg = pred[:n], u.curves[:n]
        rows["l2"].append(l2_distance(pr, tg))
        rows["mse"].append(float(np.mean((pr - tg) ** 2)))
        rows["smooth"].append(temporal_smoothness(pr, tg))
        rows["self_smooth"].append(self_smoothness(pr))
        if landmarks is not None:
            per = landmarks.per_landmark(pr, tg)
            rows["lmd"].append(float(per.mean()))
            rows["lmd_lips"].append(float(per[:, list(LIP_LANDMARKS)].mean()))
        if aperture is not None and u.phones:
            aps.append(aperture(pr))
            ws.append(pr)
            end = n / u.fps
            phones += [(p.phone, p.start + t, min(p.end, end) + t)
                       for p in _as_phone_list(u.phones) if p.start < end]
            t += n / u.fps
    out = {k: float(np.nanmean(v)) if v else float("nan") for k, v in rows.items()}
    if aps:
        ap, w = np.concatenate(aps), np.concatenate(ws)
        out.update(closure=bilabial_closure_rate(ap, phones, 60.0),
                   false_closure=false_closure_rate(ap, phones, 60.0),
                   vowel_closure=vowel_closure_rate(ap, phones, 60.0),
                   open_close=open_close_aperture_ratio(ap, phones, 60.0),
                   rounding=rounding_ratio(w, phones, 60.0))
    return out


def replay(preds: dict[str, np.ndarray], utts: Sequence[Utterance]) -> Predict:
    """A predictor that hands back predictions already made (by clip id) for these clips'
    audio: the teacher's own curves, or a model's kept outputs, scored without a rerun."""
    by_audio = {id(u.audio): preds[u.id] for u in utts}
    return lambda audio: by_audio[id(audio)]


def group_of(u: Utterance, by: str) -> str:
    """The voice of a clip, or its engine: the part of a synth voice id before ``:``
    (``espeak:en-us+f3`` -> ``espeak``), else the clip's source."""
    if by == "voice":
        return u.voice
    if by != "engine":
        raise ValueError(f"group by one of {GROUPINGS}, got {by!r}")
    return u.voice.split(":", 1)[0] if ":" in u.voice else (u.source or u.voice)


def evaluate_groups(preds: dict[str, np.ndarray], utts: Sequence[Utterance],
                    aperture: LipAperture | None, by: str) -> dict[str, dict[str, float]]:
    """The metrics of ``evaluate_clips`` per engine or per voice, from predictions already
    made (by clip id), with each group's clip and /p b m/ counts: where a model fails."""
    from facewire.train.metrics import _as_phone_list

    groups: dict[str, list[Utterance]] = {}
    for u in utts:
        if u.id in preds:
            groups.setdefault(group_of(u, by), []).append(u)
    out: dict[str, dict[str, float]] = {}
    for name, members in sorted(groups.items()):
        r = evaluate_clips(replay(preds, members), members, aperture)
        r["clips"] = float(len(members))
        r["bilabials"] = float(sum(p.phone in BILABIALS for u in members
                                   for p in _as_phone_list(u.phones or [])))
        out[name] = r
    return out


def fsdd_clips(folder: str | Path, per_digit: int = 3, first_take: int = 0
               ) -> dict[tuple[str, str], list[Path]]:
    """(digit, speaker) -> up to ``per_digit`` recordings of the spoken-digits set, from the
    ``first_take``-th take on (takes in the order of their numbers)."""
    folder = Path(folder)
    rec = folder / "recordings" if (folder / "recordings").is_dir() else folder
    takes: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for f in rec.glob("*.wav"):
        m = re.match(r"(\d)_([a-z]+)_(\d+)\.wav$", f.name)
        if m:
            takes.setdefault((m[1], m[2]), []).append((int(m[3]), f))
    if not takes:
        raise FileNotFoundError(f"{folder}: no spoken-digit recordings (<digit>_<speaker>_<n>.wav)")
    out = {k: [f for _, f in sorted(v)[first_take:first_take + per_digit]]
           for k, v in takes.items()}
    return {k: v for k, v in out.items() if v}


def after_warm_up(predict: Predict, warm: np.ndarray, gap_s: float = WARM_GAP_S) -> Predict:
    """``predict`` on a clip that follows ``warm`` and a pause in one stream, as in a live
    session where the speaker has already talked: the model's speaker normaliser and
    recurrent state have heard the voice. Only the clip's own 60 fps frames come back."""
    n = -(-(len(warm) + int(gap_s * SAMPLE_RATE)) // WARM_STEP) * WARM_STEP
    prefix = np.zeros(n, np.float32)
    prefix[: len(warm)] = warm
    skip = n // WARM_STEP * WARM_STEP_FRAMES

    def run(audio: np.ndarray) -> np.ndarray:
        return predict(np.concatenate([prefix, np.asarray(audio, np.float32)]))[skip:]

    return run


def with_lead_in(predict: Predict, seconds: float, level_db: float = -60.0,
                 seed: int = 0) -> Predict:
    """``predict`` on each clip preceded by ``seconds`` of low noise, as a microphone's
    stream has before speech; only the clip's own frames come back. The noise is the same
    for every clip (one seed), so models are compared on the same input."""
    n = -(-int(seconds * SAMPLE_RATE) // WARM_STEP) * WARM_STEP
    prefix = (np.random.default_rng(seed).standard_normal(n) * 10 ** (level_db / 20)
              ).astype(np.float32)
    skip = n // WARM_STEP * WARM_STEP_FRAMES

    def run(audio: np.ndarray) -> np.ndarray:
        return predict(np.concatenate([prefix, np.asarray(audio, np.float32)]))[skip:]

    return run


def speaker_warm_up(folder: str | Path, speaker: str, exclude: set[Path],
                    seconds: float) -> np.ndarray:
    """At least ``seconds`` of a speaker's other digits (none of ``exclude``), taking the
    digits in turn from the last takes, with 0.2 s pauses: what the voice said before."""
    from facewire.train.data.loaders import load_audio

    every = fsdd_clips(folder, per_digit=10**6)
    lists = [sorted((f for f in every.get((d, speaker), []) if f not in exclude),
                    key=lambda f: -int(f.stem.rsplit("_", 1)[1])) for d in "0123456789"]
    parts: list[np.ndarray] = []
    total = 0
    for f in (f for row in itertools.zip_longest(*lists) for f in row if f is not None):
        if total >= seconds * SAMPLE_RATE:
            break
        a = load_audio(f)
        parts += [a, np.zeros(SAMPLE_RATE // 5, np.float32)]
        total += len(a)
    if total < seconds * SAMPLE_RATE:
        raise FileNotFoundError(f"{folder}: {speaker} has {total / SAMPLE_RATE:.1f} s of other "
                                f"digits, {seconds:g} s asked for the warm-up")
    return np.concatenate(parts)


def cross_speaker_ratio(predict: Predict, folder: str | Path, per_digit: int = 2,
                        digits: str = "0123456789", warm_s: float = 0.0,
                        first_take: int = 0) -> dict[str, float]:
    """Mean DTW distance of the same digit across speakers over that within a speaker, on
    takes ``first_take`` .. ``first_take + per_digit - 1`` of each digit and speaker.

    With ``warm_s`` each clip is animated as the continuation of a stream in which its
    speaker said ``warm_s`` seconds of other digits first (``after_warm_up``)."""
    from facewire.train.data.loaders import load_audio

    clips = fsdd_clips(folder, per_digit, first_take)
    cache: dict[Path, np.ndarray] = {}
    judged = {f for fs in clips.values() for f in fs}
    by_speaker: dict[str, Predict] = {}

    def curves(p: Path) -> np.ndarray:
        if p not in cache:
            speaker = p.stem.split("_")[1]
            if warm_s > 0 and speaker not in by_speaker:
                by_speaker[speaker] = after_warm_up(
                    predict, speaker_warm_up(folder, speaker, judged, warm_s))
            cache[p] = by_speaker.get(speaker, predict)(load_audio(p))
        return cache[p]

    same, cross = [], []
    speakers = sorted({s for _, s in clips})
    for d in digits:
        for s in speakers:
            fs = clips.get((d, s), [])
            for a, b in itertools.combinations(fs, 2):
                same.append(dtw_distance(curves(a), curves(b)))
        for s1, s2 in itertools.combinations(speakers, 2):
            f1, f2 = clips.get((d, s1)), clips.get((d, s2))
            if f1 and f2:
                cross.append(dtw_distance(curves(f1[0]), curves(f2[0])))
    s, c = float(np.mean(same)), float(np.mean(cross))
    return {"same_speaker": s, "cross_speaker": c, "xspk": c / max(s, 1e-9)}


def check_spread_pairs(pairs: int, first_take: int = 0) -> None:
    """A spread needs two pairs of takes at least (0 means none is asked for), from a take
    that exists."""
    if pairs < 0 or pairs == 1:
        raise ValueError(f"--xspk-pairs {pairs}: a spread needs at least 2 pairs of takes "
                         "(0 skips it)")
    if first_take < 0:
        raise ValueError(f"--xspk-from {first_take}: takes are numbered from 0")


def cross_speaker_spread(predict: Predict, folder: str | Path, pairs: int,
                         digits: str = "0123456789", first_take: int = 0) -> dict[str, float]:
    """``xspk`` on ``pairs`` disjoint pairs of takes (0-1, 2-3, ... or from ``first_take``
    on): its mean, standard deviation and range. One pair of takes per digit and speaker
    (the ``xspk`` column) gives 40 same-speaker distances, few enough that the ratio moves
    by several hundredths from one pair of takes to the next; this says how far."""
    check_spread_pairs(pairs or 1, first_take)  # here 0 pairs is no spread either
    clips = fsdd_clips(folder, 2 * pairs, first_take)
    short = sorted(f"{d}_{s}" for (d, s), fs in clips.items() if d in digits and len(fs) < 2 * pairs)
    if short or not clips:
        raise FileNotFoundError(
            f"{folder}: {len(short) or 'all'} digit/speaker sets have fewer than {2 * pairs} "
            f"takes from take {first_take} on (e.g. {short[0] if short else 'every one'}); "
            "ask for fewer --xspk-pairs or an earlier --xspk-from")
    ratios = np.array([cross_speaker_ratio(predict, folder, 2, digits,
                                           first_take=first_take + 2 * k)["xspk"]
                       for k in range(pairs)])
    return {"xspk_pairs": float(pairs), "xspk_from": float(first_take),
            "xspk_mean": float(ratios.mean()),
            "xspk_sd": float(ratios.std(ddof=1)), "xspk_min": float(ratios.min()),
            "xspk_max": float(ratios.max())}


def fsdd_phonetic(predict: Predict, folder: str | Path, aperture: LipAperture,
                  per_digit: int = 2, aligner: Any = None) -> dict[str, float]:
    """Phonetic ratios on real speech: each spoken digit is force-aligned to its word with
    pocketsphinx, the model animates it, and the open/close aperture and rounding ratios are
    pooled over all clips. (The digits hold no /p b m/, so closure has no real-speech check
    here.)"""
    from facewire.phones.align import AlignmentError, ForcedAligner
    from facewire.train.data.loaders import load_audio
    from facewire.train.metrics import _as_phone_list

    aligner = aligner or ForcedAligner()
    aps, ws, phones, t, failed = [], [], [], 0.0, 0
    for (digit, _speaker), files in sorted(fsdd_clips(folder, per_digit).items()):
        for f in files:
            audio = load_audio(f)
            try:
                ph = aligner.align(audio, DIGIT_WORDS[int(digit)])
            except AlignmentError:
                failed += 1
                continue
            pred = predict(audio)
            n = len(pred)
            aps.append(aperture(pred))
            ws.append(pred)
            phones += [(p.phone, p.start + t, min(p.end, n / 60.0) + t)
                       for p in _as_phone_list(ph) if p.start < n / 60.0]
            t += n / 60.0
    if not aps:
        return {"fsdd_open_close": float("nan"), "fsdd_rounding": float("nan")}
    ap, w = np.concatenate(aps), np.concatenate(ws)
    return {"fsdd_open_close": open_close_aperture_ratio(ap, phones, 60.0),
            "fsdd_vowel_closure": vowel_closure_rate(ap, phones, 60.0),
            "fsdd_rounding": rounding_ratio(w, phones, 60.0),
            "fsdd_aligned": float(len(aps)), "fsdd_unaligned": float(failed)}


def format_table(results: dict[str, dict[str, float]], columns: Sequence[str] = COLUMNS) -> str:
    """Plain-text table, one row per model."""
    cols = [c for c in columns if any(c in r for r in results.values())]
    width = max([len("model")] + [len(n) for n in results]) + 2
    widths = {c: max(12, len(c) + 2) for c in cols}
    head = "model".ljust(width) + "".join(c.rjust(widths[c]) for c in cols)
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        cells = []
        for c in cols:
            v = r.get(c, float("nan"))
            cells.append(("-" if v != v else
                          f"{v:.0f}" if c in ("clips", "bilabials", "aligned",
                                              "en_bilabials") else
                          f"{100 * v:.1f}%" if c in ("closure", "false_closure", "vowel_closure",
                                                     "fsdd_vowel_closure", "fg_closure",
                                                     "fg_closure_short", "fg_false_closure",
                                                     "en_closure", "en_false_closure",
                                                     "en_vowel_closure") else
                          f"{100 * v:.2f}%" if c.startswith("lmd") else
                          f"{v:.2e}" if c in ("smooth", "self_smooth", "mse") else
                          f"{v:.3f}").rjust(widths[c]))
        lines.append(name.ljust(width) + "".join(cells))
    return "\n".join(lines)


def plot_clip(path: str | Path, u: Utterance, preds: dict[str, np.ndarray]) -> Path:
    """Main mouth curves of each model against the target for one clip, over the waveform."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facewire.rig.arkit import ARKIT_INDEX

    names = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft")
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(10, 9), sharex=True)
    axes[0].plot(np.arange(len(u.audio)) / 16000, u.audio, lw=0.4, color="0.4")
    axes[0].set_ylabel("audio")
    t = np.arange(len(u.curves)) / u.fps
    for ax, n in zip(axes[1:], names):
        ax.plot(t, u.curves[:, ARKIT_INDEX[n]], "k", lw=1.5, label="target")
        for m, y in preds.items():
            ax.plot(np.arange(len(y)) / 60.0, y[:, ARKIT_INDEX[n]], lw=1, label=m)
        ax.set_ylabel(n, fontsize=8)
        ax.set_ylim(-0.02, 1.0)
    axes[1].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("s")
    fig.suptitle(u.id)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
