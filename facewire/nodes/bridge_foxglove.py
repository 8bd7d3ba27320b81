"""Bridge node: any topic of the graph, live in Foxglove, and the face in its 3D panel.

Runs foxglove-sdk's WebSocket server (127.0.0.1:8765 by default: only this machine sees
it unless ``host`` says otherwise). Follows every topic as publishers appear, or the
``topics`` given; each becomes a JSON channel with curves by name. Blendshapes on
``mesh_topic`` pose the ICT-FaceKit head (``rig``, default from FACEWIRE_DATA), sent as a
SceneUpdate on ``/face/mesh`` at ``mesh_hz``; without a rig, curves only. In Foxglove:
Open connection -> Foxglove WebSocket -> ws://127.0.0.1:8765.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

try:
    import foxglove
except ModuleNotFoundError:  # an optional extra: say how to get it
    raise ModuleNotFoundError("foxglove-sdk is not installed; pip install "
                              "'facewire[foxglove]'") from None

from facewire.bridges.foxglove import FaceMesh, MeshChannel, TopicChannels
from facewire.bus.addresses import resolve_topic
from facewire.bus.node import Input, Node, Param
from facewire.messages.base import Message
from facewire.messages.types import Blendshapes

VIEWER_DEPTH = 240  # per topic: a viewer that falls behind drops (counted), never blocks


class FoxgloveBridge(Node):
    """Serves the graph's topics to Foxglove over its WebSocket protocol."""

    params = {
        "host": Param(str, "127.0.0.1", "address to listen on (0.0.0.0: other machines too)"),
        "port": Param(int, 8765, "WebSocket port", min=0, max=65535),
        "topics": Param(tuple, (), "topics to show (empty: every topic, following new ones)"),
        "rig": Param(str, "", "rig for the 3D face (.npz/.glb; empty: the ICT-FaceKit rig "
                              "from FACEWIRE_DATA if present; 'none': curves only)"),
        "region": Param(str, "face", "rig region drawn in 3D"),
        "mesh_topic": Param(str, "blendshapes", "Blendshapes topic that poses the face"),
        "mesh_hz": Param(float, 10.0, "largest rate of 3D face updates", min=0.5, max=60.0),
    }

    def on_start(self) -> None:
        self.context = foxglove.Context()
        self.server = foxglove.start_server(name="facewire", host=self.p.host,
                                            port=self.p.port, context=self.context)
        self.channels = TopicChannels(self.context)
        self.mesh = self._mesh()
        self.mesh_topic = resolve_topic(self.p.mesh_topic, self.namespace)
        self.follow_topics(self.p.topics, self._follow)
        if self.mesh is not None:
            self.every(1.0 / self.p.mesh_hz, self.mesh.flush)
        self.log.info("Foxglove WebSocket on ws://%s:%d (%s)", self.p.host, self.server.port,
                      "curves and 3D face" if self.mesh else "curves only, no rig")

    def _mesh(self) -> MeshChannel | None:
        from facewire.rig.rig import Rig, default_rig_path

        if self.p.rig == "none":
            return None
        path = Path(self.p.rig) if self.p.rig else default_rig_path()
        if not path.exists():
            if self.p.rig:
                raise FileNotFoundError(f"rig {path} not found; give an existing .npz/.glb "
                                        "or rig=none for curves only")
            self.log.warning("no rig at %s (set FACEWIRE_DATA or rig=PATH): curves only", path)
            return None
        mesh = MeshChannel(self.context, FaceMesh(Rig.load(path), self.p.region))
        mesh.update(np.zeros(52, np.float32), time.time_ns())  # the rest face until speech comes
        return mesh

    def _follow(self, topic: str) -> None:
        if topic in self.input_ports:
            return
        self.add_input(topic, Input(Message, delivery="queue", depth=VIEWER_DEPTH), topic,
                       lambda msg, t=topic: self._on_message(t, msg))

    def _on_message(self, topic: str, msg: Message) -> None:
        self.channels.log(topic, msg)
        if (self.mesh is not None and topic == self.mesh_topic and isinstance(msg, Blendshapes)
                and msg.weights.size == 52):
            self.mesh.update(msg.weights, msg.header.stamp_ns or time.time_ns())

    def extra_counters(self) -> dict[str, int]:
        counters = {"foxglove_sent": getattr(getattr(self, "channels", None), "sent", 0)}
        if getattr(self, "mesh", None) is not None:
            counters["foxglove_meshes"] = self.mesh.sent
        return counters

    def on_stop(self) -> None:
        if hasattr(self, "server"):
            self.server.stop()

