"""The core message types of facewire's graphs (DESIGN.md §2)."""

from __future__ import annotations

from dataclasses import field

import numpy as np

from facewire.messages.base import Message, array, message

EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted", "contempt",
)


@message("AudioChunk", version=1)
class AudioChunk(Message):
    """A block of audio; media_time is the time of its first sample on the stream's clock."""

    samples: np.ndarray = array("float32", ("n", "channels"))
    sample_rate: int = 16000


@message("Features", version=1)
class Features(Message):
    """Audio features at a fixed frame rate (log-mel, wav2vec 2.0, ...).

    media_time is the first frame's place on the stream's frame grid (frame j of a
    stream at origin + j / frame_rate).
    """

    values: np.ndarray = array("float32", ("frames", "dim"))
    kind: str = "logmel"
    frame_rate: float = 100.0


@message("Blendshapes", version=1)
class Blendshapes(Message):
    """One animation frame of blendshape weights; the name set travels as an id (arkit52)."""

    weights: np.ndarray = array("float32", ("shapes",))
    name_set: str = "arkit52"
    fps: float = 60.0
    subject: str = ""


@message("Landmarks", version=1)
class Landmarks(Message):
    """68 facial landmark displacements from the neutral face, in the rig's units."""

    displacements: np.ndarray = array("float32", (68, 3))
    rig: str = "ict_facekit"
    fps: float = 60.0


@message("MeshDeform", version=1)
class MeshDeform(Message):
    """Per-vertex displacements of a named rig's mesh (dense animation)."""

    displacements: np.ndarray = array("float32", ("vertices", 3))
    rig: str = "ict_facekit"
    fps: float = 60.0
    subject: str = ""


@message("Emotion", version=1)
class Emotion(Message):
    """Weights over EMOTIONS (neutral, happy, sad, angry, surprised, fearful, disgusted,
    contempt) and an overall intensity in [0, 1]."""

    weights: np.ndarray = array("float32", (len(EMOTIONS),))
    intensity: float = 1.0


@message("PhoneEvent", version=1)
class PhoneEvent(Message):
    """A phone (ARPAbet; ``SIL`` or ``""`` for silence) spoken from start to end seconds on
    the media clock, sent by a TTS engine ahead of its audio (protocol: docs/tts.md)."""

    phone: str = ""
    start: float = 0.0
    end: float = 0.0


@message("NodeStatus", version=1)
class NodeStatus(Message):
    """Heartbeat of a node: its state, pid, host, topics and counters."""

    node: str = ""
    state: str = "running"
    pid: int = 0
    host: str = ""
    inputs: dict = field(default_factory=dict)  # port -> topic
    outputs: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)  # name -> int
    delay_s: float = 0.0


@message("Text", version=1)
class Text(Message):
    """A line of text (logs, commands, tests; lines for the tts node to speak)."""

    text: str = ""
