"""Score what users run: clips through a live launch file as real processes, from a bag.

Offline scoring (``facewire eval``) calls the model on each clip; the live launch files add
the voice-activity gate, the smoother and their defaults, and those erased the lips'
closures without any offline figure showing it. ``LiveGraph`` makes the same
metrics score the shipped path instead: a first pass through the metrics only collects the
clips they ask for; the clips are then written into one WAV with a second of silence
between them, each speaker's clips together (a live session hearing several utterances
of one voice, then the next voice), played in real time by
``facewire launch <file>`` with the file's own defaults (only ``path``, ``wait`` and the
model are set), the output recorded by ``facewire bag record``; a second pass through the
metrics gets each clip's frames cut from the recording by media time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from facewire.launch.processes import stop_gracefully

SAMPLE_RATE = 16000
FPS = 60.0
ALIGN = 800  # clips start on whole 50 ms: whole numbers of samples and of 60 fps frames
GAP_S = 1.0


class LiveGraphError(RuntimeError):
    """The launch file did not start, or produced no frames."""


def _key(audio: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(audio, np.float32).tobytes()).hexdigest()


def _frames_of(audio: np.ndarray) -> int:
    return len(audio) * int(FPS) // SAMPLE_RATE


class LiveGraph:
    """A predictor (16 kHz audio -> [frames, 52]) answered from one live-graph run.

    Call it as a predictor once to collect (it returns neutral frames), ``run()``, then
    call it again to get the graph's frames for each clip it collected."""

    def __init__(self, workdir: str | Path, launch_file: str = "live_file",
                 model: str | None = None, gap_s: float = GAP_S,
                 launch_args: list[str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.launch_args = list(launch_args or [])
        self.launch_file, self.model, self.gap_s = launch_file, model, gap_s
        self.clips: dict[str, np.ndarray] = {}
        self.speakers: dict[str, str] = {}
        self.offsets: dict[str, int] = {}
        self.frames: np.ndarray | None = None
        self.stats: dict[str, float] = {}

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        key = _key(audio)
        if self.frames is None:
            self.clips.setdefault(key, np.asarray(audio, np.float32))
            return np.zeros((_frames_of(audio), 52), np.float32)
        if key not in self.offsets:
            raise LiveGraphError("a clip was asked for that the collecting pass did not see")
        k0 = self.offsets[key] * int(FPS) // SAMPLE_RATE
        return self.frames[k0:k0 + _frames_of(audio)]

    def speaker(self, audio: np.ndarray, name: str) -> None:
        """Say who speaks a clip: the stream plays each speaker's clips one after another
        (a live session hears one voice at a time), in the order they were asked for."""
        self.speakers[_key(audio)] = name

    def _stream(self) -> np.ndarray:
        gap = int(self.gap_s * SAMPLE_RATE)
        parts, pos = [np.zeros(gap, np.float32)], gap
        first: dict[str, int] = {}
        for i, key in enumerate(self.clips):
            first.setdefault(self.speakers.get(key, ""), i)
        order = sorted(enumerate(self.clips), key=lambda ik: (
            first[self.speakers.get(ik[1], "")], ik[0]))
        for _, key in order:
            audio = self.clips[key]
            self.offsets[key] = pos
            pad = (-(len(audio) + gap)) % ALIGN
            parts += [audio, np.zeros(gap + pad, np.float32)]
            pos += len(audio) + gap + pad
        return np.concatenate(parts)

    def run_sessions(self, progress: bool = True) -> None:
        """One launch per speaker instead of one for all: each voice meets a graph that
        has heard no other (a new live session), as a single user at a microphone does."""
        groups: dict[str, list[str]] = {}
        for key in self.clips:
            groups.setdefault(self.speakers.get(key, ""), []).append(key)
        frames, stats, base = [], dict.fromkeys(
            ("live_seconds", "live_frames", "live_missing_frames"), 0.0), 0
        for i, keys in enumerate(groups.values()):
            sub = LiveGraph(self.workdir / f"session{i:02d}", self.launch_file, self.model,
                            self.gap_s, self.launch_args)
            sub.clips = {k: self.clips[k] for k in keys}
            sub.run(progress=False)
            assert sub.frames is not None
            for k in keys:
                self.offsets[k] = base + sub.offsets[k]
            base += len(sub.frames) * SAMPLE_RATE // int(FPS)
            frames.append(sub.frames)
            for name in stats:
                stats[name] += sub.stats[name]
            if progress:
                print(f"  live sessions: {i + 1} / {len(groups)}", file=sys.stderr)
        self.frames = np.concatenate(frames)
        self.stats = {**stats, "live_sessions": float(len(groups))}

    def run(self, progress: bool = True) -> None:
        """Play every collected clip through the launch file once, in real time."""
        import soundfile as sf

        from facewire.bag.reader import BagReader
        from facewire.bus.transport import Bus
        from facewire.launch.launcher import fresh_registry_address, registry_answers
        from facewire.messages.types import Blendshapes

        if not self.clips:
            raise LiveGraphError("no clips to play")
        self.workdir.mkdir(parents=True, exist_ok=True)
        stream = self._stream()
        wav, bag = self.workdir / "stream.wav", self.workdir / "live.mcap"
        bag.unlink(missing_ok=True)
        sf.write(wav, stream, SAMPLE_RATE, subtype="FLOAT")
        duration = len(stream) / SAMPLE_RATE
        address = fresh_registry_address()
        env = {**os.environ, "FACEWIRE_BUS": address}
        py = [sys.executable, "-m", "facewire"]
        args = ["--arg", f"path={wav}", "--arg", "wait=2"]  # features + the recorder
        if self.model:
            args += ["--arg", f"model={self.model}"]
        for kv in self.launch_args:
            args += ["--arg", kv]
        log = open(self.workdir / "launch.log", "w")  # noqa: SIM115 (closed below)
        launch = subprocess.Popen([*py, "launch", self.launch_file, "--registry", address,
                                   *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        recorder = None
        seen, last_t = 0, -1.0
        try:
            deadline = time.monotonic() + 60
            while not registry_answers(address, 0.5):
                if launch.poll() is not None or time.monotonic() > deadline:
                    raise LiveGraphError(f"{self.launch_file} did not start; see "
                                         f"{self.workdir / 'launch.log'}")
            recorder = subprocess.Popen([*py, "bag", "record", "-o", str(bag), "/audio",
                                         "/blendshapes"], env=env, stdout=log,
                                        stderr=subprocess.STDOUT)
            bus = Bus("eval-live-watch", registry=address)
            sub = bus.subscribe("/blendshapes", Blendshapes, delivery="latest")
            deadline = time.monotonic() + duration * 1.5 + 90
            quiet_since = time.monotonic()
            while time.monotonic() < deadline and launch.poll() is None:
                msg = sub.recv(timeout_s=0.2)
                if msg is None:
                    if seen and time.monotonic() - quiet_since > 10:
                        break
                    continue
                seen += 1
                quiet_since = time.monotonic()
                last_t = msg.header.media_time
                if last_t >= duration - 0.5:
                    time.sleep(1.0)  # the recorder gets the tail too
                    break
                if progress and seen % 600 == 0:
                    print(f"  live graph: {last_t:.0f} / {duration:.0f} s", file=sys.stderr)
            bus.close()
        finally:
            if recorder is not None:
                stop_gracefully(recorder, 15.0)
            stop_gracefully(launch, 15.0)
            log.close()
        if not bag.exists():
            raise LiveGraphError(f"no bag recorded; see {self.workdir / 'launch.log'}")
        frames = [m.msg for m in BagReader(bag).read_all(["/blendshapes"])]
        if not frames:
            raise LiveGraphError(f"no frames recorded; see {self.workdir / 'launch.log'}")
        self.frames, filled = self._timeline(frames, _frames_of(stream))
        self.stats = {"live_seconds": duration, "live_frames": float(len(frames)),
                      "live_missing_frames": float(filled),
                      "live_first_media_time": float(frames[0].header.media_time)}

    @staticmethod
    def _timeline(frames: list, n: int) -> tuple[np.ndarray, int]:
        """Frames placed by media time; a frame that never came holds the one before it
        (what a viewer would see), and is counted."""
        out = np.zeros((n, 52), np.float32)
        have = np.zeros(n, bool)
        for f in frames:
            k = int(round(f.header.media_time * FPS))
            if 0 <= k < n:
                out[k], have[k] = f.weights, True
        for k in np.flatnonzero(~have[1:]) + 1:
            out[k] = out[k - 1]  # in order, so a run of missing frames holds the last one
        return out, int(n - have.sum())
