"""Live Link Face (UDP, packet version 6) encoder and sender for Unreal Engine.

Unreal's Apple ARKit face support (``AppleARKitLiveLinkSource``) and the iPhone Live Link
Face app speak this format; emitting exactly the same bytes lets a stock Unreal (or our
Unity package) animate a MetaHuman with no plugin on the receiving side. The layout is in
``shared/reference/LIVELINK_FACE.md``:

    uint8 version (6)
    int32 len + UTF-8 device id        (one Live Link subject per device id)
    int32 len + UTF-8 subject name
    int32 frame number, float32 sub-frame, int32 rate numerator, int32 rate denominator
    uint8 count (61)
    61 x float32: 52 shapes in Unreal's EARFaceBlendShape order, then head yaw/pitch/roll and
                  left/right eye yaw/pitch/roll as degrees / 180
    all big-endian.

The encoder is a plain class (no bus), so a bus node is a thin wrapper around it.
"""

from __future__ import annotations

import logging
import math
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from facewire.bridges.udp import UdpOut
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX, LIVELINK_61, camel_case, mirror_name
from facewire.subjects import DEFAULT_MAX_SUBJECTS, LruDict

log = logging.getLogger(__name__)

PACKET_VERSION = 6
DEFAULT_PORT = 11111
SHAPE_COUNT = 52
VALUE_COUNT = 61
# Unreal's receive buffer: version + FFrameTime (8) + FFrameRate (8) + count + 61 floats
# + 2 x 256 TCHARs (2 bytes each) = 1286 bytes. A longer datagram is truncated and dropped.
MAX_PACKET_BYTES = 1 + 8 + 8 + 1 + 4 * VALUE_COUNT + 2 * 256 * 2
# Fixed part of our packet: the 270 bytes that do not depend on the two strings.
FIXED_PACKET_BYTES = 1 + 4 + 4 + 8 + 8 + 1 + 4 * VALUE_COUNT
MAX_NAME_BYTES = MAX_PACKET_BYTES - FIXED_PACKET_BYTES  # device id + subject together: 1016

# The nine rotations, in the order callers pass them (degrees) and the wire carries them.
ROTATION_NAMES: tuple[str, ...] = LIVELINK_61[SHAPE_COUNT:]
_YAW_ROLL = np.array([n.endswith(("Yaw", "Roll")) for n in ROTATION_NAMES])
# Mirroring swaps the left and right eye rotations: wire slot i takes input slot _EYE_SWAP[i].
_EYE_SWAP = np.array([0, 1, 2, 6, 7, 8, 3, 4, 5])

# Everything after the two strings, precompiled once: frame, sub-frame, rate, count, values.
_TAIL = struct.Struct(f">ifiiB{VALUE_COUNT}f")
_STR_LEN = struct.Struct(">i")
_DEVICE_NAMESPACE = uuid.UUID("6f1c2e2a-5d0b-4c8e-9a43-0f2b1d7e9c11")
_INT32_WRAP = 1 << 32
# Largest float32 below 1.0: a sub-frame of exactly 1.0 would break the [0, 1) contract.
_SUBFRAME_MAX = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def wire_permutation(mirror: bool = False) -> np.ndarray:
    """Index array: wire slot i (0..51) takes ``weights[perm[i]]`` from ARKIT_52 order.

    With ``mirror`` each Left shape is fed from the subject's Right one and vice versa, the
    swap Unreal's face-relative converter applies.
    """
    perm = []
    for wire_name in LIVELINK_61[:SHAPE_COUNT]:
        name = camel_case(wire_name)
        perm.append(ARKIT_INDEX[mirror_name(name) if mirror else name])
    return np.asarray(perm, dtype=np.intp)


def default_device_id(subject: str) -> str:
    """A stable 36-character id per subject, shaped like the phone app's UUID.

    Unreal keeps one subject per device id, so two subjects must not share one.
    """
    return str(uuid.uuid5(_DEVICE_NAMESPACE, subject))


