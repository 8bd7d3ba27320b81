"""Run node graphs in-process, as fast as the CPU allows (``facewire animate``).

The nodes are the live nodes themselves, wired through a LocalBus: the audio node reads
the file without pacing and every publish runs the downstream handlers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facewire.bus.local import LocalBus
from facewire.bus.node import Node
from facewire.messages.types import AudioChunk, Blendshapes
from facewire.nodes.audio import Audio
from facewire.nodes.blendshapes import BlendshapesNode
from facewire.nodes.features import FeaturesNode
from facewire.nodes.smoother import Smoother

OFFLINE_CHUNK_MS = 1000.0
TOPICS = {"audio": "/audio", "features": "/features", "raw": "/blendshapes_raw",
          "blendshapes": "/blendshapes"}


def run_graph(source: Node, nodes: list[Node]) -> None:
    """Start downstream nodes first, drive the source to its end, then flush in order."""
    for node in nodes:
        node.on_start()
    source.on_start()
    while not source.stopping:
        source.run_timers()
    for node in nodes:
        node.end_of_stream()
    for node in [source, *nodes]:
        node.on_stop()


@dataclass
class Take:
    """Everything one animated file produced."""

    audio: np.ndarray  # mono samples at sample_rate
    sample_rate: int
    times: np.ndarray  # media_time per frame
    weights: np.ndarray  # (frames, 52) ARKit, smoothed
    fps: float
    messages: list[tuple[str, object]] = field(default_factory=list)  # (topic, msg) in order
    source: str = "audio"  # which phones made it: "audio", "transcript", "textgrid"
    source_reason: str = ""  # where the words came from, or why they were not used

    @classmethod
    def from_messages(cls, messages: list[tuple[str, object]], fps: float = 60.0) -> Take:
        """A take from a graph's AudioChunks and Blendshapes (live, offline or from a bag)."""
        chunks = [m for _, m in messages if isinstance(m, AudioChunk)]
        frames = [m for _, m in messages if isinstance(m, Blendshapes)]
        return cls(
            audio=np.concatenate([c.samples[:, 0] for c in chunks]) if chunks else np.zeros(0),
            sample_rate=chunks[0].sample_rate if chunks else 16000,
            times=np.array([f.header.media_time for f in frames]),
            weights=np.stack([f.weights for f in frames]) if frames else np.zeros((0, 52)),
            fps=fps, messages=messages,
        )


def animate_file(path: str | Path, model: str = "", smoothing: dict | None = None,
                 fps: float = 60.0, subject: str = "") -> Take:
    bus = LocalBus()
    record: list[tuple[str, object]] = []
    for name in ("audio", "blendshapes"):
        topic = TOPICS[name]
        bus.subscribe(topic, callback=lambda m, t=topic: record.append((t, m)))
    # large chunks: the same nodes, but each model call sees a second of frames at once
    source = Audio(name="audio", params={"source": "file", "path": str(path), "realtime": False,
                                         "exit_at_end": True, "chunk_ms": OFFLINE_CHUNK_MS},
                   remaps={"audio": TOPICS["audio"]}, bus=bus)
    nodes = [
        FeaturesNode(name="features", remaps={"audio": TOPICS["audio"],
                                              "features": TOPICS["features"]}, bus=bus),
        BlendshapesNode(name="blendshapes", params={"model": model, "fps": fps,
                                                    "subject": subject},
                        remaps={"features": TOPICS["features"], "blendshapes": TOPICS["raw"]},
                        bus=bus),
        Smoother(name="smoother", params={**(smoothing or {}), "fps": fps},
                 remaps={"input": TOPICS["raw"], "output": TOPICS["blendshapes"]}, bus=bus),
    ]
    run_graph(source, nodes)
    return Take.from_messages(record, fps)
