"""A small trained model for live-pipeline tests, and offline graph helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facewire.bus.local import LocalBus
from facewire.messages.types import AudioChunk, Blendshapes
from facewire.nodes.blendshapes import BlendshapesNode
from facewire.nodes.features import FeaturesNode


def train_tiny_model(root: Path, arch: str = "cnn_gru") -> Path:
    """Trained in the test on the toy corpus (seconds), exported through the real path."""
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(root / "toy", n_clips=6, seconds=1.0, voices=2)
    train(TrainConfig(data=[str(corpus)], arch=arch, out=str(root / arch), epochs=3,
                      hidden=16, window=5, quiet=True, held_out=0.34))
    return export(root / arch / "best.pt", root / f"{arch}_onnx", argv=["export"])


def chunks_of(audio: np.ndarray, sr: int = 16000, n: int = 160, capture_ns: int = 0
              ) -> list[AudioChunk]:
    out = []
    for i in range(0, len(audio) - n + 1, n):
        out.append(AudioChunk(samples=audio[i:i + n, None].astype(np.float32), sample_rate=sr)
                   .with_header(media_time=i / sr, capture_ns=capture_ns + int(i / sr * 1e9)))
    return out


def run_features_blendshapes(model: Path, chunks: list[AudioChunk], vad: str = "energy"
                             ) -> list[Blendshapes]:
    """features -> blendshapes in-process; returns the published frames."""
    bus = LocalBus()
    out = bus.subscribe("/blendshapes", Blendshapes)
    nodes = [FeaturesNode(name="features", bus=bus),
             BlendshapesNode(name="blendshapes", params={"model": str(model), "vad": vad},
                             bus=bus)]
    for node in nodes:
        node.on_start()
    pub = bus.publisher("/audio", AudioChunk)
    for c in chunks:
        pub.publish(c)
    for node in nodes:
        node.end_of_stream()
    return out.received


def node_counters(registry: str, name: str, wait_s: float = 1.2) -> dict[str, int]:
    """A running node's counters from its latest heartbeat (sent once a second)."""
    import time

    from facewire.bus.client import ask_registry
    from facewire.messages.codec import decode_bytes

    time.sleep(wait_s)  # let a heartbeat carry what has just been processed
    reply = ask_registry(registry, {"op": "list"}, timeout_s=3.0) or {}
    for node in reply.get("nodes", []):
        if node.get("node") == name and node.get("status"):
            return dict(decode_bytes(node["status"]).counters)
    return {}
