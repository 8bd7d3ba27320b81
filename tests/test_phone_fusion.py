"""The words-path fusion (facewire.phones.fusion): frame-wise, phones own the lips, the
voice owns the jaw amplitude and every curve the teacher does not drive."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facewire.phones.fusion import (
    CARD_PATH,
    FusionParams,
    fuse_frames,
    load_fusion,
)
from facewire.phones.teacher import phones_to_curves
from facewire.rig.arkit import ARKIT_INDEX
from facewire.rig.rig import default_rig_path

J, C = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
PHONES = [("SIL", 0.0, 0.2), ("M", 0.2, 0.3), ("AA", 0.3, 0.5), ("P", 0.5, 0.6),
          ("UW", 0.6, 0.8), ("IY", 0.8, 1.0), ("SIL", 1.0, 1.3)]


def _voice(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.uniform(0, 0.4, (n, 52)).astype(np.float32)
    v[:, J] = rng.uniform(0.2, 0.7, n)  # a voice that never closes and opens wide
    v[:, C] = 0.0
    return v


def test_shipped_card_loads_and_is_default_form() -> None:
    p = load_fusion()
    assert isinstance(p, FusionParams)
    card = json.loads(CARD_PATH.read_text())
    assert card["params"] == p.to_dict()


def test_frame_wise_rows_equal_the_whole() -> None:
    rng = np.random.default_rng(0)
    t = phones_to_curves(PHONES)
    v = _voice(len(t), rng)
    whole = fuse_frames(t, v, load_fusion())
    rows = np.stack([fuse_frames(t[i], v[i], load_fusion())[0] for i in range(len(t))])
    np.testing.assert_array_equal(whole, rows)
    assert whole.dtype == np.float32 and whole.shape == t.shape


def test_lips_close_on_bilabials_whatever_the_voice_jaw() -> None:
    pytest.importorskip("scipy")
    from facewire.train.metrics import LipAperture, bilabial_closure_rate, false_closure_rate

    rig = default_rig_path()
    if not rig.exists():
        pytest.skip(f"{rig}: ICT facekit rig absent (shared data)")
    ap = LipAperture.from_rig(rig)
    t = phones_to_curves(PHONES)
    v = _voice(len(t), np.random.default_rng(1))
    fused = fuse_frames(t, v, load_fusion())
    assert bilabial_closure_rate(ap(fused), PHONES) == 1.0
    assert bilabial_closure_rate(ap(v), PHONES) == 0.0  # the voice alone never closes
    assert false_closure_rate(ap(fused), PHONES + [("D", 1.05, 1.1)]) == 0.0


def test_jaw_follows_voice_and_untaught_curves_are_the_voice() -> None:
    t = phones_to_curves(PHONES)
    rng = np.random.default_rng(2)
    v = _voice(len(t), rng)
    loud = v.copy()
    loud[:, J] = np.clip(v[:, J] * 1.5, 0, 1)
    open_frames = slice(int(0.35 * 60), int(0.45 * 60))  # inside /AA/
    a = fuse_frames(t, v)[open_frames, J]
    b = fuse_frames(t, loud)[open_frames, J]
    assert np.all(b > a)  # a louder, wider voice opens the jaw further
    brow = ARKIT_INDEX["browInnerUp"]
    np.testing.assert_allclose(fuse_frames(t, v)[:, brow], v[:, brow])
    # rounding follows the phones: the voice's funnel does not leak in at full phone weight
    f = ARKIT_INDEX["mouthFunnel"]
    np.testing.assert_allclose(fuse_frames(t, v)[:, f], np.clip(t[:, f], 0, 1), atol=1e-6)


def test_bad_params_and_cards_name_the_problem(tmp_path) -> None:
    with pytest.raises(ValueError, match="jaw_phone_weight"):
        FusionParams(jaw_phone_weight=1.5)
    with pytest.raises(ValueError, match="unknown fusion parameters"):
        FusionParams.from_dict({"jaw_weight": 0.5})
    bad = tmp_path / "card.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a fusion card"):
        load_fusion(bad)
    with pytest.raises(FileNotFoundError, match="fusion card not found"):
        load_fusion(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="same shape"):
        fuse_frames(np.zeros((3, 52)), np.zeros((4, 52)))