def frame_rate(fps: float | int | Fraction | tuple[int, int]) -> tuple[int, int]:
    """(numerator, denominator) for a rate; 29.97 becomes 30000/1001. Denominator > 0."""
    if isinstance(fps, tuple):
        num, den = int(fps[0]), int(fps[1])
    else:
        ntsc = [n for n in (24, 30, 48, 60, 120) if abs(float(fps) - n * 1000 / 1001) < 0.005]
        if ntsc:  # 29.97 and friends are 30000/1001, not 2997/100
            num, den = ntsc[0] * 1000, 1001
        else:
            f = Fraction(fps).limit_denominator(1000)
            num, den = f.numerator, f.denominator
    if num <= 0 or den <= 0:
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    return num, den


def frame_time(media_time: float, num: int, den: int) -> tuple[int, float]:
    """(frame number, sub-frame in [0, 1)) of ``media_time`` seconds at num/den fps."""
    frames = media_time * num / den
    nearest = round(frames)
    if abs(frames - nearest) < 1e-6:  # k/60 * 60 may land a hair below k: it is frame k
        frame, sub = int(nearest), 0.0
    else:
        frame = math.floor(frames)
        sub = min(frames - frame, _SUBFRAME_MAX)
    frame = (frame + (1 << 31)) % _INT32_WRAP - (1 << 31)  # wrap into int32 (after ~414 days)
    return frame, sub


@dataclass
class EncodeStats:
    """Counters of input repaired on the way out (never silent)."""

    packets: int = 0
    nonfinite: int = 0  # NaN/inf values replaced by 0
    clamped: int = 0  # values outside [0, 1] (shapes) or [-1, 1] (rotations) clamped


class LiveLinkEncoder:
    """Builds Live Link Face v6 packets for one subject.

    The string prefix (version, device id, subject) is built once; per frame only the
    tail is packed with a precompiled ``struct.Struct``.
    """

    def __init__(
        self,
        subject: str,
        device_id: str | None = None,
        fps: float | int | Fraction | tuple[int, int] = 60,
        mirror: bool = False,
    ) -> None:
        if not subject:
            raise ValueError("Live Link subject name must not be empty")
        self.subject = subject
        self.device_id = default_device_id(subject) if device_id is None else device_id
        dev = self.device_id.encode("utf-8")
        sub = subject.encode("utf-8")
        if len(dev) + len(sub) > MAX_NAME_BYTES:
            raise ValueError(
                f"device id ({len(dev)} bytes) + subject name ({len(sub)} bytes) exceed "
                f"{MAX_NAME_BYTES} bytes: Unreal's {MAX_PACKET_BYTES}-byte receive buffer "
                "would truncate the packet and drop it"
            )
        self.rate = frame_rate(fps)
        self.mirror = mirror
        self._prefix = (
            bytes([PACKET_VERSION]) + _STR_LEN.pack(len(dev)) + dev + _STR_LEN.pack(len(sub)) + sub
        )
        self._perm = wire_permutation(mirror)
        self._values = np.zeros(VALUE_COUNT, dtype=np.float64)
        self.packet_size = len(self._prefix) + _TAIL.size
        self.stats = EncodeStats()

    def encode(
        self,
        weights: Sequence[float] | np.ndarray,
        media_time: float,
        rotations: Sequence[float] | np.ndarray | None = None,
    ) -> bytes:
        """One packet for 52 weights (ARKIT_52 order, 0..1) at ``media_time`` seconds.

        ``rotations``: optional 9 angles in degrees (head yaw, pitch, roll, left eye yaw,
        pitch, roll, right eye yaw, pitch, roll); sent as degrees / 180.
        """
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (SHAPE_COUNT,):
            raise ValueError(f"expected {SHAPE_COUNT} weights in ARKIT_52 order, got {w.shape}")
        v = self._values
        v[:SHAPE_COUNT] = w[self._perm]
        if rotations is None:
            v[SHAPE_COUNT:] = 0.0
        else:
            r = np.asarray(rotations, dtype=np.float64)
            if r.shape != (9,):
                raise ValueError(f"expected 9 rotations in degrees, got {r.shape}")
            r = r / 180.0
            if self.mirror:
                r = r[_EYE_SWAP]
                r[_YAW_ROLL] = -r[_YAW_ROLL]
            v[SHAPE_COUNT:] = r
        self._sanitize(v)
        num, den = self.rate
        frame, sub = frame_time(media_time, num, den)
        self.stats.packets += 1
        return self._prefix + _TAIL.pack(frame, sub, num, den, VALUE_COUNT, *v.tolist())

    def _sanitize(self, v: np.ndarray) -> None:
        """Replace NaN/inf by 0 and clamp to the ranges Unreal expects, counting both."""
        finite = np.isfinite(v)
        if not finite.all():
            self.stats.nonfinite += int(v.size - finite.sum())
            v[~finite] = 0.0
        shapes, rots = v[:SHAPE_COUNT], v[SHAPE_COUNT:]
        lo, hi = shapes.min(), shapes.max()
        if lo < 0.0 or hi > 1.0:
            self.stats.clamped += int(((shapes < 0.0) | (shapes > 1.0)).sum())
            np.clip(shapes, 0.0, 1.0, out=shapes)
        if np.abs(rots).max() > 1.0:
            self.stats.clamped += int((np.abs(rots) > 1.0).sum())
            np.clip(rots, -1.0, 1.0, out=rots)


