"""Run node graphs in-process, as fast as the CPU allows (``facewire animate``).

The nodes are the live nodes themselves, run by the in-process runner
(:func:`facewire.bus.runners.run_graph`): the audio node reads the file without pacing and
every publish runs the downstream handlers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from facewire.launch.inprocess import InProcessNode, plan, run_in_process, single_input
from facewire.launch.loader import load
from facewire.launch.spec import LaunchSpec
from facewire.messages.types import AudioChunk, Blendshapes
from facewire.models.runtime import StreamingPredictor, default_model_path, resolve_model
from facewire.nodes.audio import Audio
from facewire.nodes.blendshapes import BlendshapesNode

OFFLINE_CHUNK_MS = 1000.0
# a take ends with its audio; over its last END_RELEASE_S the face eases to neutral, so a
# line cut off mid-word does not end (and hold, in an engine) with an open mouth
END_RELEASE_S = 0.1
GRAPH_FILE = "pipeline"  # the live graph's processing part: the same nodes, topics, params
OFFLINE_SMOOTHING = "savgol"  # `animate`/`batch`'s default: a take is smoothed as a whole


def limit_blas_threads() -> None:
    """One BLAS thread for this process: the graph's matrices are small (a second of log-mel
    frames at a time) and on a busy machine BLAS threads mostly wait for each other (the
    offline graph ran 10x slower with them on 2 shared cores)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


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
    emotion: str = ""  # the emotion fused in (facewire.offline_emotion), "" for none
    intensity: float = 0.0

    def emotion_fields(self) -> dict:
        """The emotion applied, for the npz; nothing for a neutral take (its files unchanged)."""
        return {"emotion": self.emotion, "intensity": self.intensity} if self.emotion else {}

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


class PreloadedBlendshapes(BlendshapesNode):
    """The blendshapes node with its model loaded once per process, not once per file:
    many short files (dialogue libraries) would otherwise spend their time opening ONNX."""

    loaded: dict[tuple[str, str, float, int], StreamingPredictor] = {}

    def load_model(self) -> StreamingPredictor:
        path, _ = resolve_model(self.p.model or default_model_path())
        key = (str(path), self.p.device, self.p.fps, path.stat().st_mtime_ns if path.exists()
               else 0)
        if key not in self.loaded:
            self.loaded[key] = super().load_model()
        return self.loaded[key]


def preload_model(model: str = "", device: str = "auto", fps: float = 60.0) -> None:
    """Load a model now (a batch worker's start) so the first file does not pay for it."""
    node = PreloadedBlendshapes(name="blendshapes", params={"model": model, "device": device,
                                                            "fps": fps})
    node.load_model()


@lru_cache(maxsize=8)
def offline_graph(model: str, subject: str, fps: float, device: str, smoothing: str
                  ) -> LaunchSpec:
    """pipeline.yaml with these args, read once per process (a batch animates many files)."""
    return load(GRAPH_FILE, {"model": model, "subject": subject, "fps": fps,
                             "device": device, "smoothing": smoothing})


def animate_file(path: str | Path, model: str = "", smoothing: dict | None = None,
                 fps: float = 60.0, subject: str = "", device: str = "auto") -> Take:
    """One file through pipeline.yaml in this process; ``smoothing`` is the smoother's params."""
    smoothing = smoothing or {}
    graph = offline_graph(model, subject, fps, device,
                          smoothing.get("method", OFFLINE_SMOOTHING))
    audio = single_input(graph)
    # large chunks: the same nodes, but each model call sees a second of frames at once
    source = InProcessNode(Audio, "audio", params={
        "source": "file", "path": str(path), "realtime": False, "exit_at_end": True,
        "chunk_ms": OFFLINE_CHUNK_MS, "pad_end": False}, remaps={"audio": audio})
    nodes = plan(graph, classes={"blendshapes": PreloadedBlendshapes},
                 params={"smoother": {**smoothing, "fps": fps}})
    record = run_in_process(source, nodes, [audio, *graph.open_outputs()])
    return Take.from_messages(end_with_audio(record, fps), fps)


def release_gain(times: np.ndarray, release_s: float = END_RELEASE_S) -> np.ndarray:
    """Per-frame gain: 1 until ``release_s`` before the last frame, then a smooth fall to 0."""
    if len(times) == 0:
        return np.ones(0)
    x = np.clip((times[-1] - times) / release_s, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)  # smoothstep: no velocity jump where the release starts


def end_with_audio(record: list[tuple[str, object]], fps: float,
                   release_s: float = END_RELEASE_S) -> list[tuple[str, object]]:
    """Drop frames past the audio's end (within half a frame) and relax the face at the end."""
    chunks = [m for _, m in record if isinstance(m, AudioChunk)]
    if not chunks:
        return record
    last = chunks[-1]
    duration = last.header.media_time + len(last.samples) / last.sample_rate
    kept = [(t, m) for t, m in record
            if not isinstance(m, Blendshapes) or m.header.media_time <= duration + 0.5 / fps]
    frames = [i for i, (_, m) in enumerate(kept) if isinstance(m, Blendshapes)]
    gains = release_gain(np.array([kept[i][1].header.media_time for i in frames]), release_s)
    for i, gain in zip(frames, gains):
        if gain < 1.0:
            topic, msg = kept[i]
            weights = (msg.weights * gain).astype(np.float32)
            kept[i] = (topic, msg.with_fields(weights=weights))
    return kept
