"""audio node: microphone, file or topic in; mono AudioChunks at the model's rate out.

The head of a live graph and the only node that paces itself: a file plays in real time
(or as fast as possible for offline work), a microphone delivers at its own pace. Every
chunk's media_time counts output samples; capture_ns says when its first sample entered
the system (from the audio callback's ADC time for a microphone).
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

import numpy as np

from facewire.bus.node import Input, Node, Output, Param
from facewire.dsp.resample import StreamingResampler
from facewire.messages.types import AudioChunk

SOURCES = ("file", "mic", "topic")


class AudioSourceError(RuntimeError):
    """A source that cannot be opened; the text says what to do."""


def list_devices() -> list[dict]:
    import sounddevice as sd

    return [
        {"index": i, "name": d["name"], "inputs": d["max_input_channels"],
         "rate": d["default_samplerate"]}
        for i, d in enumerate(sd.query_devices())
    ]


def find_input_device(spec: str) -> int | None:
    """A device by index or by (case-insensitive) name substring; None for the default."""
    if spec == "":
        return None
    devices = [d for d in list_devices() if d["inputs"] > 0]
    if spec.isdigit() and any(d["index"] == int(spec) for d in devices):
        return int(spec)
    matches = [d for d in devices if spec.lower() in d["name"].lower()]
    if len(matches) >= 1:
        exact = [d for d in matches if d["name"].lower() == spec.lower()]
        return (exact or matches)[0]["index"]
    listing = "\n".join(f"  {d['index']}: {d['name']} ({d['inputs']} in)" for d in devices)
    raise AudioSourceError(
        f"no input device matches {spec!r}. Input devices:\n{listing or '  (none)'}\n"
        "Pick one by index or name (facewire audio devices)."
    )


BUNDLED_AUDIO = Path(__file__).resolve().parents[1] / "data"


def resolve_audio_path(path: str) -> Path:
    """A file path, or the name of a clip bundled with facewire (``demo_clip.wav``)."""
    p = Path(path).expanduser()
    if not p.exists() and not p.is_absolute() and (BUNDLED_AUDIO / path).is_file():
        return BUNDLED_AUDIO / path
    return p


def read_audio_file(path: str) -> tuple[np.ndarray, int]:
    """(samples (n, channels) float32, rate) from wav/flac/ogg, or a clear error."""
    import soundfile as sf

    path = str(resolve_audio_path(path))
    if not Path(path).is_file():
        raise AudioSourceError(f"audio file {path!r} does not exist")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError variants
        raise AudioSourceError(
            f"cannot read audio file {path!r}: {exc}. Supported: wav, flac, ogg "
            "(convert others with: ffmpeg -i IN -ar 16000 OUT.wav)"
        ) from None
    if not np.isfinite(data).all():
        raise AudioSourceError(f"audio file {path!r} holds NaN or infinite samples")
    return data, int(rate)


MIN_USEFUL_S = 0.2  # shorter than this, a model sees too little speech to animate


def declared_frames(path: str) -> int | None:
    """The frame count a file's header promises (WAV data chunk, else libsndfile's view),
    to tell a truncated file from a short one; None when unknown."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:  # soundfile raises LibsndfileError/RuntimeError variants
        return None
    if info.format != "WAV":
        return int(info.frames)
    try:
        block = info.channels * {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
                                 "DOUBLE": 8, "PCM_U8": 1}[info.subtype]
    except KeyError:
        return None
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while len(chunk := f.read(8)) == 8:
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return size // block if size != 0xFFFFFFFF else None  # streaming: unknown
            f.seek(size + (size & 1), 1)
    return None


def audio_file_warnings(path: str, samples: int, rate: int) -> list[str]:
    """What is wrong with a file that reads but will not animate well, with its real
    duration: empty, truncated (fewer samples than its header says), or too short."""
    duration = samples / rate if rate else 0.0
    declared = declared_frames(path)
    out = []
    if samples == 0:
        out.append(f"audio file {path!r} holds no audio (0 samples)")
    elif declared is not None and declared > samples:
        out.append(f"audio file {path!r} is truncated: {duration:.3f} s of audio, its header "
                   f"promises {declared / rate:.3f} s (re-export or re-copy it)")
    if 0 < samples and duration < MIN_USEFUL_S:
        out.append(f"audio file {path!r} is only {duration:.4f} s long ({samples} samples); "
                   f"under {MIN_USEFUL_S} s gives little or no animation")
    return out