class LiveLinkSender:
    """Sends Live Link Face v6 packets for one or more subjects over one UDP socket.

    Several characters driven from one graph are several subjects, each with its own device
    id (Unreal keys subjects by device id). Default target is Unreal's 127.0.0.1:11111.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        subject: str = "facewire",
        device_id: str | None = None,
        fps: float | int | Fraction | tuple[int, int] = 60,
        mirror: bool = False,
        max_subjects: int = DEFAULT_MAX_SUBJECTS,
    ) -> None:
        self.fps = fps
        self.mirror = mirror
        self.out = UdpOut(host, port)
        # subjects come from messages: bounded, the default subject always kept
        self.encoders: LruDict = LruDict(max_subjects, self._retire, pinned=(subject,))
        self._retired = {"nonfinite": 0, "clamped": 0}
        self.default_subject = subject
        self.add_subject(subject, device_id)

    def _retire(self, subject: str, enc: LiveLinkEncoder) -> None:
        """An evicted subject's counts stay in the totals."""
        self._retired["nonfinite"] += enc.stats.nonfinite
        self._retired["clamped"] += enc.stats.clamped

    def add_subject(self, subject: str, device_id: str | None = None) -> LiveLinkEncoder:
        """Register a subject (validated now, so a bad name fails at start, not mid-stream)."""
        enc = LiveLinkEncoder(subject, device_id, self.fps, self.mirror)
        if any(e.device_id == enc.device_id for s, e in self.encoders.items() if s != subject):
            raise ValueError(f"device id {enc.device_id!r} already used by another subject")
        self.encoders[subject] = enc
        return enc

    def send(
        self,
        weights: Sequence[float] | np.ndarray,
        media_time: float,
        rotations: Sequence[float] | np.ndarray | None = None,
        subject: str | None = None,
    ) -> bool:
        """Encode and send one frame; False if the datagram could not be sent."""
        enc = self.encoders.use(self.default_subject if subject is None else subject)
        if enc is None:
            raise KeyError(f"Live Link subject {subject!r} was not added (add_subject)")
        return self.out.send(enc.encode(weights, media_time, rotations))

    @property
    def stats(self) -> dict[str, int]:
        """Flat counters for a status heartbeat."""
        s = self.out.stats
        return {
            "sent": s.sent,
            "send_errors": s.errors,
            "nonfinite": self._retired["nonfinite"]
            + sum(e.stats.nonfinite for e in self.encoders.values()),
            "clamped": self._retired["clamped"]
            + sum(e.stats.clamped for e in self.encoders.values()),
            "subjects_evicted": self.encoders.evicted,
        }

    def close(self) -> None:
        self.out.close()

    def __enter__(self) -> LiveLinkSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "ARKIT_52",
    "DEFAULT_PORT",
    "MAX_NAME_BYTES",
    "MAX_PACKET_BYTES",
    "PACKET_VERSION",
    "ROTATION_NAMES",
    "LiveLinkEncoder",
    "LiveLinkSender",
    "UdpOut",
    "default_device_id",
    "frame_rate",
    "frame_time",
    "wire_permutation",
]
