"""The offline words path: transcripts beside audio, alignment robustness, the
fused take and the record of which path made it. Speech is real espeak-ng synthesis and
real FSDD recordings; alignment is real pocketsphinx."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facewire.phones.arpabet import BILABIALS
from facewire.phones.chunking import place_boundaries, split_units
from facewire.phones.transcript import find_sidecar, normalize_transcript
from facewire.phones.words import WordsAligner
from facewire.rig.rig import default_rig_path

REPO = Path(__file__).resolve().parents[1]
FSDD = REPO.parent / "shared" / "data" / "fsdd" / "recordings"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")
LINE_A = "Bob made a map of the moon by the pool."
LINE_B = "Judge Shaw chose the cheap shoes in June, and she was right."


def speak(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="module")
def aligner() -> WordsAligner:
    return WordsAligner()


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    d = tmp_path_factory.mktemp("voice")
    speak(d / "a.wav", LINE_A)
    speak(d / "b.wav", LINE_B)
    return d


def load(path: Path) -> np.ndarray:
    from facewire.train.data.loaders import load_audio

    return load_audio(path)


def test_transcripts_are_normalised() -> None:
    assert normalize_transcript("Dr. Smith's 2nd take: 42%!") == \
        ["doctor", "smith's", "second", "take", "forty", "two", "percent"]
    assert normalize_transcript("In 1984 it cost $3.50 [noise]") == \
        ["in", "nineteen", "eighty", "four", "it", "cost", "three", "dollars", "fifty"]
    assert normalize_transcript("DON'T  stop—me, “now” 1,000") == \
        ["don't", "stop", "me", "now", "one", "thousand"]
    assert normalize_transcript("...!?") == []


def test_sentence_units_and_boundary_placement() -> None:
    assert split_units("One two. Three four! Five") == ["One two.", "Three four!", "Five"]
    # boundaries expected at 2.1 and 4.9 s; pauses at 1, 2, 3, 5 s: the DP picks 2 and 5
    got = place_boundaries(np.array([2.1, 4.9]), np.array([1.0, 2.0, 3.0, 5.0]))
    np.testing.assert_allclose(got, [2.0, 5.0])
    # strictly increasing even when both expect the same pause
    got = place_boundaries(np.array([2.0, 2.05]), np.array([1.0, 2.0, 3.0]))
    assert got[0] < got[1]
    assert place_boundaries(np.array([1.0, 2.0]), np.array([1.5])) is None


@needs_espeak
def test_out_of_dictionary_words_are_pronounced_and_aligned(aligner, tmp_path) -> None:
    text = "The zorblax flew past the glimmerwick tower."
    audio = load(speak(tmp_path / "oov.wav", text))
    assert aligner.aligner.decoder.lookup_word("zorblax") is None
    src = aligner.align_text(audio, text)
    assert src.source == "transcript", src.reason
    assert aligner.aligner.decoder.lookup_word("glimmerwick") is not None


@needs_espeak
def test_numbers_in_the_transcript_align(aligner, tmp_path) -> None:
    audio = load(speak(tmp_path / "num.wav", "I bought forty two apples in nineteen ninety."))
    src = aligner.align_text(audio, "I bought 42 apples in 1990.")
    assert src.source == "transcript", src.reason


def test_silence_only_audio_falls_back(aligner) -> None:
    src = aligner.align_text(np.zeros(32000, np.float32), LINE_A)
    assert src.source == "audio" and "silence" in src.reason


@needs_espeak
def test_a_wrong_transcript_falls_back_with_one_warning(voice_dir, tmp_path) -> None:
    from facewire.animate_outputs import write_outputs
    from facewire.offline_words import animate_file_words

    wav = voice_dir / "a.wav"
    warnings: list[str] = []
    take = animate_file_words(wav, text=LINE_B, warn=warnings.append)
    assert take.source == "audio"
    assert len(warnings) == 1 and str(wav) in warnings[0] and "audio alone" in warnings[0]
    write_outputs(take, tmp_path / "a", plot=False)
    assert str(np.load(tmp_path / "a.npz")["source"]) == "audio"


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"{FSDD}: spoken digits absent (shared data)")
def test_a_transcript_for_another_file_falls_back(aligner, tmp_path) -> None:
    """A real recording of one digit with a sidecar holding another file's sentence."""
    wav = tmp_path / "7_lucas_3.wav"
    shutil.copy(FSDD / "7_lucas_3.wav", wav)
    (tmp_path / "7_lucas_3.txt").write_text(LINE_B + "\n")
    src = aligner.resolve(load(wav), sidecar_for=wav)
    assert src.source == "audio" and src.fallback and "7_lucas_3.txt" in src.reason
    right = aligner.align_text(load(wav), "seven")
    assert right.source == "transcript", right.reason


