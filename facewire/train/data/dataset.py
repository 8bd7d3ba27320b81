"""Training examples for the blendshape networks: features, aligned targets, loss masks.

Sources (``--data``, repeatable):

* a synthetic corpus folder (``manifest.jsonl`` from ``facewire data synth``): audio, teacher
  curves, phones, and the voice of every clip so that validation can hold out whole voices;
* a folder of Live Link Face takes (``*.csv`` with their audio), through
  :mod:`facewire.train.data.loaders`; each take is its own "voice" unless the folder is one;
* ``facegood`` or a FACEGOOD folder: real Mandarin speech with jaw/mouth curves only (the
  other curves are masked out of the loss).

Targets are aligned with the network's frames, not the other way round: network output ``i``
describes feature frame ``i - lookahead``, media time ``t0 + (i - lookahead) / rate``; the
curves (60 fps) are linearly interpolated there. Outputs describing times before the clip
or after its last curve frame are masked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facewire.models.logmel import LogMelConfig, logmel
from facewire.phones.arpabet import PHONE_INDEX, normalize_arpabet
from facewire.rig.arkit import ARKIT_INDEX


class DatasetError(ValueError):
    """A corpus is missing, empty or inconsistent; the message names the path."""


@dataclass
class Utterance:
    """One clip: 16 kHz mono audio with ARKit-52 curves at ``fps`` starting at sample 0."""

    id: str
    voice: str
    audio: np.ndarray
    curves: np.ndarray  # [T, 52]
    fps: float = 60.0
    phones: list | None = None  # [[ARPAbet, start_s, end_s], ...] when known
    mask: np.ndarray = field(default_factory=lambda: np.ones(52, bool))  # curves with data
    source: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """What a network reads: kind, rate, dimension, and the time of frame 0.

    ``t0`` is the media time feature frame 0 describes (see models/framerate.py);
    ``pad_value`` is the feature value of silence, the left context at stream start.
    """

    kind: str = "logmel"  # logmel | wav2vec2
    rate: float = 100.0
    dim: int = 80
    t0: float = 0.01
    pad_value: float = float(np.log(1e-6))
    logmel: dict | None = None  # LogMelConfig.to_dict() for kind == logmel
    wav2vec: dict | None = None  # {"model_dir", "layer", ...} for kind == wav2vec2
    speaker_norm: dict | None = None  # SpeakerNormConfig.to_dict(): online speaker normalisation

    @classmethod
    def for_logmel(cls, cfg: LogMelConfig | None = None) -> FeatureSpec:
        cfg = cfg or LogMelConfig()
        return cls("logmel", cfg.frame_rate, cfg.n_mels, cfg.hop / cfg.sample_rate,
                   float(np.log(cfg.floor)), cfg.to_dict(), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def delay_s(self) -> float:
        """Future audio one feature frame needs beyond its media time."""
        if self.kind == "logmel" and self.logmel:
            return LogMelConfig(**self.logmel).delay_s
        return 0.0


FeatureFn = Callable[[np.ndarray], np.ndarray]


def feature_fn(spec: FeatureSpec) -> FeatureFn:
    """Audio -> features (n, dim) for a spec (wav2vec loads its local model once)."""
    if spec.kind == "logmel":
        cfg = LogMelConfig(**(spec.logmel or {}))
        if spec.speaker_norm:
            from facewire.models.speaker_norm import SpeakerNormaliser, SpeakerNormConfig

            norm = SpeakerNormConfig.from_dict(spec.speaker_norm)
            return lambda audio: SpeakerNormaliser(norm)(logmel(audio, cfg))
        return lambda audio: logmel(audio, cfg)
    if spec.speaker_norm:
        raise DatasetError("speaker normalisation is defined for log-mel features only")
    if spec.kind == "wav2vec2":
        from facewire.models.wav2vec import Wav2VecFeatures

        w = spec.wav2vec or {}
        return Wav2VecFeatures(w["model_dir"], layer=int(w.get("layer", -1)))
    raise DatasetError(f"unknown feature kind {spec.kind!r} (logmel or wav2vec2)")


# --------------------------------------------------------------------------- sources


def _load_synth(folder: Path) -> list[Utterance]:
    from facewire.train.data.loaders import load_audio

    path = folder / "manifest.jsonl"
    with open(path, encoding="utf-8") as f:
        clips = [json.loads(line) for line in f if line.strip()]
    if not clips:
        raise DatasetError(f"{path}: manifest lists no clips (rebuild with 'facewire data synth')")
    out = []
    for c in clips:
        try:
            wav, cur = folder / c["wav"], folder / c["curves"]
        except KeyError as exc:
            raise DatasetError(f"{path}: clip {c.get('id', '?')} lacks field {exc}") from exc
        if not cur.exists():
            raise DatasetError(f"{cur}: curves file missing (corpus incomplete; rebuild it)")
        curves = np.load(cur).astype(np.float32)
        if curves.ndim != 2 or curves.shape[1] != 52:
            raise DatasetError(f"{cur}: expected [frames, 52] curves, got {curves.shape}")
        out.append(Utterance(str(c["id"]), str(c.get("voice", c["id"])), load_audio(wav), curves,
                             float(c.get("fps", 60.0)), c.get("phones"), np.ones(52, bool),
                             f"{folder.name}/{c['id']}"))
    return out


def _from_takes(takes: Sequence[Any], voice: str | None) -> list[Utterance]:
    return [Utterance(t.name, voice or t.name, t.audio, t.curves, t.fps, None, t.mask, t.source)
            for t in takes]


def load_source(spec: str) -> list[Utterance]:
    """One ``--data`` argument -> utterances (see the module docstring)."""
    from facewire.train.data import loaders

    if spec.lower() == "facegood":
        return _from_takes(loaders.load_facegood(None), "facegood")
    folder = Path(spec)
    if not folder.exists():
        raise DatasetError(f"{folder}: data folder not found")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder (pass a corpus folder, a folder of Live "
                           "Link Face takes, or 'facegood')")
    if (folder / "manifest.jsonl").exists():
        return _load_synth(folder)
    if (folder / "bs_value").is_dir() or (folder / "facegood").is_dir():
        return _from_takes(loaders.load_facegood(folder), "facegood")
    if any(folder.glob("*.csv")):
        return _from_takes(loaders.load_livelink_folder(folder), None)
    raise DatasetError(f"{folder}: empty or unknown corpus (no manifest.jsonl, Live Link Face "
                       "CSVs or FACEGOOD bs_value/); build one with 'facewire data synth "
                       f"--out {folder}'")


def load_sources(specs: Sequence[str]) -> list[Utterance]:
    """The clips of every source; where two sources share clip ids (two synth corpora both
    start at clip_00000), each id becomes its source's, so predictions kept by id stay apart."""
    per_source = [load_source(s) for s in specs]
    utts = [u for us in per_source for u in us]
    if not utts:
        raise DatasetError(f"no clips in {list(specs)}")
    if len({u.id for u in utts}) < len(utts):
        utts = [replace(u, id=u.source or f"{spec}/{u.id}")
                for spec, us in zip(specs, per_source) for u in us]
    return utts


