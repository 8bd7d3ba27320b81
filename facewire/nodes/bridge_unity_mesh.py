"""Bridge node: MeshDeform in, the Unity package's dense mesh stream out (UDP).

For Unity characters without blend shapes: ``FacewireMeshDeformReceiver`` adds each frame's
displacements to a mesh of the rig's topology. Format and transport:
:mod:`facewire.bridges.unity_mesh`.
"""

from __future__ import annotations

from facewire.bridges.unity_mesh import (
    DEFAULT_PACKET,
    DEFAULT_PORT,
    UNIT_METRES,
    MeshStreamSender,
)
from facewire.bus.node import Input, Node, Param
from facewire.messages.types import MeshDeform


class UnityMeshBridge(Node):
    """Sends each MeshDeform frame as chunked datagrams to host:port."""

    inputs = {"deform": Input(MeshDeform, delivery="latest")}
    params = {
        "host": Param(str, "127.0.0.1", "Unity machine"),
        "port": Param(int, DEFAULT_PORT, "UDP port of FacewireMeshDeformReceiver",
                      min=1, max=65535),
        "unit": Param(str, "cm", "unit of the rig's displacements (mm, cm, m)"),
        "subject": Param(str, "", "subject for messages without one"),
        "max_packet": Param(int, DEFAULT_PACKET, "largest datagram in bytes (1400 avoids IP "
                                                 "fragmentation on Ethernet)", min=64,
                            max=65000),
    }

    def on_start(self) -> None:
        if self.p.unit not in UNIT_METRES:
            raise ValueError(f"unit {self.p.unit!r}: use one of {sorted(UNIT_METRES)}")
        self.sender = MeshStreamSender(self.p.host, self.p.port, UNIT_METRES[self.p.unit],
                                       self.p.max_packet)
        self.log.info("dense mesh stream to %s:%d", self.p.host, self.p.port)

    def on_deform(self, msg: MeshDeform) -> None:
        self.sender.send(msg.displacements, msg.header.media_time,
                         msg.subject or self.p.subject)

    def extra_counters(self) -> dict[str, int]:
        sender = getattr(self, "sender", None)
        return {"datagrams": sender.datagrams} if sender is not None else {}

    def on_stop(self) -> None:
        if hasattr(self, "sender"):
            self.sender.close()
