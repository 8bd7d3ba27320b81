"""Node types by the name launch files and ``facewire node run`` use.

Values are ``module:Class`` and are imported only when used, so listing node types
never loads onnxruntime or sounddevice. A launch file may also name ``module:Class``
directly for a user's own node.
"""

from __future__ import annotations

import importlib

from facewire.bus.node import Node

NODE_TYPES: dict[str, str] = {
    "talker": "facewire.nodes.testing:Talker",
    "relay": "facewire.nodes.testing:Relay",
    "sink": "facewire.nodes.testing:Sink",
    "audio": "facewire.nodes.audio:Audio",
    "features": "facewire.nodes.features:FeaturesNode",
    "smoother": "facewire.nodes.smoother:Smoother",
    "blendshapes": "facewire.nodes.blendshapes:BlendshapesNode",
    "landmarks": "facewire.nodes.landmarks:LandmarksNode",
    "densify": "facewire.nodes.densify:DensifyNode",
    "bridge_livelink": "facewire.nodes.bridge_livelink:LiveLinkBridge",
    "bridge_vmc": "facewire.nodes.bridge_vmc:VmcBridge",
    "array_sink": "facewire.nodes.testing:ArraySink",
    "bridge_unity_mesh": "facewire.nodes.bridge_unity_mesh:UnityMeshBridge",
    "emotion": "facewire.nodes.emotion:EmotionNode",
    "foxglove": "facewire.nodes.bridge_foxglove:FoxgloveBridge",
    "phone_fusion": "facewire.nodes.phone_fusion:PhoneFusionNode",
    "tts": "facewire.nodes.tts:TtsNode",
}


class UnknownNode(LookupError):
    pass


def load_node_class(name: str) -> type[Node]:
    """The Node class for a registered name or a ``module:Class`` path."""
    target = NODE_TYPES.get(name, name)
    if ":" not in target:
        known = ", ".join(sorted(NODE_TYPES))
        raise UnknownNode(f"unknown node type {name!r} (known: {known}; or give module:Class)")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnknownNode(f"node type {name!r}: cannot import {module_name} ({exc})") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise UnknownNode(f"node type {name!r}: {target} is not a facewire Node class")
    return cls
