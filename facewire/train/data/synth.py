"""Synthetic multi-voice speech corpus with phone timings and teacher curves.

No large real audio-visual corpus is reachable, so the default model learns from many
synthetic voices (espeak-ng, flite, festival) whose phones and timings come from the
synthesiser itself, labelled by the co-articulation teacher. Many voices, rates, pitches and
acoustic conditions keep a model from learning one voice; the manifest records engine,
voice and settings of every clip so that a split can hold out whole voices.

Layout of a corpus folder::

    corpus.json        seed, minutes, engines, voices, teacher config, versions
    manifest.jsonl     one JSON object per clip (see ``Clip``)
    wav/<id>.wav       16 kHz mono int16
    curves/<id>.npy    float32 [frames, 52] ARKit curves at 60 fps (teacher)

Everything is a function of ``seed``: clip i draws from ``default_rng([seed, i])``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, resample_poly

from facewire.phones.arpabet import (
    SIL,
    Phone,
    arpabet_phones,
    merge_silences,
    split_phones,
)
from facewire.phones.espeak import EspeakLib
from facewire.phones.teacher import TeacherConfig, phones_to_curves
from facewire.train.data.closure_aug import closure_augment, pad_silence

SAMPLE_RATE = 16000
FPS = 60.0

# Sentences written for phone coverage: bilabials next to rounded and open vowels,
# labiodentals, dentals, postalveolars, glides, every vowel.
SENTENCES: tuple[str, ...] = (
    "Bob made a map of the moon by the pool.",
    "Five fuzzy pumas moved over the vivid valley.",
    "Judge Shaw chose the cheap shoes in June.",
    "The thick thorn thinned out there, further than we thought.",
    "Would you wish a few more rooms with a view?",
    "Please bring the big blue box to my boat.",
    "Mom may buy plump apples and maple pie.",
    "Oh, you know, the old road goes over the hill.",
    "Keep each piece of cheese near the window, please.",
    "A hot pot of coffee is all I want at dawn.",
    "The boy enjoyed the noise of the toy.",
    "How now, brown cow, out in the loud crowd?",
    "Ruth threw two new rubber boots through the blue room.",
    "Vera found five velvet gloves in the van.",
    "Measure the usual beige treasure with pleasure.",
    "Yesterday young Yuri yelled yes at the yard.",
    "Peter picked a peck of pickled peppers.",
    "My mother made warm muffins from memory.",
    "Wait a moment, would Mary bump the bumper?",
    "The early bird heard the nervous girl.",
    "Thank them for the fresh fish and the warm bread.",
    "Put the cup on the book and push the bush.",
    "Father calls the dog with a long, low whistle.",
    "She sells sea shells by the sea shore.",
    "Every evening Eve eats green beans and peas.",
    "Zoe's zebra zigzagged past the lazy zoo keeper.",
    "Go and get the key from the kitchen, quickly.",
    "Nobody knew how the ending would unfold.",
    "The weather was rather foggy over the harbour.",
    "Maybe we should move the piano upstairs tomorrow.",
    "Open wide, then bite down and smile.",
    "Uh huh, hmm, okay, maybe, well, you see.",
)

# --------------------------------------------------------------------------- text


def find_cmudict() -> Path | None:
    """The English pronunciation dictionary shipped inside the pocketsphinx package."""
    spec = importlib.util.find_spec("pocketsphinx")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for cand in Path(root).glob("model/en-us/cmudict-en-us.dict"):
            return cand
    return None


_WORD = re.compile(r"^[a-z]{2,11}$")


def load_lexicon(path: Path | None) -> dict[str, tuple[str, ...]]:
    """Plain alphabetic words -> ARPAbet phones (first pronunciation only)."""
    lex: dict[str, tuple[str, ...]] = {}
    if path is None:
        return lex
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or not _WORD.match(parts[0]):
                continue
            try:
                lex[parts[0]] = tuple(p for s in parts[1:] for p in arpabet_phones(s))
            except KeyError:
                continue
    return lex


class TextSource:
    """Draws utterance texts: written sentences, or word sequences from CMUdict biased
    towards words with rare phones so that every phone is seen often."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]]) -> None:
        self.words = sorted(lexicon)
        if self.words:
            counts: dict[str, int] = {}
            for w in self.words:
                for p in lexicon[w]:
                    counts[p] = counts.get(p, 0) + 1
            rarity = {p: 1.0 / c for p, c in counts.items()}
            weight = np.array([sum(rarity[p] for p in lexicon[w]) for w in self.words])
            self.p = weight / weight.sum()

    def draw(self, rng: np.random.Generator) -> str:
        if not self.words or rng.random() < 0.35:
            return str(SENTENCES[rng.integers(len(SENTENCES))])
        n = int(rng.integers(4, 10))
        idx = rng.choice(len(self.words), size=n, p=self.p)
        words = [self.words[i] for i in idx]
        # a comma now and then gives the engines a phrase break (a short silence)
        if n > 5 and rng.random() < 0.5:
            words[int(rng.integers(2, n - 2))] += ","
        return " ".join(words).capitalize() + "."


