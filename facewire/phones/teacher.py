"""Co-articulation teacher: timed ARPAbet phones -> ARKit-52 curves at 60 fps.

Synthetic voices come with phones but no faces; this module turns the phones into the
curves the models learn. Each phone has a viseme target (a few ARKit curves) and a
dominance function over time (Cohen & Massaro 1993): a phone's influence rises before it
(anticipation) and decays after it (carry-over), and every curve is the dominance-weighted
average of the targets around it. Dominance is given per phone *and per curve*, so a /p/
owns the lips and jaw but lets the rounding of a neighbouring /uw/ pass through, as lips
really do. Then a per-curve speed limit keeps the motion physically plausible.

Two details make it suitable for training targets and for live use:

* ``lipSeal`` is an internal channel (not an ARKit curve): bilabials seal the lips and the
  output ``mouthClose = lipSeal * jawOpen``, which is what ARKit's mouthClose means (lips
  together whatever the jaw does). Closure therefore survives any jaw speed limit.
* Dominance has compact support: a phone that starts more than ``lookahead`` seconds after a
  frame cannot influence it. :class:`StreamingTeacher` uses this to emit frames from phone
  events as soon as ``lookahead`` seconds of phones are known, and the result equals
  :func:`phones_to_curves` on the same phones.

The table and the reasons for the numbers are in docs/teacher.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from facewire.phones.arpabet import (
    PHONE_CLASSES,
    SIL,
    VOWELS,
    Phone,
    arpabet_phones,
    merge_silences,
)
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

FPS = 60.0
SEAL = "lipSeal"
CHANNELS: tuple[str, ...] = (*ARKIT_52, SEAL)
_CH = {name: i for i, name in enumerate(CHANNELS)}
N_CH = len(CHANNELS)


def _curves(**groups: float) -> dict[str, float]:
    """Expand symmetric group names (``mouthSmile=0.2`` -> Left and Right) to curves."""
    out: dict[str, float] = {}
    for name, value in groups.items():
        if name in _CH:
            out[name] = value
        elif name + "Left" in _CH:
            out[name + "Left"] = value
            out[name + "Right"] = value
        else:
            raise KeyError(name)
    return out


# Viseme targets (ARKit weights) per phone. Diphthongs are split into two parts below.
TARGETS: dict[str, dict[str, float]] = {
    SIL: {},
    # lips sealed and compressed: small jaw, lips pressed, lower lip pushed up; P builds
    # the most pressure, M the least. Compression leaves a margin below the 2 mm closure
    # threshold that a model's averaged prediction still reaches (docs/teacher.md)
    "P": _curves(jawOpen=0.03, lipSeal=1.0, mouthPress=0.7, mouthRollLower=0.1,
                 mouthShrugLower=0.25),
    "B": _curves(jawOpen=0.04, lipSeal=1.0, mouthPress=0.6, mouthRollLower=0.08,
                 mouthShrugLower=0.22),
    "M": _curves(jawOpen=0.04, lipSeal=1.0, mouthPress=0.5, mouthRollLower=0.06,
                 mouthShrugLower=0.2),
    # lower lip rolled in under the upper teeth, upper lip lifted
    "F": _curves(jawOpen=0.08, mouthRollLower=0.55, mouthUpperUp=0.22, mouthShrugUpper=0.1),
    "V": _curves(jawOpen=0.09, mouthRollLower=0.5, mouthUpperUp=0.2, mouthShrugUpper=0.1),
    # tongue tip between the teeth
    "TH": _curves(jawOpen=0.12, tongueOut=0.3, mouthUpperUp=0.08),
    "DH": _curves(jawOpen=0.12, tongueOut=0.25, mouthUpperUp=0.08),
    # alveolars: teeth near together, lips mostly free
    "T": _curves(jawOpen=0.1, mouthUpperUp=0.06),
    "D": _curves(jawOpen=0.12, mouthUpperUp=0.06),
    "N": _curves(jawOpen=0.1, mouthUpperUp=0.04),
    "L": _curves(jawOpen=0.18, mouthUpperUp=0.05),
    "S": _curves(jawOpen=0.04, mouthStretch=0.2, mouthSmile=0.08, mouthUpperUp=0.12,
                 mouthLowerDown=0.1),
    "Z": _curves(jawOpen=0.05, mouthStretch=0.18, mouthSmile=0.06, mouthUpperUp=0.1,
                 mouthLowerDown=0.1),
    # postalveolars: lips protruded and flared
    "SH": _curves(jawOpen=0.07, mouthFunnel=0.45, mouthPucker=0.3, mouthUpperUp=0.15,
                  mouthLowerDown=0.15),
    "ZH": _curves(jawOpen=0.07, mouthFunnel=0.42, mouthPucker=0.28, mouthUpperUp=0.15,
                  mouthLowerDown=0.15),
    "CH": _curves(jawOpen=0.08, mouthFunnel=0.4, mouthPucker=0.3, mouthUpperUp=0.12,
                  mouthLowerDown=0.12),
    "JH": _curves(jawOpen=0.09, mouthFunnel=0.38, mouthPucker=0.28, mouthUpperUp=0.12,
                  mouthLowerDown=0.12),
    # velars: jaw half way, lips free
    "K": _curves(jawOpen=0.18),
    "G": _curves(jawOpen=0.18),
    "NG": _curves(jawOpen=0.12),
    "HH": _curves(jawOpen=0.22),
    "R": _curves(jawOpen=0.1, mouthFunnel=0.25, mouthPucker=0.3),
    "ER": _curves(jawOpen=0.18, mouthFunnel=0.3, mouthPucker=0.22),
    "W": _curves(jawOpen=0.05, mouthPucker=0.8, mouthFunnel=0.25),
    "Y": _curves(jawOpen=0.08, mouthStretch=0.25, mouthSmile=0.15),
    # spread vowels: lips stretched, jaw by openness
    "IY": _curves(jawOpen=0.1, mouthStretch=0.35, mouthSmile=0.25, mouthLowerDown=0.08),
    "IH": _curves(jawOpen=0.16, mouthStretch=0.25, mouthSmile=0.12, mouthLowerDown=0.1),
    "EH": _curves(jawOpen=0.3, mouthStretch=0.18, mouthSmile=0.08, mouthLowerDown=0.15,
                  mouthUpperUp=0.05),
    "AE": _curves(jawOpen=0.42, mouthStretch=0.22, mouthLowerDown=0.2, mouthUpperUp=0.1),
    # open vowels: jaw by openness
    "AH": _curves(jawOpen=0.34, mouthLowerDown=0.1),
    "AA": _curves(jawOpen=0.55, mouthLowerDown=0.12),
    # rounded vowels: funnel (open rounding) and pucker (close rounding)
    "AO": _curves(jawOpen=0.42, mouthFunnel=0.38, mouthPucker=0.15),
    "OW": _curves(jawOpen=0.3, mouthFunnel=0.5, mouthPucker=0.3),
    "UH": _curves(jawOpen=0.16, mouthFunnel=0.3, mouthPucker=0.4),
    "UW": _curves(jawOpen=0.1, mouthFunnel=0.3, mouthPucker=0.75),
}

# Diphthongs glide between two targets: (first part, share of the duration), second part.
DIPHTHONGS: dict[str, tuple[str, float, str]] = {
    "AY": ("AA", 0.55, "IH"),
    "AW": ("AA", 0.55, "UH"),
    "OY": ("AO", 0.55, "IY"),
    "EY": ("EH", 0.6, "IY"),
    "OW": ("OW", 0.6, "UW"),
}


@dataclass(frozen=True)
class Dominance:
    """How strongly a phone class holds the curves, and for how long around it.

    ``alpha_key`` applies to the curves the articulation needs (``key``), ``alpha_other`` to
    the rest, which neighbours may then shape. ``theta_ant``/``theta_car`` (1/s) are the
    decay rates before/after the phone's plateau, the central ``plateau`` share of its
    duration where its dominance is full.
    """

    key: frozenset[str]
    alpha_key: float
    alpha_other: float
    theta_ant: float
    theta_car: float
    plateau: float = 0.5


_LIPS_ALL = frozenset(
    _curves(jawOpen=0, lipSeal=0, mouthPress=0, mouthFunnel=0, mouthLowerDown=0,
            mouthUpperUp=0, mouthRollLower=0, mouthRollUpper=0, mouthShrugLower=0,
            mouthShrugUpper=0)
)
_ROUND = frozenset(_curves(mouthFunnel=0, mouthPucker=0))
_SPREAD = frozenset(_curves(mouthStretch=0, mouthSmile=0))
_ALL = frozenset(CHANNELS)

DOMINANCE: dict[str, Dominance] = {
    "silence": Dominance(_ALL, 1.0, 1.0, 14.0, 10.0),
    "bilabial": Dominance(_LIPS_ALL, 6.0, 0.5, 45.0, 55.0, 0.6),
    "labiodental": Dominance(_LIPS_ALL, 5.0, 0.5, 40.0, 50.0, 0.6),
    "dental": Dominance(frozenset(_curves(jawOpen=0, tongueOut=0)), 3.0, 0.4, 30.0, 30.0),
    "alveolar": Dominance(frozenset(_curves(jawOpen=0)), 1.5, 0.3, 30.0, 30.0),
    "postalveolar": Dominance(_ROUND | {"jawOpen"}, 3.0, 0.5, 24.0, 24.0),
    "velar": Dominance(frozenset(_curves(jawOpen=0)), 1.0, 0.3, 30.0, 30.0),
    "glottal": Dominance(frozenset(), 0.2, 0.2, 30.0, 30.0),
    "rhotic": Dominance(_ROUND, 1.5, 0.6, 20.0, 20.0),
    "rounded_glide": Dominance(_ROUND | {"jawOpen"}, 5.0, 0.5, 20.0, 24.0),
    "palatal_glide": Dominance(_SPREAD, 2.0, 0.5, 24.0, 24.0),
    "rounded_vowel": Dominance(_ROUND, 2.0, 1.0, 12.0, 16.0),
    "spread_vowel": Dominance(_SPREAD, 1.5, 1.0, 12.0, 16.0),
    "open_vowel": Dominance(frozenset(_curves(jawOpen=0)), 1.5, 1.0, 12.0, 16.0),
}

# Maximum speed per curve (weight units per second): the jaw is the heaviest articulator.
# jawOpen 1.0 is ~33 mm of lip opening on the ICT rig, so 5/s is ~165 mm/s, near the peak
# jaw speeds measured in fast speech.
MAX_SPEED = np.full(N_CH, 8.0)
MAX_SPEED[_CH["jawOpen"]] = 5.0
MAX_SPEED[_CH[SEAL]] = 14.0

# Vowels actively part the lips: their hold on lipSeal (target 0) is stronger than on
# the other curves, so a bilabial's seal does not leak into a short vowel beside it.
VOWEL_SEAL_ALPHA = 2.0

SILENCE_MARGIN = 0.05  # s into a pause before silence holds full dominance
REST_ALPHA = 0.02  # constant pull to neutral so that nothing in range means neutral


def _class_of(phone: str) -> str:
    for name, members in PHONE_CLASSES.items():
        if phone in members:
            return name
    raise KeyError(phone)


def _phone_tables() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, tuple]]:
    targets: dict[str, np.ndarray] = {}
    alphas: dict[str, np.ndarray] = {}
    timing: dict[str, tuple] = {}
    for phone, tgt in TARGETS.items():
        vec = np.zeros(N_CH)
        for name, value in tgt.items():
            vec[_CH[name]] = value
        dom = DOMINANCE[_class_of(phone if phone not in DIPHTHONGS else DIPHTHONGS[phone][0])]
        alpha = np.full(N_CH, dom.alpha_other)
        for name in dom.key:
            alpha[_CH[name]] = dom.alpha_key
        if phone in VOWELS:
            alpha[_CH[SEAL]] = VOWEL_SEAL_ALPHA
        targets[phone], alphas[phone] = vec, alpha
        timing[phone] = (dom.theta_ant, dom.theta_car, dom.plateau)
    return targets, alphas, timing


_TARGET_VEC, _ALPHA_VEC, _TIMING = _phone_tables()


@dataclass
class _Segments:
    """Dominance segments: a phone (or a diphthong part) with its plateau and parameters."""

    phone: list[str] = field(default_factory=list)
    p0: list[float] = field(default_factory=list)  # plateau start
    p1: list[float] = field(default_factory=list)  # plateau end
    end: list[float] = field(default_factory=list)

    def add(self, phone: str, start: float, end: float) -> None:
        if phone in DIPHTHONGS:
            first, share, second = DIPHTHONGS[phone]
            mid = start + share * (end - start)
            self._add_one(first, start, mid)
            self._add_one(second, mid, end)
        else:
            self._add_one(phone, start, end)

    def _add_one(self, phone: str, start: float, end: float) -> None:
        if phone == SIL:
            p0 = start + SILENCE_MARGIN
            p1 = max(p0, end - SILENCE_MARGIN)
        else:
            margin = 0.5 * (1.0 - _TIMING[phone][2]) * (end - start)
            p0, p1 = start + margin, end - margin
        self.phone.append(phone)
        self.p0.append(p0)
        self.p1.append(p1)
        self.end.append(end)

    def arrays(self, idx: Sequence[int]) -> tuple[np.ndarray, ...]:
        ph = [self.phone[i] for i in idx]
        tgt = np.array([_TARGET_VEC[p] for p in ph]).reshape(len(ph), N_CH)
        alpha = np.array([_ALPHA_VEC[p] for p in ph]).reshape(len(ph), N_CH)
        th = np.array([_TIMING[p][:2] for p in ph]).reshape(len(ph), 2)
        p0 = np.array([self.p0[i] for i in idx])
        p1 = np.array([self.p1[i] for i in idx])
        return tgt, alpha, th[:, 0], th[:, 1], p0, p1


@dataclass(frozen=True)
class TeacherConfig:
    """Knobs of the teacher. ``lookahead``: the anticipation window (s), also the delay of the
    streaming form; ``carryover``: the carry-over window (s); ``articulation``: scales every
    target (a speaker who articulates more or less), 1.0 is the documented table."""

    fps: float = FPS
    lookahead: float = 0.12
    carryover: float = 0.25
    articulation: float = 1.0


def _taper(tau: np.ndarray, width: float) -> np.ndarray:
    """cos^2 window: 1 at 0, 0 (with zero slope) at ``width``; compact support."""
    x = np.clip(tau / width, 0.0, 1.0)
    return np.cos(0.5 * np.pi * x) ** 2


def _blend(times: np.ndarray, seg: _Segments, idx: Sequence[int], cfg: TeacherConfig) -> np.ndarray:
    """Dominance-weighted average of the targets of segments ``idx`` at ``times`` -> [T, C]."""
    if len(idx) == 0:
        return np.zeros((len(times), N_CH))
    tgt, alpha, th_a, th_c, p0, p1 = seg.arrays(idx)
    t = times[:, None]
    before = np.maximum(p0[None, :] - t, 0.0)  # anticipation distance
    after = np.maximum(t - p1[None, :], 0.0)  # carry-over distance
    d = (np.exp(-th_a[None, :] * before) * _taper(before, cfg.lookahead)
         * np.exp(-th_c[None, :] * after) * _taper(after, cfg.carryover))
    num = d @ (alpha * tgt * cfg.articulation)
    den = d @ alpha + REST_ALPHA
    return num / den


class _Limiter:
    """Per-curve speed limit, state carried across calls so streaming equals offline."""

    def __init__(self, fps: float) -> None:
        self.step = MAX_SPEED / fps
        self.state = np.zeros(N_CH)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        y = self.state
        for i in range(len(x)):
            y = y + np.clip(x[i] - y, -self.step, self.step)
            out[i] = y
        self.state = y
        return out


def _to_arkit(ch: np.ndarray) -> np.ndarray:
    """Internal channels -> ARKit-52: mouthClose = lipSeal * jawOpen, clipped to [0, 1]."""
    out = np.clip(ch[:, :52], 0.0, 1.0).astype(np.float32)
    seal = np.clip(ch[:, _CH[SEAL]], 0.0, 1.0)
    out[:, ARKIT_INDEX["mouthClose"]] = seal * out[:, ARKIT_INDEX["jawOpen"]]
    return out


def _as_phones(phones: Iterable[Phone | Sequence]) -> list[Phone]:
    out = []
    for p in phones:
        if not isinstance(p, Phone):
            p = Phone(str(p[0]), float(p[1]), float(p[2]))
        for sym in arpabet_phones(p.phone):
            out.append(Phone(sym, p.start, p.end))
    return out


def _segments_for(phones: list[Phone], until: float) -> _Segments:
    """Phones -> segments with SIL filling gaps from -1 s to ``until``."""
    seg = _Segments()
    t = -1.0
    items: list[Phone] = []
    for p in sorted(phones, key=lambda q: q.start):
        if p.start > t + 1e-9:
            items.append(Phone(SIL, t, p.start))
        start = max(p.start, t)
        items.append(Phone(p.phone, start, p.end))
        t = max(t, p.end)
    if until > t:
        items.append(Phone(SIL, t, until))
    for p in merge_silences(items):
        seg.add(p.phone, p.start, p.end)
    return seg


def phones_to_curves(
    phones: Iterable[Phone | Sequence],
    n_frames: int | None = None,
    config: TeacherConfig | None = None,
) -> np.ndarray:
    """Timed phones -> ARKit-52 curves ``[n_frames, 52]`` float32, frame i at time i / fps.

    Phones are ``Phone`` objects or ``(symbol, start, end)`` with ARPAbet symbols (any case,
    stress digits allowed); gaps between phones are silence. ``n_frames`` defaults to the
    end of the last phone plus the carry-over window.
    """
    cfg = config or TeacherConfig()
    ph = _as_phones(phones)
    last = max((p.end for p in ph), default=0.0)
    if n_frames is None:
        n_frames = int(np.ceil((last + cfg.carryover) * cfg.fps))
    times = np.arange(n_frames) / cfg.fps
    seg = _segments_for(ph, max(last, times[-1] if n_frames else 0.0) + cfg.lookahead + 1.0)
    out = np.empty((n_frames, N_CH))
    chunk = 600  # bound the [frames, segments] matrix on long clips
    p0 = np.array(seg.p0)
    p1 = np.array(seg.p1)
    for a in range(0, n_frames, chunk):
        tt = times[a:a + chunk]
        idx = np.nonzero((p0 < tt[-1] + cfg.lookahead) & (p1 > tt[0] - cfg.carryover))[0]
        out[a:a + chunk] = _blend(tt, seg, idx, cfg)
    return _to_arkit(_Limiter(cfg.fps)(out))


class StreamingTeacher:
    """The teacher driven by phone events, for TTS engines that know their phones.

    ``push(phone, start, end)`` adds a phone (times on the audio clock, in order);
    ``advance(until)`` declares silence up to ``until`` (no phone is coming before then);
    ``pull()`` returns the frames that are final. A frame at time t is final once phones are
    known up to ``t + lookahead``: ``delay`` is that lookahead in seconds. The frames equal
    :func:`phones_to_curves` on the same phones.
    """

    def __init__(self, config: TeacherConfig | None = None) -> None:
        self.cfg = config or TeacherConfig()
        self.delay = self.cfg.lookahead
        self._phones: list[Phone] = []  # recent phones (old ones are dropped)
        self._known = 0.0  # phones are known up to this time
        self._next = 0  # index of the next frame to emit
        self._limiter = _Limiter(self.cfg.fps)

    def push(self, phone: str, start: float, end: float) -> None:
        """Add one timed phone; it must not start before an earlier phone's start."""
        if self._phones and start < self._phones[-1].start - 1e-9:
            raise ValueError(f"phone {phone!r} at {start:.3f}s is out of order")
        for sym in arpabet_phones(phone):
            self._phones.append(Phone(sym, start, end))
        self._known = max(self._known, end)

    def advance(self, until: float) -> None:
        """Declare that nothing but silence happens before ``until``."""
        self._known = max(self._known, until)

    def pull(self) -> np.ndarray:
        """The frames that can no longer change, ``[n, 52]`` (possibly ``n == 0``)."""
        fps = self.cfg.fps
        last = int(np.floor((self._known - self.cfg.lookahead) * fps + 1e-9))
        if last < self._next:
            return np.zeros((0, 52), np.float32)
        times = np.arange(self._next, last + 1) / fps
        # phones that end well before the first frame can no longer matter
        horizon = times[0] - self.cfg.carryover - 1.0
        keep = [p for p in self._phones if p.end > horizon]
        self._phones = keep
        # a SIL from -1 s stands in for the dropped phones: it ends too early to matter
        seg = _segments_for(keep, self._known)
        p0 = np.array(seg.p0)
        p1 = np.array(seg.p1)
        idx = np.nonzero((p0 < times[-1] + self.cfg.lookahead) & (p1 > times[0] - self.cfg.carryover))[0]
        ch = _blend(times, seg, idx, self.cfg)
        self._next = last + 1
        return _to_arkit(self._limiter(ch))


def targets_table_markdown() -> str:
    """The viseme target table as markdown (docs/teacher.md is generated from this)."""
    lines = ["| phone | class | target (ARKit weights; L/R pairs given once) |", "|---|---|---|"]
    for phone, tgt in TARGETS.items():
        shown = {}
        for name, value in tgt.items():
            if name.endswith("Right") and name[:-5] + "Left" in tgt:
                continue
            shown[name.removesuffix("Left")] = value
        desc = ", ".join(f"{k} {v:g}" for k, v in shown.items()) or "neutral (all 0)"
        cls = _class_of(phone if phone not in DIPHTHONGS else DIPHTHONGS[phone][0])
        lines.append(f"| {phone} | {cls} | {desc} |")
    return "\n".join(lines)
