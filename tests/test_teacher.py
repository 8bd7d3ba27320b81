"""The co-articulation teacher: closure, rounding, silence, dynamics, streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facewire.phones.arpabet import ipa_to_arpabet, normalize_arpabet, phone_class
from facewire.phones.teacher import MAX_SPEED, StreamingTeacher, phones_to_curves
from facewire.rig.arkit import ARKIT_INDEX as I
from facewire.train.metrics import (
    LipAperture,
    bilabial_closure_rate,
    dtw_distance,
    false_closure_rate,
    open_close_aperture_ratio,
    rounding_ratio,
)

RIG = Path(__file__).resolve().parents[2] / "shared" / "assets" / "ict_facekit.npz"
FPS = 60.0


def _seq(spec: str, start: float = 0.3, dur: float = 0.09) -> list[tuple[str, float, float]]:
    """'AA M AA' -> evenly timed phones after a short silence."""
    out = []
    t = start
    for p in spec.split():
        out.append((p, t, t + dur))
        t += dur
    return out


def _mid(ph: tuple[str, float, float]) -> int:
    return int(round((ph[1] + ph[2]) / 2 * FPS))


def _aperture() -> LipAperture:
    if not RIG.exists():
        pytest.skip(f"ICT rig not found at {RIG} (../shared/assets)")
    return LipAperture.from_rig(RIG)


def test_phone_normalisation() -> None:
    assert normalize_arpabet("ah0") == "AH"
    assert normalize_arpabet("pau") == "SIL"
    assert ipa_to_arpabet("ɑːɹ") == ("AA", "R")
    assert ipa_to_arpabet("oʊ") == ("OW",)
    assert phone_class("m") == "bilabial"
    with pytest.raises(KeyError):
        ipa_to_arpabet("☃")


def test_bilabial_closes_lips_between_open_vowels() -> None:
    ph = _seq("AA M AA B AA P AA")
    c = phones_to_curves(ph)
    ap = _aperture()(c)
    for k in (1, 3, 5):
        assert ap[_mid(ph[k])] < 2.0, ph[k]
    for k in (0, 2, 4, 6):
        assert ap[_mid(ph[k])] > 5.0, ph[k]
    assert bilabial_closure_rate(ap, ph) == 1.0


def test_jaw_opens_by_vowel_openness() -> None:
    ph = _seq("SIL AA SIL IY SIL", dur=0.2)
    c = phones_to_curves(ph)
    assert c[_mid(ph[1]), I["jawOpen"]] > 2 * c[_mid(ph[3]), I["jawOpen"]]
    ap = _aperture()(c)
    assert open_close_aperture_ratio(ap, ph) > 1.5


def test_rounded_vowels_pucker_and_spread_vowels_stretch() -> None:
    ph = _seq("T UW T IY T OW", dur=0.15)
    c = phones_to_curves(ph)
    uw, iy = c[_mid(ph[1])], c[_mid(ph[3])]
    assert uw[I["mouthPucker"]] + uw[I["mouthFunnel"]] > 0.5
    assert iy[I["mouthPucker"]] + iy[I["mouthFunnel"]] < 0.1
    assert iy[I["mouthStretchLeft"]] > 0.2 > uw[I["mouthStretchLeft"]]
    assert rounding_ratio(c, ph) > 1.5


def test_labiodental_rolls_lower_lip() -> None:
    ph = _seq("AA F AA")
    c = phones_to_curves(ph)
    assert c[_mid(ph[1]), I["mouthRollLower"]] > 0.3
    assert c[_mid(ph[0]), I["mouthRollLower"]] < 0.2


def test_anticipatory_rounding_through_consonants() -> None:
    """The lips round during /s t/ before /uw/ (co-articulation), not before /iy/."""
    round_ = phones_to_curves(_seq("SIL S T UW", dur=0.08))
    spread = phones_to_curves(_seq("SIL S T IY", dur=0.08))
    t_mid = _mid(_seq("SIL S T UW", dur=0.08)[2])
    assert round_[t_mid, I["mouthPucker"]] > spread[t_mid, I["mouthPucker"]] + 0.15


def test_silence_relaxes_to_neutral() -> None:
    ph = [*_seq("HH AA M AA"), ("AA", 3.0, 3.2)]
    c = phones_to_curves(ph, n_frames=int(4.0 * FPS))
    assert np.abs(c[: int(0.1 * FPS)]).max() < 1e-3  # before speech
    assert np.abs(c[int(1.6 * FPS): int(2.6 * FPS)]).max() < 1e-3  # long pause
    assert np.abs(c[-5:]).max() < 1e-3  # after speech


def test_no_jumps_and_bounded_jaw_speed() -> None:
    rng = np.random.default_rng(0)
    phones = ["AA", "P", "IY", "M", "UW", "S", "AE", "B", "OW", "F", "SIL", "T", "AY"]
    t, ph = 0.2, []
    for p in rng.choice(phones, 80):
        d = float(rng.uniform(0.03, 0.2))
        ph.append((str(p), t, t + d))
        t += d
    c = phones_to_curves(ph)
    vel = np.abs(np.diff(c, axis=0)) * FPS
    assert vel[:, I["jawOpen"]].max() <= MAX_SPEED[I["jawOpen"]] + 1e-4
    assert vel.max() <= MAX_SPEED.max() * 1.0 + 1e-4 + 5.0  # mouthClose = seal * jaw
    assert c.min() >= 0.0 and c.max() <= 1.0


def test_streaming_equals_offline() -> None:
    ph = _seq("SIL HH EH L OW SIL W ER L D", dur=0.11) + [("M", 1.6, 1.7), ("AA", 1.7, 1.9)]
    n = int(2.4 * FPS)
    offline = phones_to_curves(ph, n_frames=n)
    st = StreamingTeacher()
    chunks = []
    for p in ph:
        st.push(*p)
        chunks.append(st.pull())
    st.advance(n / FPS + st.delay + 0.1)
    chunks.append(st.pull())
    live = np.concatenate(chunks)[:n]
    assert live.shape == offline.shape
    np.testing.assert_allclose(live, offline, atol=1e-5)
    assert st.delay <= 0.15


def test_streaming_holds_frames_until_lookahead_known() -> None:
    st = StreamingTeacher()
    st.push("AA", 0.0, 0.5)
    got = st.pull()
    assert len(got) == int(np.floor((0.5 - st.delay) * FPS)) + 1
    assert len(st.pull()) == 0


def test_metric_known_answers() -> None:
    ap = np.array([5.0, 1.0, 5.0, 5.0, 3.0, 5.0])
    ph = [("M", 1 / FPS, 2 / FPS), ("B", 4 / FPS, 5 / FPS)]
    assert bilabial_closure_rate(ap, ph) == 0.5
    others = [("T", 1 / FPS, 2 / FPS), ("K", 2 / FPS, 3 / FPS), ("S", 4 / FPS, 5 / FPS),
              ("F", 1 / FPS, 2 / FPS)]  # F closes on the teeth: not counted
    assert false_closure_rate(ap, others) == pytest.approx(1 / 3)
    a = np.array([[0.0], [1.0], [0.0]])
    b = np.array([[0.0], [0.0], [1.0], [1.0], [0.0]])
    assert dtw_distance(a, b) == pytest.approx(0.0)
    assert dtw_distance(a, a + 1) == pytest.approx(1.0)


def test_aperture_from_rig_is_grounded() -> None:
    ap = _aperture()
    neutral = ap(np.zeros(52))
    jaw = np.zeros(52)
    jaw[I["jawOpen"]] = 1.0
    assert 0.0 <= neutral < 2.0  # the ICT neutral has lips nearly together
    assert ap(jaw) > 20.0  # a full jaw opening parts the lips by centimetres
    jaw[I["mouthClose"]] = 1.0
    assert ap(jaw) < 2.0  # mouthClose brings them back together
