"""Real-voice checks (FACEGOOD closure events, vowel closure) and the live-graph scorer's
bookkeeping (stream layout, frames cut back per clip), on arrays made here: fast, no data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from facewire.cli import main
from facewire.rig.arkit import ARKIT_INDEX
from facewire.train.blendshapes.live_graph import ALIGN, LiveGraph
from facewire.train.blendshapes.real_voice import closure_events, events_closed, facegood_scores
from facewire.train.metrics import LipAperture, vowel_closure_rate

JAW, CLOSE = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]


def toy_aperture() -> LipAperture:
    """1 mm at rest (closed), +30 mm per unit jawOpen, -40 mm per unit mouthClose."""
    d = np.zeros(52)
    d[JAW], d[CLOSE] = 30.0, -40.0
    return LipAperture(1.0, d)


def test_closure_events_are_closed_runs_between_open_lips() -> None:
    ap = np.array([1, 1, 9, 9, 1, 1, 1, 9, 9] + [1] * 30 + [9, 9, 1, 9, 1, 1], float)
    assert closure_events(ap) == [(4, 7), (9, 39), (41, 42)]  # not the runs at the ends
    assert closure_events(ap, max_s=0.3, min_frames=2) == [(4, 7)]


def test_events_closed_allows_two_frames_of_timing_slack() -> None:
    pred = np.full(20, 9.0)
    pred[9] = 0.5  # closes two frames after the event's last frame (7)
    assert events_closed(pred, [(5, 8), (12, 15)]) == [True, False]  # 1/30 s either side
    assert events_closed(pred, [(5, 8)], tolerance_s=1 / 60) == [False]
    assert events_closed(pred, [(9, 10)], tolerance_s=0) == [True]


@dataclass
class FakeTake:
    audio: np.ndarray
    curves: np.ndarray


def talking_face(n: int = 300, seed: int = 0) -> np.ndarray:
    """Jaw open and closing, with short closures (bilabials) in between."""
    rng = np.random.default_rng(seed)
    c = np.zeros((n, 52), np.float32)
    c[:, JAW] = 0.3 + 0.1 * np.sin(np.arange(n) / 7)
    for s in rng.choice(np.arange(20, n - 20, 25), size=6, replace=False):
        c[s:s + 3, JAW], c[s:s + 3, CLOSE] = 0.0, 0.1
    c[:5, JAW] = c[-5:, JAW] = 0.0  # silence at the ends
    return c


def test_facegood_scores_tell_a_closing_model_from_a_mumbling_one() -> None:
    curves = talking_face()
    takes = [FakeTake(np.zeros(len(curves) * 16000 // 60, np.float32), curves)]
    ap = toy_aperture()
    perfect = facegood_scores(lambda audio: curves, takes, ap)
    assert perfect["fg_closure"] == 1.0 and perfect["fg_events"] == 6
    assert perfect["fg_jaw_r"] > 0.99 and perfect["fg_false_closure"] == 0.0
    mumble = curves.copy()
    mumble[:, JAW] = np.maximum(mumble[:, JAW], 0.2)  # never closes
    mumble[:, CLOSE] = 0.0
    got = facegood_scores(lambda audio: mumble, takes, ap)
    assert got["fg_closure"] == 0.0
    shut = np.zeros_like(curves)  # lips shut all along: closes every event, falsely
    got = facegood_scores(lambda audio: shut, takes, ap)
    assert got["fg_closure"] == 1.0 and got["fg_false_closure"] == 1.0


def test_vowel_closure_looks_at_the_vowels_middle() -> None:
    ap = np.full(60, 8.0)
    ap[0:12] = 0.5  # /m/ and the vowel's start closed: fine
    ap[40:46] = 0.5  # the middle of the second vowel closed: false closure
    phones = [("M", 0.0, 0.1), ("AA", 0.1, 0.4), ("IY", 0.5, 0.9)]
    assert vowel_closure_rate(ap, phones) == 0.5


def test_live_graph_lays_out_clips_by_speaker_and_cuts_frames_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal(n).astype(np.float32) for n in (8000, 12345, 4000)]
    graph = LiveGraph(tmp_path, gap_s=0.5)
    graph.speaker(clips[0], "a")
    graph.speaker(clips[1], "b")
    graph.speaker(clips[2], "a")
    for c in clips:  # the collecting pass answers neutral frames of the right length
        assert graph(c).shape == (len(c) * 60 // 16000, 52) and not graph(c).any()
    stream = graph._stream()
    starts = [graph.offsets[k] for k in graph.clips]
    assert all(s % ALIGN == 0 for s in starts)
    assert starts[0] < starts[2] < starts[1]  # speaker a's two clips together
    for c, s in zip(clips, starts):
        assert np.array_equal(stream[s:s + len(c)], c)
    # frames as the graph would send them: frame k carries k in every curve
    n = len(stream) * 60 // 16000
    frames = [Frame(k) for k in range(n) if k != 40]  # one frame lost on the way
    graph.frames, missing = graph._timeline(frames, n)
    assert missing == 1 and graph.frames[40, 0] == 39  # held from the frame before
    for c, s in zip(clips, starts):
        assert graph(c)[0, 0] == s * 60 // 16000


@dataclass
class _Header:
    media_time: float


class Frame:
    def __init__(self, k: int) -> None:
        self.header = _Header(k / 60)
        self.weights = np.full(52, float(k), np.float32)


def test_live_graph_refuses_a_clip_it_did_not_collect(tmp_path: Path) -> None:
    graph = LiveGraph(tmp_path)
    graph(np.zeros(1600, np.float32))
    graph._stream()
    graph.frames = np.zeros((200, 52), np.float32)
    with pytest.raises(RuntimeError, match="collecting pass"):
        graph(np.ones(1600, np.float32))


@pytest.mark.parametrize("argv, message", [
    (["--live", "--live-arg", "smoothing"], "KEY=VALUE"),
    (["--live", "--update-card"], "without --live"),
    (["--real", "--facegood", "/nonexistent/facegood"], "/nonexistent/facegood"),
])
def test_eval_live_and_real_bad_input_is_one_line(argv: list[str], message: str,
                                                   capsys) -> None:
    code = main(["eval", "--model", "facewire_cnn_gru_logmel_live", "--fsdd", "none", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_closure_augment_changes_only_bilabial_intervals() -> None:
    from facewire.phones.arpabet import Phone
    from facewire.train.data.closure_aug import closure_augment

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    x[4000:5600] = 0.0  # a clean synthesiser /b/: 100 ms of silence
    x[9000:10600] = 0.0  # and a /t/ closure, which must stay as it is
    phones = [Phone("AA", 0.0, 0.25), Phone("B", 0.25, 0.35), Phone("AA", 0.35, 0.5625),
              Phone("T", 0.5625, 0.6625), Phone("AA", 0.6625, 1.0)]
    state = rng.bit_generator.state
    same, rec = closure_augment(x, phones, rng, 0.0)
    assert same is x and rec == {} and rng.bit_generator.state == state
    made = set()
    for seed in range(12):
        y, rec = closure_augment(x, phones, np.random.default_rng(seed), 1.5)
        assert np.array_equal(y[:4000], x[:4000]) and np.array_equal(y[5600:], x[5600:])
        if rec:
            assert np.abs(y[4100:5500]).max() > 1e-3  # the silence now holds something
            made |= {k for k, v in rec.items() if v}
    assert made == {"closure_voiced", "closure_noisy", "closure_smeared"}


def test_live_sessions_put_each_speakers_frames_back_in_place(tmp_path: Path,
                                                              monkeypatch) -> None:
    """One launch per speaker: the launches are replaced here by a stand-in that answers
    each stream's frames with the stream's own sample positions (the real launch is
    tests/test_live_closure.py's slow test); what is checked is the bookkeeping."""
    def fake_run(self: LiveGraph, progress: bool = True) -> None:
        stream = self._stream()
        n = len(stream) * 60 // 16000
        self.frames = np.repeat((np.arange(n) * 16000 // 60)[:, None], 52, 1).astype(
            np.float32) + 1000 * len(self.clips)  # which session: its clip count
        self.stats = {"live_seconds": len(stream) / 16000, "live_frames": float(n),
                      "live_missing_frames": 0.0}

    monkeypatch.setattr(LiveGraph, "run", fake_run)
    rng = np.random.default_rng(2)
    clips = [rng.standard_normal(n).astype(np.float32) for n in (8000, 6000, 9000)]
    graph = LiveGraph(tmp_path, gap_s=0.5)
    for c, who in zip(clips, ("a", "b", "a")):
        graph.speaker(c, who)
        graph(c)
    graph.run_sessions(progress=False)
    assert graph.stats["live_sessions"] == 2
    first_a = graph(clips[0])[0, 0]
    assert first_a == 8000 + 2000  # speaker a's session: two clips, first after the gap
    assert graph(clips[2])[0, 0] > first_a
    assert graph(clips[1])[0, 0] == 8000 + 1000  # speaker b's own session, its own clock


def test_pad_silence_shifts_phones_with_the_audio() -> None:
    from facewire.phones.arpabet import SIL, Phone
    from facewire.train.data.closure_aug import pad_silence

    x = np.ones(8000, np.float32)
    phones = [Phone("B", 0.0, 0.1), Phone("AA", 0.1, 0.5)]
    padded = 0
    for seed in range(8):
        y, ph, rec = pad_silence(x, phones, np.random.default_rng(seed), 1.0)
        if not rec:
            assert y is x and ph is phones
            continue
        padded += 1
        lead = int(round(rec["pad_lead_s"] * 16000))
        assert np.array_equal(y[lead:lead + 8000], x) and np.abs(y[:lead]).max() < 0.05
        assert ph[0].phone == SIL and ph[1].start == pytest.approx(rec["pad_lead_s"])
        assert len(y) == lead + 8000 + int(round(rec["pad_tail_s"] * 16000))
    assert padded >= 3


def test_lead_in_returns_the_clips_own_frames() -> None:
    from facewire.train.blendshapes.evaluate import with_lead_in

    seen = []

    def predict(audio: np.ndarray) -> np.ndarray:  # frame k: the sample at k / 60 s
        seen.append(len(audio))
        n = len(audio) * 60 // 16000
        return np.repeat(audio[np.arange(n) * 16000 // 60][:, None], 52, 1)

    clip = np.full(16000, 0.5, np.float32)
    out = with_lead_in(predict, 1.0)(clip)
    assert seen == [32000] and out.shape == (60, 52)
    assert np.all(out == 0.5)  # none of the lead-in's frames