class Rechunker:
    """Mono samples of any block size in, fixed-size chunks out, media_time by count."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.buf = np.zeros(0, np.float32)
        self.samples_out = 0

    def push(self, mono: np.ndarray) -> list[tuple[np.ndarray, int]]:
        self.buf = np.concatenate([self.buf, mono.astype(np.float32)])
        out = []
        while self.buf.size >= self.chunk:
            out.append((self.buf[: self.chunk], self.samples_out))
            self.buf = self.buf[self.chunk:]
            self.samples_out += self.chunk
        return out


class Audio(Node):
    """Audio capture / playback / relay, resampled to one mono rate."""

    inputs = {"input": Input(AudioChunk, help="AudioChunks pushed by a TTS engine or game")}
    outputs = {"audio": Output(AudioChunk)}
    params = {
        "source": Param(str, "file", "file | mic | topic", choices=SOURCES),
        "path": Param(str, "", "audio file (source=file)"),
        "device": Param(str, "", "input device index or name (source=mic; empty: default)"),
        "realtime": Param(bool, True, "play a file at real-time pace (false: as fast as possible)"),
        "loop": Param(bool, False, "start the file again at its end"),
        "chunk_ms": Param(float, 10.0, "output chunk length", min=1.0, max=1000.0),
        "sample_rate": Param(int, 16000, "output rate (the model's)", min=8000),
        "wait_subscribers": Param(int, 0, "wait for this many subscribers before playing", min=0),
        "exit_at_end": Param(bool, False, "stop the node when the file ends (offline runs)"),
        "pad_end": Param(bool, True, "pad the file's last chunk to a whole chunk (false: the "
                         "last chunk is short and the stream ends with the file)"),
    }

    def on_start(self) -> None:
        self.chunk = int(round(self.p.sample_rate * self.p.chunk_ms / 1000))
        self.rechunker = Rechunker(self.chunk)
        self.resamplers: dict[int, StreamingResampler] = {}
        self.capture_anchor: tuple[int, int] | None = None  # (sample index, capture_ns)
        if self.p.wait_subscribers:
            self._wait_subscribers(self.p.wait_subscribers)
        if self.p.source == "file":
            self._start_file()
        elif self.p.source == "mic":
            self._start_mic()

    def _wait_subscribers(self, n: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.subscriber_count("audio") < n and time.monotonic() < deadline:
            time.sleep(0.02)

    # -- shared path: any block of any rate and channel count -> chunks ------------------
    def _resampler(self, rate: int) -> StreamingResampler:
        if rate not in self.resamplers:
            self.resamplers[rate] = StreamingResampler(rate, self.p.sample_rate, 1)
        return self.resamplers[rate]

    def _emit(self, block: np.ndarray, rate: int, capture_ns: int) -> None:
        mono = block.mean(axis=1) if block.ndim == 2 else block
        out = self._resampler(rate).process(mono)[:, 0]
        for samples, start in self.rechunker.push(out):
            media_time = start / self.p.sample_rate
            self.publish("audio", AudioChunk(samples=samples[:, None], sample_rate=self.p.sample_rate)
                         .with_header(media_time=media_time, capture_ns=self._capture_ns(start,
                                                                                         capture_ns)))

    def _capture_ns(self, start: int, fallback: int) -> int:
        if self.capture_anchor is None:
            return fallback
        index, ns = self.capture_anchor
        return int(ns + (start - index) * 1e9 / self.p.sample_rate)

    # -- file ---------------------------------------------------------------------------
    def _start_file(self) -> None:
        if not self.p.path:
            raise AudioSourceError("source=file needs the 'path' parameter")
        self.data, self.rate = read_audio_file(self.p.path)
        for warning in audio_file_warnings(str(resolve_audio_path(self.p.path)),
                                           len(self.data), self.rate):
            self.log.warning("%s", warning)
            self.counters["file_warnings"] += 1
        self.pos = 0
        self.block = max(1, int(self.rate * self.p.chunk_ms / 1000))
        self.t0_ns = time.time_ns()
        self.t0 = time.monotonic()
        # real time: a sample "enters" when it is played; as fast as possible: when sent
        self.capture_anchor = (0, self.t0_ns) if self.p.realtime else None
        self.file_timer = self.every(0.0 if not self.p.realtime else self.p.chunk_ms / 2000,
                                     self._file_tick)

    def _file_tick(self) -> None:
        if self.p.realtime:
            due = int((time.monotonic() - self.t0) * self.rate)
        else:
            due = self.pos + 50 * self.block  # a batch per loop turn keeps heartbeats alive
        while self.pos + self.block <= due or (not self.p.realtime and self.pos < due):
            if self.pos >= len(self.data):
                self._file_ended()  # loop: the next tick goes on from the start
                return
            end = min(len(self.data), self.pos + self.block)
            self._emit(self.data[self.pos:end], self.rate, time.time_ns())
            self.pos = end

    def _file_ended(self) -> None:
        if self.p.loop:
            self.pos = 0
            self.t0 += len(self.data) / self.rate
            return
        tail = self._resampler(self.rate).flush()[:, 0]
        # exactly the file's length at the output rate, then padded to a whole chunk
        total = -(-len(self.data) * self.p.sample_rate // self.rate)
        tail = tail[: max(0, total - self.rechunker.samples_out - self.rechunker.buf.size)]
        pending = tail.size + self.rechunker.buf.size
        pad = (-pending) % self.chunk if self.p.pad_end else 0
        chunks = self.rechunker.push(np.concatenate([tail, np.zeros(pad, np.float32)]))
        if not self.p.pad_end and self.rechunker.buf.size:  # the short last chunk
            chunks.append((self.rechunker.buf, self.rechunker.samples_out))
            self.rechunker.samples_out += self.rechunker.buf.size
            self.rechunker.buf = np.zeros(0, np.float32)
        for samples, start in chunks:
            self.publish("audio", AudioChunk(samples=samples[:, None],
                                             sample_rate=self.p.sample_rate)
                         .with_header(media_time=start / self.p.sample_rate,
                                      capture_ns=self._capture_ns(start, time.time_ns())))
        self.cancel(self.file_timer)
        self.log.info("end of %s", self.p.path)
        if self.p.exit_at_end:
            self.stop()

    # -- microphone ---------------------------------------------------------------------
    def _start_mic(self) -> None:
        import sounddevice as sd

        device = find_input_device(self.p.device)
        info = sd.query_devices(device, "input")
        self.rate = int(info["default_samplerate"])
        self.q: queue.Queue[tuple[np.ndarray, int]] = queue.Queue()

        def callback(indata: np.ndarray, frames: int, t: object, status: object) -> None:
            # the ADC time of the block's first sample, on the stream clock, to wall clock
            lag = max(0.0, stream.time - getattr(t, "inputBufferAdcTime", stream.time))
            self.q.put((indata.copy(), time.time_ns() - int(lag * 1e9)))

        stream = sd.InputStream(device=device, channels=1, samplerate=self.rate,
                                blocksize=int(self.rate * self.p.chunk_ms / 1000),
                                dtype="float32", callback=callback)
        self.stream = stream
        stream.start()
        self.log.info("capturing from %s at %d Hz", info["name"], self.rate)
        self.every(0.005, self._mic_tick)
        self.in_samples = 0

    def _mic_tick(self) -> None:
        while True:
            try:
                block, capture_ns = self.q.get_nowait()
            except queue.Empty:
                return
            # anchor: output sample index of this block's start <-> its capture time
            self.capture_anchor = (int(self.in_samples * self.p.sample_rate / self.rate),
                                   capture_ns)
            self.in_samples += len(block)
            self._emit(block, self.rate, capture_ns)

    # -- topic --------------------------------------------------------------------------
    def on_input(self, msg: AudioChunk) -> None:
        if self.p.source != "topic":
            self.counters["ignored_input"] += 1
            return
        self.capture_anchor = (self.rechunker.samples_out + self.rechunker.buf.size,
                               msg.header.capture_ns or time.time_ns())
        self._emit(msg.samples, msg.sample_rate, self.capture_anchor[1])

    def on_stop(self) -> None:
        stream = getattr(self, "stream", None)
        if stream is not None:
            stream.stop()
            stream.close()