def split_by_voice(utts: Sequence[Utterance], held_out: float = 0.2, seed: int = 0
                   ) -> tuple[list[Utterance], list[Utterance]]:
    """Hold out whole voices for validation, so early stopping rewards unseen speakers.

    Voices are grouped by engine (the prefix before ':') and each engine with more than one
    voice gives up ``held_out`` of them; with a single voice overall, every fifth clip."""
    rng = np.random.default_rng(seed)
    by_engine: dict[str, list[str]] = {}
    for u in utts:
        vs = by_engine.setdefault(u.voice.split(":")[0], [])
        if u.voice not in vs:
            vs.append(u.voice)
    held: set[str] = set()
    for vs in by_engine.values():
        if len(vs) > 1:
            k = min(max(int(round(held_out * len(vs))), 1), len(vs) - 1)
            held.update(rng.choice(sorted(vs), size=k, replace=False).tolist())
    if not held:
        idx = set(range(0, len(utts), max(2, int(round(1 / max(held_out, 1e-3))))))
        return ([u for i, u in enumerate(utts) if i not in idx],
                [u for i, u in enumerate(utts) if i in idx])
    return [u for u in utts if u.voice not in held], [u for u in utts if u.voice in held]


# --------------------------------------------------------------------------- alignment


def output_times(n: int, spec: FeatureSpec, lookahead: int) -> np.ndarray:
    """Media time (s) that each of n network outputs describes: feature frame i - lookahead."""
    return spec.t0 + (np.arange(n) - lookahead) / spec.rate


