"""A small trained model for live-pipeline tests, and offline graph helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facewire.launch.inprocess import plan, single_input
from facewire.launch.loader import load
from facewire.messages.types import AudioChunk, Blendshapes
from facewire.testing import run_graph


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
    """pipeline.yaml's features -> blendshapes in-process (no smoother); returns the
    blendshapes node's frames."""
    graph = load("pipeline", {"model": str(model), "vad": vad, "subject": ""})
    graph.nodes = [n for n in graph.nodes if n.name in ("features", "blendshapes")]
    nodes = [n.cls(name=n.name, namespace=n.namespace, params=n.params, remaps=n.remaps)
             for n in plan(graph)]
    out = run_graph(nodes, {single_input(graph): chunks})
    return out[graph.nodes[-1].outputs["blendshapes"]]


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
