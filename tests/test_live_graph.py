"""The live graph as real processes: bag replay determinism, two characters at once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from bus_helpers import find_node, wait_until
from conftest import facewire_cmd, stop_process
from live_helpers import chunks_of, train_tiny_model

from facewire.bag.writer import BagWriter
from facewire.bus.transport import Bus
from facewire.messages.types import Blendshapes
from facewire.offline import animate_file

PIPELINE_NODES = ("features", "blendshapes", "smoother")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return train_tiny_model(tmp_path_factory.mktemp("graph"))


def buzz(seconds: float, rate_hz: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    env = np.clip(np.sin(2 * np.pi * rate_hz * t), 0, None)
    return (0.3 * env * np.sign(np.sin(2 * np.pi * 140 * t))
            + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture
def bus(registry: str) -> Iterator[Bus]:
    b = Bus("test_listener")
    yield b
    b.close()


def listen(bus: Bus, topic: str) -> list[Blendshapes]:
    got: list[Blendshapes] = []
    bus.subscribe(topic, Blendshapes, callback=got.append)
    return got


def spin_until_quiet(bus: Bus, got: list, quiet_s: float, timeout_s: float) -> None:
    """Spin until frames stop arriving for quiet_s (after at least one arrived)."""
    deadline = time.monotonic() + timeout_s
    last_n, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        bus.spin_once(20)
        if len(got) != last_n:
            last_n, last_change = len(got), time.monotonic()
        elif got and time.monotonic() - last_change > quiet_s:
            return


def launch(registry: str, file: str, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(facewire_cmd("launch", file, "--registry", registry, *args),
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def wait_nodes(registry: str, names: list[str], proc: subprocess.Popen, log: Path) -> None:
    def ready() -> bool:
        assert proc.poll() is None, log.read_text()
        return all((n := find_node(registry, name)) and n["state"] == "running"
                   for name in names)

    wait_until(ready, 60, f"nodes {names} running")


def test_bag_replay_at_1x_and_full_speed_gives_the_same_frames(
        registry: str, bus: Bus, model: Path, tmp_path: Path) -> None:
    bag = tmp_path / "speech.mcap"
    with BagWriter(bag) as w:
        for c in chunks_of(buzz(1.5, 3.0, 0), capture_ns=0):
            w.write("/audio", c, log_time_ns=10**9 + int(c.header.media_time * 1e9))
    log = tmp_path / "launch.log"
    graph = launch(registry, "pipeline", "--arg", f"model={model}", log=log)
    try:
        wait_nodes(registry, list(PIPELINE_NODES), graph, log)
        got = listen(bus, "/blendshapes")
        runs = []
        for mode in (["--rate", "1"], ["--fast"]):
            got.clear()
            t0 = time.monotonic()
            player = subprocess.Popen(facewire_cmd("bag", "play", str(bag), *mode,
                                                   "--wait-subscribers", "1"))
            spin_until_quiet(bus, got, quiet_s=1.0, timeout_s=30)
            assert player.wait(10) == 0
            runs.append((list(got), time.monotonic() - t0))
    finally:
        stop_process(graph, 15)
    (slow, slow_s), (fast, fast_s) = runs
    assert len(slow) >= 80, f"1.5 s of audio gave only {len(slow)} frames"
    assert [f.header.media_time for f in slow] == [f.header.media_time for f in fast]
    assert np.abs(np.stack([f.weights for f in slow]) - np.stack([f.weights for f in fast])
                  ).max() <= 1e-6
    assert slow_s > 1.4  # the first replay really was paced


def test_two_characters_animate_at_once_without_cross_talk(
        registry: str, bus: Bus, model: Path, tmp_path: Path) -> None:
    clips = {"alice": buzz(1.5, 2.0, 1), "bob": buzz(1.5, 5.0, 2)}
    for name, audio in clips.items():
        sf.write(tmp_path / f"{name}.wav", audio, 16000, subtype="FLOAT")
    log = tmp_path / "launch.log"
    streams = {name: listen(bus, f"/{name}/blendshapes") for name in clips}
    graph = launch(registry, "two_speakers", "--arg", f"model={model}",
                   "--arg", f"alice={tmp_path / 'alice.wav'}",
                   "--arg", f"bob={tmp_path / 'bob.wav'}", log=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(len(s) >= 80 for s in streams.values()):
            assert graph.poll() is None, log.read_text()
            bus.spin_once(20)
    finally:
        stop_process(graph, 15)
    for name, frames in streams.items():
        assert len(frames) >= 80, f"{name}: {len(frames)} frames"
        assert {f.subject for f in frames} == {name}
        times = [f.header.media_time for f in frames]
        assert np.allclose(np.diff(times), 1 / 60), f"{name}: frames from another stream mixed in"
        # each character's stream is exactly its own clip's offline animation
        offline = animate_file(tmp_path / f"{name}.wav", model=str(model), subject=name,
                               smoothing={"method": "closure_safe"})  # the live graphs' default
        n = min(len(frames), 80)  # before the offline take's end release (last 0.1 s)
        live = np.stack([f.weights for f in frames[:n]])
        assert times[0] == 0.0
        bad = np.nonzero(np.abs(live - offline.weights[:n]).max(axis=1) >= 1e-5)[0]
        assert bad.size == 0, f"{name}: frames {bad} differ from the offline animation"
    alice, bob = (np.stack([f.weights for f in streams[k][:80]]) for k in ("alice", "bob"))
    assert np.abs(alice - bob).max() > 0.01  # different voices, different faces