# --------------------------------------------------------------------------- engines


@dataclass
class Voice:
    """A speaker: engine and voice name; ``id`` is what splits hold out."""

    engine: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


@dataclass
class Synthesized:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    phones: list[Phone]
    settings: dict = field(default_factory=dict)


def _to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return x.astype(np.float32)
    g = math.gcd(sr, SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)


class _EspeakLib(EspeakLib):
    """espeak-ng's accent x variant voices, and utterances as corpus clips (16 kHz)."""

    ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
               "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
    VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3",
                "+f4", "+f5", "+klatt", "+klatt2", "+Andy", "+Annie", "+Denis", "+Gene")

    def voices(self) -> list[str]:
        """Accent x variant voices that this espeak-ng build accepts."""
        names = [a + v for a in self.ACCENTS for v in self.VARIANTS]
        return [n for n in names if self.has_voice(n)]

    def synth(self, text: str, voice: str, settings: dict) -> Synthesized:  # type: ignore[override]
        try:
            u = super().synth(text, voice, {k: settings[k] for k in ("rate", "pitch", "range")})
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
        return Synthesized(_to_16k(u.audio, u.sample_rate), u.phones, settings)


_WORKER_LIB: _EspeakLib | None = None


def _worker_init() -> None:
    global _WORKER_LIB
    _WORKER_LIB = _EspeakLib()


def _worker_call(method: str, *args: object) -> object:
    assert _WORKER_LIB is not None
    return getattr(_WORKER_LIB, method)(*args)


