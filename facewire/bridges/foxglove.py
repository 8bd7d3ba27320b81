"""Foxglove side of the live bridge: facewire topics as JSON channels, the face as a mesh.

Foxglove (the standard viewer for MCAP and robotics buses) reads JSON with a JSON schema;
:class:`TopicChannels` gives each facewire topic one such channel on a foxglove-sdk
context, with curves keyed by name so a Plot panel takes ``/blendshapes.weights.jawOpen``.
:class:`FaceMesh` poses a rig region with ARKit weights and builds a ``foxglove.SceneUpdate``
(a triangle list in metres, z up) for the 3D panel. Messages are only converted when a
client is subscribed (``has_sinks``): an idle bridge costs nothing per frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from foxglove import Channel, Context
from foxglove.channels import SceneUpdateChannel
from foxglove.messages import (
    Color,
    Point3,
    SceneEntity,
    SceneUpdate,
    Timestamp,
    TriangleListPrimitive,
)

from facewire.bag.names import names_of_type
from facewire.messages.base import Message
from facewire.messages.json_form import json_form_schema, to_json
from facewire.rig.rig import Rig

SKIN = Color(r=0.85, g=0.68, b=0.6, a=1.0)
# the rig's y-up, z-forward axes -> Foxglove's z-up (the face looks along -y)
Y_UP_TO_Z_UP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], np.float32)


class TopicChannels:
    """One JSON channel per facewire topic, created when the topic's first message comes."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.channels: dict[str, tuple[Channel, dict[str, Any] | None]] = {}
        self.sent = 0

    def log(self, topic: str, msg: Message) -> bool:
        """Send ``msg`` if a client listens to ``topic``; returns whether it was sent."""
        entry = self.channels.get(topic)
        if entry is None:
            names = names_of_type(msg.TYPE)
            channel = Channel(topic, schema=json_form_schema(type(msg), names),
                              message_encoding="json", context=self.context,
                              metadata={"type": msg.TYPE, "version": str(msg.VERSION)})
            entry = self.channels[topic] = (channel, names)
        channel, names = entry
        if not channel.has_sinks():
            return False
        channel.log(to_json(msg, names))
        self.sent += 1
        return True


class FaceMesh:
    """A rig region posed by ARKit weights, as a Foxglove scene entity."""

    def __init__(self, rig: Rig, region: str = "face") -> None:
        if region in rig.regions:
            a, b = rig.regions[region]
        else:  # a user rig without regions: the whole mesh
            a, b = 0, rig.n_vertices
        inside = np.zeros(rig.n_vertices, bool)
        inside[a:b] = True
        faces = rig.faces[inside[rig.faces].all(axis=1)]
        used = np.unique(faces)
        remap = np.full(rig.n_vertices, -1, np.int64)
        remap[used] = np.arange(len(used))
        scale = rig.mm / 1000.0  # metres
        self.neutral = (rig.neutral[used] @ Y_UP_TO_Z_UP.T) * scale
        shapes = rig.blendshapes[:, used, :] @ Y_UP_TO_Z_UP.T * scale
        self.shapes = shapes.reshape(shapes.shape[0], -1)
        self.indices = remap[faces].ravel().tolist()
        self.n_vertices = len(used)
        self.n_triangles = len(faces)

    def vertices(self, weights: np.ndarray) -> np.ndarray:
        """Posed vertices ``[V, 3]`` in metres, z up."""
        w = np.asarray(weights, np.float32)
        return self.neutral + (w @ self.shapes).reshape(-1, 3)

    def scene(self, weights: np.ndarray, stamp_ns: int, frame_id: str = "face",
              entity: str = "face") -> SceneUpdate:
        points = [Point3(x=x, y=y, z=z) for x, y, z in self.vertices(weights).tolist()]
        sec, nsec = divmod(int(stamp_ns), 1_000_000_000)
        prim = TriangleListPrimitive(points=points, indices=self.indices, color=SKIN)
        return SceneUpdate(entities=[SceneEntity(
            timestamp=Timestamp(sec=sec, nsec=nsec), frame_id=frame_id, id=entity,
            triangles=[prim])])


class MeshChannel:
    """The face on a SceneUpdate channel; the newest weights win, sent at most at a rate."""

    def __init__(self, context: Context, mesh: FaceMesh, topic: str = "/face/mesh") -> None:
        self.mesh = mesh
        self.channel = SceneUpdateChannel(topic, context=context)
        self.pending: tuple[np.ndarray, int] | None = None
        self.sent = 0

    def update(self, weights: np.ndarray, stamp_ns: int) -> None:
        self.pending = (np.asarray(weights, np.float32), stamp_ns)

    def flush(self) -> bool:
        """Send the newest pose if it changed and a client listens."""
        if self.pending is None or not self.channel.has_sinks():
            return False
        weights, stamp_ns = self.pending
        self.pending = None
        self.channel.log(self.mesh.scene(weights, stamp_ns))
        self.sent += 1
        return True
