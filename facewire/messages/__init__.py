"""Typed, versioned messages and the one codec for wire and bags."""

from facewire.messages.base import Header, Message, describe, json_schema, lookup, registry
from facewire.messages.codec import (
    DecodeError,
    decode_bytes,
    decode_frames,
    encode_bytes,
    encode_frames,
)
from facewire.messages.types import (
    EMOTIONS,
    AudioChunk,
    Blendshapes,
    Emotion,
    Features,
    Landmarks,
    MeshDeform,
    NodeStatus,
    PhoneEvent,
    Text,
)

__all__ = [
    "EMOTIONS", "AudioChunk", "Blendshapes", "DecodeError", "Emotion", "Features", "Header",
    "Landmarks", "Message", "MeshDeform", "NodeStatus", "PhoneEvent", "Text", "decode_bytes",
    "decode_frames", "describe", "encode_bytes", "encode_frames", "json_schema", "lookup",
    "registry",
]
