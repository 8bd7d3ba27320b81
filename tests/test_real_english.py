"""Real English in ``facewire eval --real``: pocketsphinx-testdata's read sentences, phones
from forced alignment of their transcripts, scored audio-only (facewire.train.blendshapes.real_english).
Skips where the package or the rig is absent."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from facewire.cli import main
from facewire.phones.arpabet import SIL
from facewire.phones.teacher import phones_to_curves
from facewire.rig.arkit import ARKIT_INDEX
from facewire.train.blendshapes import real_english
from facewire.train.blendshapes.real_english import default_dirs, english_scores, load_english

needs_testdata = pytest.mark.skipif(
    not default_dirs(), reason="pocketsphinx-testdata not installed "
    "(apt-get install pocketsphinx-testdata): no real English with transcripts")


@pytest.fixture(scope="module")
def english():
    return load_english(default_dirs())


@needs_testdata
def test_testdata_aligns_with_its_bilabials(english) -> None:
    clips, failed = english
    assert failed == 0 and len(clips) == 10
    bilabials = sum(p.phone in ("P", "B", "M") for c in clips for p in c.phones)
    assert bilabials == 34  # LibriVox 29, cards 5
    for c in clips:  # phones inside the clip, in order
        assert all(0 <= p.start < p.end <= len(c.audio) / 16000 + 1e-6 for p in c.phones)


@needs_testdata
def test_scores_tell_closing_lips_from_open_and_shut_ones(english, aperture) -> None:
    clips, failed = english
    by_audio = {id(c.audio): c for c in clips}

    def teacher(audio: np.ndarray) -> np.ndarray:
        c = by_audio[id(audio)]
        return phones_to_curves([p for p in c.phones if p.phone != SIL],
                                len(audio) * 60 // 16000)

    good = english_scores(teacher, clips, aperture, failed)
    assert good["en_bilabials"] == 34 and good["en_clips"] == 10
    assert good["en_closure"] >= 0.9 and good["en_vowel_closure"] <= 0.05
    assert good["en_open_close"] > 1.5

    def open_(audio: np.ndarray) -> np.ndarray:
        w = np.zeros((len(audio) * 60 // 16000, 52), np.float32)
        w[:, ARKIT_INDEX["jawOpen"]] = 0.4
        return w

    assert english_scores(open_, clips, aperture)["en_closure"] == 0.0
    shut = english_scores(lambda a: np.zeros((len(a) * 60 // 16000, 52), np.float32), clips,
                          aperture)
    assert shut["en_vowel_closure"] == 1.0


def test_absent_testdata_is_a_note_not_an_error(monkeypatch, capsys) -> None:
    from facewire.commands.eval import _english_clips

    monkeypatch.setattr(real_english, "DEFAULT_DIRS", (real_english.TESTDATA / "nope",))
    assert _english_clips(argparse.Namespace(english=[])) == ([], 0)
    assert "apt-get install pocketsphinx-testdata" in capsys.readouterr().err
    assert _english_clips(argparse.Namespace(english=["none"])) == ([], 0)


def test_missing_english_folder_is_one_line(capsys) -> None:
    code = main(["eval", "--model", "facewire_cnn_gru_logmel_live", "--fsdd", "none",
                 "--real", "--english", "/nonexistent/english"])
    err = capsys.readouterr().err
    assert code == 2 and "/nonexistent/english" in err and "Traceback" not in err