class Espeak:
    """espeak-ng in a child process of its own. The library keeps state from one utterance
    to the next (timings drift by a few samples), so each corpus build gets a fresh
    library: the same seed then gives the same corpus, also within one Python process."""

    engine = "espeak"

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        self.pool = ctx.Pool(1, initializer=_worker_init)
        try:
            self.names: list[str] = self.pool.apply(_worker_call, ("voices",))
        except Exception as exc:
            self.close()
            raise RuntimeError(f"espeak-ng failed to start: {exc}") from exc

    def voices(self) -> list[Voice]:
        return [Voice(self.engine, n) for n in self.names]

    def synth(self, text: str, voice: Voice, rng: np.random.Generator) -> Synthesized:
        settings = {"rate": int(rng.integers(130, 215)), "pitch": int(rng.integers(25, 75)),
                    "range": int(rng.integers(30, 80))}
        return self.pool.apply(_worker_call, ("synth", text, voice.name, settings))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def _read_wav(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return _to_16k(x[:, 0], sr)


class Flite:
    """flite voices; ``-psdur`` prints each segment with its end time."""

    engine = "flite"
    NAMES = ("kal", "kal16", "awb", "rms", "slt")  # awb_time is a talking clock only

    def __init__(self) -> None:
        self.exe = shutil.which("flite")
        if self.exe is None:
            raise RuntimeError("flite not installed")
        # (low, high) Hz: each clip's mean F0 drawn from it (``--flite-f0``); the statistical
        # voices (awb, slt, kal16) honour it, rms keeps its own. None: the voices' own pitch.
        self.f0_range: tuple[float, float] | None = None
        out = subprocess.run([self.exe, "-lv"], capture_output=True, text=True).stdout
        have = set(out.split(":", 1)[-1].split())
        self.names = [n for n in self.NAMES if n in have]

    def voices(self) -> list[Voice]:
        return [Voice(self.engine, n) for n in self.names]

    def synth(self, text: str, voice: Voice, rng: np.random.Generator) -> Synthesized:
        stretch = float(np.round(rng.uniform(0.8, 1.3), 3))
        settings: dict[str, float] = {"duration_stretch": stretch}
        setf = ["--setf", f"duration_stretch={stretch}"]
        if self.f0_range is not None:  # drawn after the stretch: other corpora unchanged
            settings["f0_mean"] = float(round(rng.uniform(*self.f0_range)))
            setf += ["--setf", f"int_f0_target_mean={settings['f0_mean']:g}"]
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "out.wav"
            res = subprocess.run(
                [self.exe, "-voice", voice.name, *setf, "-psdur", "-t", text, "-o", str(wav)],
                capture_output=True, text=True, check=True)
            audio = _read_wav(wav)
        phones: list[Phone] = []
        t = 0.0
        for tok in res.stdout.split():
            if ":" not in tok:
                continue
            sym, end_s = tok.rsplit(":", 1)
            end = float(end_s)
            if end > t:
                phones.extend(split_phones(arpabet_phones(sym), t, end))
            t = max(t, end)
        return Synthesized(audio, merge_silences(phones), settings)


def _parse_segs(path: Path) -> list[Phone]:
    """festival ``utt.save.segs`` (xlabel: end time, colour, name) -> phones."""
    phones: list[Phone] = []
    t = 0.0
    body = path.read_text().split("#", 1)[-1]
    for line in body.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        end = float(parts[0])
        if end > t:
            phones.extend(split_phones(arpabet_phones(parts[2]), t, end))
        t = max(t, end)
    return merge_silences(phones)


class Festival:
    """festival voices, many utterances per process (start-up dominates otherwise); phone
    times from the Segment relation via ``utt.save.segs``."""

    engine = "festival"
    NAMES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts", "cmu_us_awb_cg",
             "cmu_us_rms_cg", "cmu_us_slt_cg", "rab_diphone", "don_diphone")

    def __init__(self) -> None:
        self.exe = shutil.which("festival")
        if self.exe is None:
            raise RuntimeError("festival not installed")
        res = subprocess.run([self.exe, "-b", "(print (voice.list))"], capture_output=True,
                             text=True, timeout=60)
        have = set(re.findall(r"[A-Za-z0-9_]+", res.stdout))
        self.names = [n for n in self.NAMES if n in have]

    def voices(self) -> list[Voice]:
        return [Voice(self.engine, n) for n in self.names]

    def settings(self, rng: np.random.Generator) -> dict:
        return {"duration_stretch": float(np.round(rng.uniform(0.8, 1.3), 3))}

    def synth_batch(self, jobs: list[tuple[str, Voice, dict]]) -> list[Synthesized]:
        """Synthesize ``(text, voice, settings)`` jobs in one festival process."""
        with tempfile.TemporaryDirectory() as tmp:
            lines = []
            for k, (text, voice, st) in enumerate(jobs):
                clean = re.sub(r'["\\]', "", text)
                lines += [f"(voice_{voice.name})",
                          f"(Parameter.set 'Duration_Stretch {st['duration_stretch']})",
                          f'(set! u (utt.synth (Utterance Text "{clean}")))',
                          f'(utt.save.wave u "{tmp}/{k}.wav" \'riff)',
                          f'(utt.save.segs u "{tmp}/{k}.segs")']
            script = Path(tmp) / "batch.scm"
            script.write_text("\n".join(lines) + "\n")
            subprocess.run([self.exe, "-b", str(script)], capture_output=True, check=True,
                           timeout=600)
            out = []
            for k, (_, _, st) in enumerate(jobs):
                out.append(Synthesized(_read_wav(Path(tmp) / f"{k}.wav"),
                                       _parse_segs(Path(tmp) / f"{k}.segs"), dict(st)))
        return out


