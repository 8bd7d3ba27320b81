"""Bridge node: Blendshapes in, VMC protocol (OSC/UDP) out (VSeeFace, EVMC4U, VNyan, Warudo).

A thin wrapper around :class:`facewire.bridges.vmc.VmcSender`; ``/VMC/Ext/T`` carries the
frame's media_time.
"""

from __future__ import annotations

from facewire.bridges.vmc import DEFAULT_PORT, MAX_BUNDLE_BYTES, PROFILES, VmcSender
from facewire.bus.node import Input, Node, Param
from facewire.messages.types import Blendshapes


class VmcBridge(Node):
    """Sends each Blendshapes frame as VMC blend shape values + Apply."""

    inputs = {"blendshapes": Input(Blendshapes, delivery="latest")}
    params = {
        "host": Param(str, "127.0.0.1", "machine running the VMC receiver"),
        "port": Param(int, DEFAULT_PORT, "VMC receiver port", min=1, max=65535),
        "profile": Param(str, "perfect_sync", "names to send", choices=PROFILES),
        "name_style": Param(str, "pascal", "perfect sync spelling", choices=("pascal", "camel")),
        "mirror": Param(bool, False, "swap Left/Right names"),
        "jaw_gain": Param(float, 2.0, "jawOpen gain for the VRM vowel presets", min=0.0),
        "max_bundle_bytes": Param(int, MAX_BUNDLE_BYTES, "OSC bundle size limit", min=200),
        "subject": Param(str, "", "only frames of this subject (empty: all)"),
    }

    def on_start(self) -> None:
        self.sender = VmcSender(self.p.host, self.p.port, self.p.profile,
                                name_style=self.p.name_style, mirror=self.p.mirror,
                                jaw_gain=self.p.jaw_gain, max_bundle_bytes=self.p.max_bundle_bytes)
        self.log.info("VMC (%s) to %s:%d", self.p.profile, self.p.host, self.p.port)

    def on_blendshapes(self, msg: Blendshapes) -> None:
        if self.p.subject and msg.subject != self.p.subject:
            return
        if msg.name_set != "arkit52":
            raise ValueError(f"VMC bridge needs arkit52 weights, got name set {msg.name_set!r}")
        self.sender.send(msg.weights, msg.header.media_time)

    def extra_counters(self) -> dict[str, int]:
        """What the sender counted (clamped values, send errors)."""
        sender = getattr(self, "sender", None)
        return dict(sender.stats) if sender is not None else {}

    def on_stop(self) -> None:
        if hasattr(self, "sender"):
            self.sender.close()