def align_targets(curves: np.ndarray, fps: float, n: int, spec: FeatureSpec,
                  lookahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Curves [T, 52] at ``fps`` -> targets [n, 52] for n network outputs and a valid mask [n]."""
    t = output_times(n, spec, lookahead)
    grid = np.arange(len(curves)) / fps
    valid = (t >= 0.0) & (t <= grid[-1] + 1e-9)
    out = np.empty((n, curves.shape[1]), np.float32)
    for c in range(curves.shape[1]):
        out[:, c] = np.interp(t, grid, curves[:, c])
    return out, valid


def align_phones(phones: list | None, n: int, spec: FeatureSpec, lookahead: int) -> np.ndarray:
    """Phone timings -> [n] ARPAbet indices (``PHONE_INDEX``) for n network outputs, -1 where
    no phone is known (or the symbol is not ARPAbet); same clock as :func:`align_targets`."""
    labels = np.full(n, -1, np.int64)
    if not phones:
        return labels
    t = output_times(n, spec, lookahead)
    for symbol, start, end in phones:
        try:
            idx = PHONE_INDEX.get(normalize_arpabet(str(symbol)))
        except KeyError:  # not ARPAbet: that stretch is simply not scored
            idx = None
        if idx is not None:
            labels[(t >= float(start)) & (t < float(end))] = idx
    return labels


@dataclass
class Example:
    """One utterance ready for a network: features, targets and masks (numpy)."""

    id: str
    voice: str
    feats: np.ndarray  # [n, dim]
    targets: np.ndarray  # [n, C] (C = the network's output curves)
    valid: np.ndarray  # [n, C] bool
    utt: Utterance
    phones: np.ndarray | None = None  # [n] PHONE_INDEX per output, -1 unknown


def make_examples(utts: Sequence[Utterance], spec: FeatureSpec, outputs: Sequence[str],
                  lookahead: int, features: FeatureFn | None = None,
                  progress: Callable[[Sequence[Utterance]], Any] | None = None) -> list[Example]:
    """Compute features once per utterance and align its targets to the network frames."""
    fn = features or feature_fn(spec)
    cols = [ARKIT_INDEX[n] for n in outputs]
    out = []
    for u in (progress(utts) if progress else utts):
        if len(u.audio) < len(u.curves) / u.fps * 16000 - 0.1 * 16000:
            raise DatasetError(f"{u.source or u.id}: audio ({len(u.audio) / 16000:.2f} s) is "
                               f"shorter than its curves ({len(u.curves) / u.fps:.2f} s)")
        f = np.asarray(fn(u.audio), np.float32)
        if f.ndim != 2 or f.shape[1] != spec.dim:
            raise DatasetError(f"{u.id}: features {f.shape}, expected [n, {spec.dim}]")
        tgt, valid = align_targets(u.curves, u.fps, len(f), spec, lookahead)
        mask = valid[:, None] & u.mask[cols][None, :]
        labels = align_phones(u.phones, len(f), spec, lookahead)
        out.append(Example(u.id, u.voice, f, tgt[:, cols], mask, u, labels))
    return out


def corpus_summary(specs: Sequence[str], utts: Sequence[Utterance]) -> dict[str, Any]:
    """What the model card records about its training data."""
    secs = sum(len(u.audio) for u in utts) / 16000
    corpora = {}
    for s in specs:
        info = Path(s) / "corpus.json"
        if info.exists():  # how a synth corpus was built: enough to rebuild it
            d = json.loads(info.read_text())
            corpora[os.fspath(s)] = {k: d.get(k) for k in ("seed", "minutes_asked", "minutes",
                                                           "clips", "engines",
                                                           "augment_strength")}
            if d.get("flite_f0"):  # only corpora built with --flite-f0 carry it
                corpora[os.fspath(s)]["flite_f0"] = d["flite_f0"]
    return {"sources": [os.fspath(s) for s in specs], "clips": len(utts),
            "minutes": round(secs / 60, 2), "voices": len({u.voice for u in utts}),
            "synth": corpora}


# --------------------------------------------------------------------------- toy corpus


def make_toy_corpus(folder: str | Path, n_clips: int = 6, seconds: float = 1.0,
                    voices: int = 3, seed: int = 0) -> Path:
    """A tiny corpus in the ``facewire data synth`` layout, built in milliseconds without
    speech engines: teacher curves from random phone strings, and a buzz whose loudness
    follows the jaw and whose brightness follows the lip spreading. For tests and smoke runs;
    a network can learn it, so a failing training loop shows."""
    import soundfile as sf

    from facewire.phones.teacher import phones_to_curves

    folder = Path(folder)
    (folder / "wav").mkdir(parents=True, exist_ok=True)
    (folder / "curves").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    inventory = ["P", "AA", "M", "IY", "B", "UW", "F", "AE", "S", "OW", "T", "IH"]
    sr, fps = 16000, 60.0
    lines = []
    for i in range(n_clips):
        voice = f"toy:v{i % voices}"
        t, phones = 0.1, [["SIL", 0.0, 0.1]]
        while t < seconds - 0.15:
            d = float(rng.uniform(0.06, 0.14))
            phones.append([inventory[int(rng.integers(len(inventory)))], round(t, 4),
                           round(t + d, 4)])
            t += d
        phones.append(["SIL", round(t, 4), seconds])
        n_frames = int(np.ceil(seconds * fps))
        curves = phones_to_curves(phones, n_frames)
        ts = np.arange(int(seconds * sr)) / sr
        grid = np.arange(n_frames) / fps
        jaw = np.interp(ts, grid, curves[:, ARKIT_INDEX["jawOpen"]])
        spread = np.interp(ts, grid, curves[:, ARKIT_INDEX["mouthStretchLeft"]])
        f0 = 90.0 + 35.0 * (i % voices)
        phase = 2 * np.pi * f0 * ts
        buzz = sum(np.sin(h * phase) / h ** (1.5 - 1.2 * spread) for h in range(1, 12))
        audio = 0.25 * jaw * buzz + 0.002 * rng.standard_normal(len(ts))
        cid = f"{i:06d}"
        sf.write(str(folder / "wav" / f"{cid}.wav"), audio.astype(np.float32), sr,
                 subtype="PCM_16")
        np.save(folder / "curves" / f"{cid}.npy", curves.astype(np.float32))
        lines.append({"id": cid, "engine": "toy", "voice": voice, "settings": {"f0": f0},
                      "augment": {}, "text": "", "duration": seconds, "sample_rate": sr,
                      "fps": fps, "n_frames": n_frames, "wav": f"wav/{cid}.wav",
                      "curves": f"curves/{cid}.npy", "phones": phones})
    with open(folder / "manifest.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return folder
