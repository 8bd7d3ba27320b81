"""Synthetic corpus: each installed engine, determinism, manifest, timings vs audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facewire.phones.arpabet import ARPABET_SET, Phone
from facewire.train.data.synth import (
    SAMPLE_RATE,
    _pitch_shift,
    augment,
    available_engines,
    read_manifest,
    split_by_voice,
    synth_corpus,
)

ENGINES = available_engines()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ENGINES:
        pytest.skip("no speech engine installed (apt: espeak-ng, flite, festival)")
    out = tmp_path_factory.mktemp("corpus")
    synth_corpus(out, minutes=0.4, seed=7)
    return out


def test_manifest_fields_and_files(corpus: Path) -> None:
    clips = read_manifest(corpus)
    assert sum(c["duration"] for c in clips) >= 0.4 * 60
    for c in clips:
        for key in ("id", "engine", "voice", "settings", "augment", "text", "phones", "wav",
                    "curves", "n_frames", "duration"):
            assert key in c
        assert c["voice"].startswith(c["engine"] + ":")
        audio, sr = sf.read(corpus / c["wav"])
        assert sr == SAMPLE_RATE and audio.ndim == 1
        assert abs(len(audio) / sr - c["duration"]) < 1e-3
        curves = np.load(corpus / c["curves"])
        assert curves.shape == (c["n_frames"], 52) and curves.dtype == np.float32
        assert c["n_frames"] == int(np.ceil(c["duration"] * 60))
    summary = json.loads((corpus / "corpus.json").read_text())
    assert summary["clips"] == len(clips)


def test_phone_timings_plausible(corpus: Path) -> None:
    for c in read_manifest(corpus):
        ph = [Phone(*p) for p in c["phones"]]
        assert all(p.phone in ARPABET_SET for p in ph)
        assert all(p.end > p.start for p in ph)
        assert all(a.end <= b.start + 1e-6 for a, b in zip(ph, ph[1:]))
        assert ph[-1].end == pytest.approx(c["duration"], abs=1e-3)
        speech = [p for p in ph if p.phone != "SIL"]
        assert len(speech) >= 5, c["text"]
        rate = len(speech) / (speech[-1].end - speech[0].start)
        assert 4 < rate < 25, (c["voice"], rate)  # phones per second of speech
        # the audio is loud inside speech and quiet before it starts (leading silence)
        audio, _ = sf.read(corpus / c["wav"])
        if not c["augment"].get("noise_snr_db") and not c["augment"].get("reverb_rt60"):
            s0 = int(speech[0].start * SAMPLE_RATE)
            lead = np.sqrt(np.mean(audio[: max(s0 - 400, 1)] ** 2))
            body = np.sqrt(np.mean(audio[s0: int(speech[-1].end * SAMPLE_RATE)] ** 2))
            assert body > 3 * lead, c["voice"]


def test_every_installed_engine_used() -> None:
    if not ENGINES:
        pytest.skip("no speech engine installed")
    import tempfile
    for name in ENGINES:
        with tempfile.TemporaryDirectory() as tmp:
            clips = synth_corpus(tmp, minutes=0.05, seed=1, engines=[name])
            assert clips and all(c.engine == name for c in clips)


def test_deterministic_by_seed(tmp_path: Path) -> None:
    if not ENGINES:
        pytest.skip("no speech engine installed")
    a = synth_corpus(tmp_path / "a", minutes=0.15, seed=3)
    b = synth_corpus(tmp_path / "b", minutes=0.15, seed=3)
    c = synth_corpus(tmp_path / "c", minutes=0.15, seed=4)
    assert [x.phones for x in a] == [x.phones for x in b]
    assert [x.voice for x in a] == [x.voice for x in b]
    for x in a:
        wa, _ = sf.read(tmp_path / "a" / x.wav)
        wb, _ = sf.read(tmp_path / "b" / x.wav)
        np.testing.assert_allclose(wa, wb, atol=2e-4)  # a couple of LSB at most
    assert [x.text for x in a] != [x.text for x in c]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (apt: sox)")
def test_pitch_shift_is_repeatable() -> None:
    """sox dithers with a random seed unless told otherwise: rebuilds would differ by LSBs."""
    x = np.random.default_rng(1).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    a, b = _pitch_shift(x, 150), _pitch_shift(x, 150)
    assert len(a) == len(x)
    assert not np.allclose(a, x, atol=1e-2)  # it did shift
    np.testing.assert_array_equal(a, b)


def test_speed_perturbation_scales_timings() -> None:
    x = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    ph = [Phone("AA", 0.2, 0.6), Phone("M", 0.6, 0.9)]
    for seed in range(40):
        y, ph2, rec = augment(x, ph, np.random.default_rng(seed))
        if "speed" in rec:
            k = len(y) / len(x)
            assert ph2[1].end == pytest.approx(0.9 * k, rel=1e-2)
            assert k == pytest.approx(1 / rec["speed"], rel=1e-2)
            return
    pytest.fail("no speed perturbation drawn in 40 seeds")


def test_split_holds_out_whole_voices() -> None:
    clips = [{"engine": e, "voice": f"{e}:{v}"} for e in ("espeak", "flite")
             for v in "abcde" for _ in range(3)]
    train, val = split_by_voice(clips, 0.2, seed=0)
    assert train and val
    assert not {c["voice"] for c in train} & {c["voice"] for c in val}
    assert {c["engine"] for c in val} == {"espeak", "flite"}


def test_empty_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.jsonl").write_text("")
    with pytest.raises(ValueError, match="no clips"):
        read_manifest(tmp_path)


def _median_f0(audio: np.ndarray) -> float:
    """Autocorrelation pitch over the loud 40 ms frames (enough to tell 110 Hz from 230)."""
    n, hop, out = 640, 160, []
    for i in range(0, len(audio) - n, hop):
        s = audio[i:i + n]
        if np.sqrt(np.mean(s ** 2)) < 0.05 * np.abs(audio).max():
            continue
        ac = np.correlate(s, s, "full")[n - 1:]
        lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            out.append(SAMPLE_RATE / k)
    return float(np.median(out))


def test_flite_f0_range_raises_the_pitch_and_keeps_the_rest(tmp_path: Path) -> None:
    """The same seed with ``flite_f0``: same voices and texts, pitch drawn from the range
    (heard in the audio of the voices that honour it), recorded in the manifest."""
    if "flite" not in ENGINES:
        pytest.skip("flite not installed (apt: flite)")
    plain = synth_corpus(tmp_path / "a", minutes=0.5, seed=1, engines=["flite"])
    high = synth_corpus(tmp_path / "b", minutes=0.5, seed=1, engines=["flite"],
                        flite_f0=(240.0, 250.0))
    n = min(len(plain), len(high))
    assert [c.voice for c in plain[:n]] == [c.voice for c in high[:n]]
    assert [c.text for c in plain[:n]] == [c.text for c in high[:n]]
    assert all("f0_mean" not in c.settings for c in plain)
    assert all(240 <= c.settings["f0_mean"] <= 250 for c in high)
    checked = 0
    for a, b in zip(plain[:n], high[:n], strict=True):
        if (a.voice.split(":")[1] in ("awb", "kal16", "slt")
                and not a.augment.get("pitch_cents") and not b.augment.get("pitch_cents")):
            f_a = _median_f0(sf.read(tmp_path / "a" / a.wav)[0])
            f_b = _median_f0(sf.read(tmp_path / "b" / b.wav)[0])
            assert f_b > max(1.15 * f_a, 200), (a.voice, f_a, f_b)
            checked += 1
    assert checked
    assert json.loads((tmp_path / "b" / "corpus.json").read_text())["flite_f0"] == [240, 250]
    from facewire.train.data.dataset import corpus_summary

    synth = corpus_summary([str(tmp_path / "a"), str(tmp_path / "b")], [])["synth"]
    assert "flite_f0" not in synth[str(tmp_path / "a")]  # what a model card records
    assert synth[str(tmp_path / "b")]["flite_f0"] == [240, 250]
    with pytest.raises(RuntimeError, match="flite F0 range"):
        synth_corpus(tmp_path / "c", minutes=0.1, flite_f0=(300.0, 100.0))