@needs_espeak
def test_textgrid_sidecars_phones_or_words(voice_dir, aligner, tmp_path) -> None:
    from praatio import textgrid
    from praatio.utilities.constants import Interval

    audio = load(voice_dir / "a.wav")
    phones = aligner.align_text(audio, LINE_A).phones
    end = len(audio) / 16000
    tg = textgrid.Textgrid()
    tg.addTier(textgrid.IntervalTier("phones", [Interval(p.start, p.end, p.phone)
                                                for p in phones if p.phone != "SIL"], 0, end))
    wav = tmp_path / "line.wav"
    shutil.copy(voice_dir / "a.wav", wav)
    tg.save(str(tmp_path / "line.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    assert find_sidecar(wav) == tmp_path / "line.TextGrid"
    src = aligner.resolve(audio, sidecar_for=wav)
    spoken = [p for p in phones if p.phone != "SIL"]
    assert src.source == "textgrid" and [p.phone for p in src.phones] == [p.phone for p in spoken]
    words = textgrid.Textgrid()
    words.addTier(textgrid.IntervalTier("words", [Interval(0.0, end, LINE_A)], 0, end))
    words.save(str(tmp_path / "line.TextGrid"), format="short_textgrid",
               includeBlankSpaces=True)
    src = aligner.resolve(audio, sidecar_for=wav)
    assert src.source == "textgrid" and "words tier" in src.reason


@needs_espeak
def test_fused_take_closes_every_bilabial(voice_dir) -> None:
    from facewire.offline_words import animate_file_words
    from facewire.train.metrics import LipAperture, bilabial_closure_rate

    rig = default_rig_path()
    if not rig.exists():
        pytest.skip(f"{rig}: ICT facekit rig absent (shared data)")
    wav = voice_dir / "a.wav"
    fused = animate_file_words(wav, text=LINE_A, warn=None)
    audio_only = animate_file_words(wav, sidecar=False)
    assert fused.source == "transcript" and audio_only.source == "audio"
    phones = WordsAligner().align_text(load(wav), LINE_A).phones
    assert sum(p.phone in BILABIALS for p in phones) >= 8
    ap = LipAperture.from_rig(rig)
    assert bilabial_closure_rate(ap(fused.weights), phones, fused.fps) == 1.0
    assert not np.allclose(fused.weights, audio_only.weights)


@needs_espeak
def test_cli_text_flag_and_recorded_source(voice_dir, tmp_path) -> None:
    from mcap.reader import make_reader

    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "facewire", "animate", str(voice_dir / "a.wav"),
                          "--text", LINE_A, "--out", str(out), "--no-plot"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    z = np.load(out / "a.npz")
    assert str(z["source"]) == "transcript" and "words aligned" in str(z["source_reason"])
    with open(out / "a.mcap", "rb") as f:
        meta = {m.name: m.metadata for m in make_reader(f).iter_metadata()}
    assert meta["facewire.take"]["source"] == "transcript"
    from facewire.bag.reader import read_bag

    frames = [m.msg.weights for m in read_bag(out / "a.mcap") if m.topic == "/blendshapes"]
    np.testing.assert_array_equal(np.stack(frames), z["weights"])  # the bag holds the fused take
    res = subprocess.run([sys.executable, "-m", "facewire", "animate", str(voice_dir / "a.wav"),
                          str(voice_dir / "b.wav"), "--text", LINE_A, "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--text" in res.stderr


@pytest.mark.slow
@needs_espeak
def test_a_ten_minute_file_aligns_sentence_by_sentence(aligner, tmp_path) -> None:
    from facewire.train.data.synth import SENTENCES

    text = " ".join(SENTENCES * 8)
    audio = load(speak(tmp_path / "long.wav", text))
    assert len(audio) / 16000 >= 600
    t0 = time.perf_counter()
    src = aligner.align_text(audio, text)
    took = time.perf_counter() - t0
    assert src.source == "transcript", src.reason
    done, total = (int(x) for x in src.reason.split(" sentences")[0].split(" of "))
    assert done >= 0.7 * total  # 208 of 256 on espeak-ng en-us (docs/models.md)
    print(json.dumps({"audio_s": len(audio) / 16000, "align_s": took, "aligned": src.reason}))
