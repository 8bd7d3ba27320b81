"""phone_fusion node: PhoneEvents + the audio path's Blendshapes in, fused Blendshapes out.

A TTS engine knows its phones before they are heard. This node runs the co-articulation
teacher on those phones (:class:`~facewire.phones.teacher.StreamingTeacher`) and fuses its
curves with the audio model's frames (:func:`~facewire.phones.fusion.fuse_frames`): lip
closures, labiodentals and rounding come from the phones, jaw amplitude and the rest from
the voice. The teacher's anticipation (a /p/ starts closing the lips 120 ms ahead) needs
phones 120 ms ahead of the frame, which the TTS provides, so the node adds no delay of its
own: a voice frame leaves as soon as it arrives.

Protocol (docs/tts.md): phones are ARPAbet (any case, stress digits allowed; ``SIL`` or
``""`` for silence), with start/end in seconds on the audio stream's media clock, sent in
order and before their audio; a line ends with a SIL phone up to its audio's end, and
frames inside that silence leave at once (the next phone, announced ahead of its audio,
cannot reach back into it). A voice frame whose phones have not arrived after ``hold_ms``
of media time leaves unfused (counted as ``voice_only``); before any phone has arrived,
frames leave unfused at once, so a graph fed plain audio animates from the voice alone.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.base import Header
from facewire.messages.types import Blendshapes, PhoneEvent
from facewire.phones.arpabet import SIL, arpabet_phones
from facewire.phones.fusion import fuse_frames, load_fusion
from facewire.phones.teacher import StreamingTeacher, TeacherConfig


class PhoneFusionNode(Node):
    inputs = {
        "phones": Input(PhoneEvent, delivery="queue", depth=10000,
                        help="timed ARPAbet phones from a TTS engine, ahead of their audio"),
        "voice": Input(Blendshapes, delivery="queue", depth=600,
                       help="the audio path's frames (blendshapes node, smoothed)"),
    }
    outputs = {"blendshapes": Output(Blendshapes)}
    params = {
        "fusion": Param(str, "", "phone fusion card (empty: the shipped one)"),
        "fps": Param(float, 60.0, "frame rate of the voice frames", choices=(60.0, 30.0)),
        "lookahead_ms": Param(float, 120.0, "teacher anticipation: phones needed this far ahead",
                              min=0.0, max=500.0),
        "hold_ms": Param(float, 100.0, "longest wait (media time) for late phones before a "
                         "frame leaves unfused", min=0.0, max=5000.0),
    }

    def on_start(self) -> None:
        self.fusion = load_fusion(self.p.fusion or None)
        self.log.info("fusion %s, teacher lookahead %.0f ms, hold %.0f ms", self.p.fusion or "the shipped card",
                      self.p.lookahead_ms, self.p.hold_ms)
        self._reset()

    def _reset(self) -> None:
        self.teacher = StreamingTeacher(TeacherConfig(fps=self.p.fps,
                                                      lookahead=self.p.lookahead_ms / 1000))
        self.frames: dict[int, np.ndarray] = {}  # teacher frame index -> curves
        self.next_teacher = 0  # index of the teacher's next frame
        self.pending: deque[tuple[int, Blendshapes]] = deque()
        self.last_index = -1  # last voice frame published
        self.newest_time = -np.inf
        self.last_phone: tuple[bool, float, float] | None = None  # (silence?, start, end)

    def _in_silence(self, index: int) -> bool:
        """Whether the phones known end in a silence that frame ``index`` lies in: the
        silence lasts until the next phone, which the engine announces ahead of its audio."""
        last = self.last_phone
        return last is not None and last[0] and index / self.p.fps <= last[2] + 1e-9

    # -- inputs ---------------------------------------------------------------------------
    def on_phones(self, msg: PhoneEvent) -> None:
        if not (np.isfinite(msg.start) and np.isfinite(msg.end) and msg.end >= msg.start):
            raise ValueError(f"phone {msg.phone!r} has a bad interval {msg.start}..{msg.end}")
        self.teacher.push(msg.phone or SIL, msg.start, msg.end)
        silent = all(p == SIL for p in arpabet_phones(msg.phone or SIL))
        self.last_phone = (silent, msg.start, msg.end)
        self.counters["phones"] += 1
        self._pull()
        self._flush()

    def on_voice(self, msg: Blendshapes) -> None:
        if msg.name_set != "arkit52" or msg.weights.size != 52:
            raise ValueError(f"phone fusion needs arkit52 frames, got {msg.name_set!r}")
        if abs(msg.fps - self.p.fps) > 1e-6:
            raise ValueError(f"voice frames at {msg.fps:g} fps; set the node's fps to match")
        index = int(round(msg.header.media_time * self.p.fps))
        if index <= self.last_index and not self.pending:
            self.counters["restarts"] += 1  # the stream started again (loop, new take)
            self._reset()
        self.pending.append((index, msg))
        self.newest_time = max(self.newest_time, msg.header.media_time)
        self._flush()

    # -- work -----------------------------------------------------------------------------
    def _pull(self) -> None:
        for row in self.teacher.pull():
            self.frames[self.next_teacher] = row
            self.next_teacher += 1

    def _flush(self, final: bool = False) -> None:
        hold = self.p.hold_ms / 1000
        while self.pending:
            index, msg = self.pending[0]
            row = self.frames.pop(index, None)
            if row is None and index >= self.next_teacher and self._in_silence(index):
                # inside a line's closing silence: its frames need no later phone
                self.teacher.advance(index / self.p.fps + self.teacher.delay)
                self._pull()
                row = self.frames.pop(index, None)
            if row is None and index >= self.next_teacher:
                # no phones at all (plain audio): the voice alone, without waiting
                late = (self.last_phone is None
                        or self.newest_time - msg.header.media_time >= hold)
                if not (late or final):
                    return  # its phones may still come
                # no phones for this frame: silence from the teacher's point of view
                self.teacher.advance(index / self.p.fps + self.teacher.delay)  # up to this frame
                self._pull()
                self.frames.pop(index, None)
                self.counters["voice_only"] += 1
                weights = msg.weights
            elif row is None:
                self.counters["voice_only"] += 1  # the teacher passed it while it was late
                weights = msg.weights
            else:
                weights = fuse_frames(row[None], msg.weights[None], self.fusion)[0]
                self.counters["fused"] += 1
            self.pending.popleft()
            self.last_index = index
            for old in [k for k in self.frames if k <= index]:
                del self.frames[old]
            self.publish("blendshapes", Blendshapes(
                weights=weights, name_set=msg.name_set, fps=msg.fps, subject=msg.subject,
                header=Header(0, 0, msg.header.media_time, msg.header.capture_ns)))

    def end_of_stream(self) -> None:
        self._flush(final=True)