ENGINES: dict[str, Callable[[], object]] = {"espeak": Espeak, "flite": Flite,
                                             "festival": Festival}


def available_engines(names: list[str] | None = None) -> dict[str, object]:
    """The engines that start on this machine (a missing one is skipped, not fatal)."""
    out = {}
    for name in names or list(ENGINES):
        try:
            out[name] = ENGINES[name]()
        except (OSError, RuntimeError, subprocess.SubprocessError):
            continue
    return out


# --------------------------------------------------------------------------- augmentation


def _pitch_shift(x: np.ndarray, cents: int) -> np.ndarray:
    """Pitch shift without changing duration (sox's WSOLA ``pitch`` effect). ``-R`` seeds
    sox's dither with a fixed number, so the same seed gives the same samples."""
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    fmt = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1"]
    res = subprocess.run(["sox", "-R", *fmt, "-", *fmt, "-", "pitch", str(cents)], input=pcm,
                         capture_output=True, check=True)
    y = np.frombuffer(res.stdout, "<i2").astype(np.float32) / 32767
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]


def augment(x: np.ndarray, phones: list[Phone], rng: np.random.Generator,
            strength: float = 1.0) -> tuple[np.ndarray, list[Phone], dict]:
    """Speed (timings scale with it), pitch, reverb, noise and gain, each by chance.

    Returns the new audio, phones and a record of what was done for the manifest.
    """
    rec: dict = {}
    if strength <= 0:
        return x, phones, rec
    if rng.random() < 0.5 * strength:
        speed = float(rng.choice([0.9, 0.95, 1.05, 1.1]))
        up, down = 100, int(round(100 * speed))
        x = resample_poly(x, up, down).astype(np.float32)
        k = up / down
        phones = [Phone(p.phone, p.start * k, p.end * k) for p in phones]
        rec["speed"] = speed
    if rng.random() < 0.3 * strength and shutil.which("sox"):
        cents = int(rng.integers(-300, 301))
        x = _pitch_shift(x, cents)
        rec["pitch_cents"] = cents
    if rng.random() < 0.4 * strength:
        rt60 = float(np.round(rng.uniform(0.15, 0.7), 3))
        n = int(rt60 * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
        rir[0] = 1.0 / float(rng.uniform(0.05, 0.3))  # direct path over reverb
        wet = fftconvolve(x, rir)[: len(x)]
        x = (wet / (np.max(np.abs(wet)) + 1e-9) * np.max(np.abs(x))).astype(np.float32)
        rec["reverb_rt60"] = rt60
    if rng.random() < 0.5 * strength:
        snr = float(np.round(rng.uniform(5, 35), 1))
        noise = rng.standard_normal(len(x))
        if rng.random() < 0.5:  # brownish noise: hum and rumble rather than hiss
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(401) / 401, mode="same")
        p_sig = float(np.mean(x**2)) + 1e-12
        noise *= math.sqrt(p_sig / (10 ** (snr / 10)) / (float(np.mean(noise**2)) + 1e-12))
        x = (x + noise).astype(np.float32)
        rec["noise_snr_db"] = snr
    gain_db = float(np.round(rng.uniform(-14, 2), 1))
    x = x * 10 ** (gain_db / 20)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0.99:
        x = x * (0.99 / peak)
        gain_db = float(np.round(gain_db + 20 * math.log10(0.99 / peak), 1))
    rec["gain_db"] = gain_db
    return x.astype(np.float32), phones, rec


# --------------------------------------------------------------------------- corpus


@dataclass
class Clip:
    """One manifest line."""

    id: str
    engine: str
    voice: str  # the speaker id: hold these out for unseen-voice splits
    settings: dict
    augment: dict
    text: str
    duration: float
    sample_rate: int
    fps: float
    n_frames: int
    wav: str
    curves: str
    phones: list  # [[ARPAbet, start_s, end_s], ...]


