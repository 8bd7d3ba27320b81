"""Bridge node: Blendshapes in, Live Link Face v6 UDP packets out (Unreal, Unity, Live Link Hub).

A thin wrapper around :class:`facewire.bridges.livelink.LiveLinkSender`: the frame time comes
from each message's media_time (the audio clock), the subject from the message's ``subject``
field (or the ``subject`` parameter), so one node serves several characters.
"""

from __future__ import annotations

import time

from facewire.bridges.livelink import DEFAULT_PORT, LiveLinkSender
from facewire.bus.node import Input, Node, Param
from facewire.messages.types import Blendshapes
from facewire.subjects import DEFAULT_MAX_SUBJECTS


class LiveLinkBridge(Node):
    """Sends each Blendshapes frame as a Live Link Face packet to host:port."""

    # A queue, not "latest": several subjects may share the topic, and latest would drop them.
    inputs = {"blendshapes": Input(Blendshapes, delivery="queue", depth=240)}
    params = {
        "host": Param(str, "127.0.0.1", "Unreal/Unity machine"),
        "port": Param(int, DEFAULT_PORT, "UDP port of the Live Link Face source", min=1, max=65535),
        "subject": Param(str, "facewire", "Live Link subject for messages without one"),
        "subjects": Param(tuple, (), "more subjects to validate at start (one per character)"),
        "device_id": Param(str, "", "device id of `subject` (empty: a UUID derived from it)"),
        "fps": Param(float, 60.0, "frame rate written into the packets' frame time", min=1.0),
        "mirror": Param(bool, False, "swap Left/Right and negate yaw/roll (Unreal mirrored mode)"),
        "max_subjects": Param(int, DEFAULT_MAX_SUBJECTS, "subjects kept (the least recently "
                              "seen one from messages is freed first)", min=1),
    }

    def on_start(self) -> None:
        self.sender = LiveLinkSender(self.p.host, self.p.port, self.p.subject,
                                     self.p.device_id or None, self.p.fps, self.p.mirror,
                                     max_subjects=max(self.p.max_subjects,
                                                      len(self.p.subjects) + 1))
        for subject in self.p.subjects:
            self.sender.add_subject(str(subject))
        self.sender.encoders.pinned.update(self.sender.encoders)  # configured: always kept
        self.log.info("Live Link Face v6 to %s:%d, subjects %s", self.p.host, self.p.port,
                      ", ".join(self.sender.encoders))

    def on_blendshapes(self, msg: Blendshapes) -> None:
        if msg.name_set != "arkit52":
            raise ValueError(f"Live Link needs arkit52 weights, got name set {msg.name_set!r}")
        subject = msg.subject or self.p.subject
        if subject not in self.sender.encoders:
            self.sender.add_subject(subject)  # raises (logged once, counted) if too long
        self.sender.send(msg.weights, msg.header.media_time, subject=subject)
        if msg.header.capture_ns:
            self.counters["delay_ms_last"] = (time.time_ns() - msg.header.capture_ns) // 1_000_000

    def extra_counters(self) -> dict[str, int]:
        """Clamped values and send errors, counted by the sender."""
        sender = getattr(self, "sender", None)
        return dict(sender.stats) if sender is not None else {}

    def on_stop(self) -> None:
        if hasattr(self, "sender"):
            self.sender.close()