def _fit_phones(phones: list[Phone], duration: float) -> list[Phone]:
    """Clip phone times to the audio and close the tail with silence."""
    out = [Phone(p.phone, min(p.start, duration), min(p.end, duration)) for p in phones]
    out = [p for p in out if p.end > p.start]
    if out and out[-1].end < duration:
        out.append(Phone(SIL, out[-1].end, duration))
    return merge_silences(out)


ENGINE_SHARE = {"espeak": 0.45, "flite": 0.3, "festival": 0.25}


def _plan(seed: int, voices: list[Voice]) -> Iterator[tuple[int, Voice, np.random.Generator]]:
    """Clip index, voice and the clip's own rng. The engine is drawn by ``ENGINE_SHARE`` (so
    espeak's 150 voices do not crowd out flite and festival), the voice round-robin over a
    seeded shuffle of that engine's voices."""
    rng = np.random.default_rng(seed)
    by_engine: dict[str, list[Voice]] = {}
    for v in voices:
        by_engine.setdefault(v.engine, []).append(v)
    names = sorted(by_engine)
    share = np.array([ENGINE_SHARE.get(n, 0.2) for n in names])
    share /= share.sum()
    order = {n: rng.permutation(len(by_engine[n])) for n in names}
    used = dict.fromkeys(names, 0)
    i = 0
    while True:
        name = names[int(rng.choice(len(names), p=share))]
        vs = by_engine[name]
        voice = vs[order[name][used[name] % len(vs)]]
        used[name] += 1
        yield i, voice, np.random.default_rng([seed, i])
        i += 1


def synth_corpus(
    out: str | Path,
    minutes: float,
    seed: int = 0,
    engines: list[str] | None = None,
    augment_strength: float = 1.0,
    teacher: TeacherConfig | None = None,
    progress: Callable[[float], None] | None = None,
    flite_f0: tuple[float, float] | None = None,
    closure_strength: float = 0.0,
    pad_strength: float = 0.0,
) -> list[Clip]:
    """Build a corpus of about ``minutes`` of speech in ``out``; returns the manifest.

    ``flite_f0`` (Hz, low and high) draws each flite clip's mean pitch: the male statistical
    voices then also speak at female pitch, which the voice inventory lacks otherwise."""
    out = Path(out)
    t0 = time.perf_counter()
    if flite_f0 is not None and not 40 <= flite_f0[0] <= flite_f0[1] <= 500:
        raise RuntimeError(f"flite F0 range {flite_f0} must be low,high within 40-500 Hz")
    eng = available_engines(engines)
    if not eng:
        raise RuntimeError(f"no speech engine available (asked for {engines or list(ENGINES)})")
    if "flite" in eng:
        eng["flite"].f0_range = flite_f0  # type: ignore[attr-defined]
    voices = [v for e in eng.values() for v in e.voices()]  # type: ignore[attr-defined]
    if not voices:
        raise RuntimeError("the available engines offer no English voice")
    (out / "wav").mkdir(parents=True, exist_ok=True)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    texts = TextSource(load_lexicon(find_cmudict()))
    tcfg = teacher or TeacherConfig()
    clips: list[Clip] = []
    total = 0.0
    plan = _plan(seed, voices)
    target = minutes * 60.0
    while total < target:
        # a batch: festival pays a process start per batch, not per clip
        batch = []
        est = total
        while est < target and len(batch) < 32:
            i, voice, rng = next(plan)
            text = texts.draw(rng)
            batch.append((i, voice, rng, text))
            est += 3.0  # clips are ~2-5 s
        fest = [(b, eng["festival"].settings(b[2])) for b in batch  # type: ignore[attr-defined]
                if b[1].engine == "festival"]
        fest_out = {}
        if fest:
            res = eng["festival"].synth_batch(  # type: ignore[attr-defined]
                [(b[3], b[1], st) for b, st in fest])
            fest_out = {b[0]: r for (b, _), r in zip(fest, res)}
        for i, voice, rng, text in batch:
            if total >= target:
                break
            if voice.engine == "festival":
                syn = fest_out[i]
            else:
                syn = eng[voice.engine].synth(text, voice, rng)  # type: ignore[attr-defined]
            if len(syn.audio) < SAMPLE_RATE // 10 or not syn.phones:
                continue
            audio, phones, rec = augment(syn.audio, syn.phones, rng, augment_strength)
            if closure_strength > 0:
                audio, closure_rec = closure_augment(audio, phones, rng, closure_strength)
                rec.update(closure_rec)
            if pad_strength > 0:
                audio, phones, pad_rec = pad_silence(audio, phones, rng, pad_strength)
                rec.update(pad_rec)
            duration = len(audio) / SAMPLE_RATE
            phones = _fit_phones(phones, duration)
            n_frames = int(math.ceil(duration * FPS))
            curves = phones_to_curves(phones, n_frames, tcfg)
            cid = f"{i:06d}"
            sf.write(str(out / "wav" / f"{cid}.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
            np.save(out / "curves" / f"{cid}.npy", curves.astype(np.float32))
            clips.append(Clip(cid, voice.engine, voice.id, syn.settings, rec, text,
                              round(duration, 4), SAMPLE_RATE, FPS, n_frames,
                              f"wav/{cid}.wav", f"curves/{cid}.npy",
                              [p.to_list() for p in phones]))
            total += duration
            if progress:
                progress(min(total, target))
    for e in eng.values():
        if hasattr(e, "close"):
            e.close()
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for c in clips:
            f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    summary = {
        "seed": seed, "minutes_asked": minutes, "minutes": round(total / 60, 3),
        "clips": len(clips), "engines": sorted(eng), "voices": sorted({c.voice for c in clips}),
        "sample_rate": SAMPLE_RATE, "fps": FPS, "teacher": asdict(tcfg),
        "augment_strength": augment_strength, "closure_strength": closure_strength,
        "pad_strength": pad_strength,
        "flite_f0": list(flite_f0) if flite_f0 else None,
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    return clips


def read_manifest(folder: str | Path) -> list[dict]:
    """The clips of a corpus folder; a clear error when it is not one."""
    path = Path(folder) / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest (not a corpus folder, or empty)")
    with open(path, encoding="utf-8") as f:
        clips = [json.loads(line) for line in f if line.strip()]
    if not clips:
        raise ValueError(f"{path}: manifest lists no clips")
    return clips


def relabel_corpus(folder: str | Path, teacher: TeacherConfig | None = None) -> int:
    """Recompute every clip's curves from its stored phones with the current teacher, so a
    teacher change does not need the audio synthesised again. Returns the clip count."""
    folder = Path(folder)
    tcfg = teacher or TeacherConfig()
    clips = read_manifest(folder)
    for c in clips:
        curves = phones_to_curves(c["phones"], int(c["n_frames"]), tcfg)
        np.save(folder / c["curves"], curves.astype(np.float32))
    meta = folder / "corpus.json"
    if meta.exists():
        summary = json.loads(meta.read_text())
        summary["teacher"] = asdict(tcfg)
        summary["relabelled"] = True
        meta.write_text(json.dumps(summary, indent=2) + "\n")
    return len(clips)


def split_by_voice(clips: list[dict], held_out: float = 0.2, seed: int = 0
                   ) -> tuple[list[dict], list[dict]]:
    """Train/validation split holding out whole voices (every engine keeps some voices)."""
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    by_engine: dict[str, list[str]] = {}
    for c in clips:
        by_engine.setdefault(c["engine"], [])
        if c["voice"] not in by_engine[c["engine"]]:
            by_engine[c["engine"]].append(c["voice"])
    for vs in by_engine.values():
        vs = sorted(vs)
        k = int(round(held_out * len(vs)))
        if len(vs) > 1:
            k = min(max(k, 1), len(vs) - 1)
            held.update(rng.choice(vs, size=k, replace=False).tolist())
    return [c for c in clips if c["voice"] not in held], [c for c in clips if c["voice"] in held]
