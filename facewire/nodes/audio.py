"""audio node: microphone, file or topic in; mono AudioChunks at the model's rate out.

The head of a live graph and the only node that paces itself: a file plays in real time
(or as fast as possible for offline work), a microphone delivers at its own pace. Every
chunk's media_time counts output samples; capture_ns says when its first sample entered
the system (from the audio callback's ADC time for a microphone). Reading files, capturing
from devices and cutting blocks into chunks is library code in :mod:`facewire.audio`.
"""

from __future__ import annotations

import time

from facewire.audio import AudioSourceError
from facewire.audio.chunks import Chunk, Chunker
from facewire.audio.devices import InputCapture
from facewire.audio.files import FileBlocks
from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import AudioChunk

SOURCES = ("file", "mic", "topic")


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
        self.chunker = Chunker(self.p.sample_rate,
                               int(round(self.p.sample_rate * self.p.chunk_ms / 1000)))
        self.mic: InputCapture | None = None  # source=mic
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

    def _publish(self, chunks: list[Chunk]) -> None:
        for samples, start, capture_ns in chunks:
            self.publish("audio", AudioChunk(samples=samples[:, None],
                                             sample_rate=self.p.sample_rate)
                         .with_header(media_time=start / self.p.sample_rate,
                                      capture_ns=capture_ns))

    # -- file ---------------------------------------------------------------------------
    def _start_file(self) -> None:
        if not self.p.path:
            raise AudioSourceError("source=file needs the 'path' parameter")
        self.file = FileBlocks(self.p.path, self.p.chunk_ms)
        for warning in self.file.warnings():
            self.log.warning("%s", warning)
            self.counters["file_warnings"] += 1
        self.t0 = time.monotonic()
        # real time: a sample "enters" when it is played; as fast as possible: when sent
        self.chunker.anchor = (0, time.time_ns()) if self.p.realtime else None
        self.file_timer = self.every(0.0 if not self.p.realtime else self.p.chunk_ms / 2000,
                                     self._file_tick)

    def _file_tick(self) -> None:
        file = self.file
        if self.p.realtime:
            due = int((time.monotonic() - self.t0) * file.rate)
        else:
            due = file.pos + 50 * file.block  # a batch per loop turn keeps heartbeats alive
        for block in file.take(due, whole=self.p.realtime):
            self._publish(self.chunker.push(block, file.rate, time.time_ns()))
        if file.at_end:
            self._file_ended()  # loop: the next tick goes on from the start

    def _file_ended(self) -> None:
        if self.p.loop:
            self.file.rewind()
            self.t0 += self.file.duration
            return
        self._publish(self.chunker.finish(self.file.rate, len(self.file.data), self.p.pad_end,
                                          time.time_ns()))
        self.cancel(self.file_timer)
        self.log.info("end of %s", self.p.path)
        if self.p.exit_at_end:
            self.stop()

    # -- microphone ---------------------------------------------------------------------
    def _start_mic(self) -> None:
        self.mic = InputCapture(self.p.device, self.p.chunk_ms)
        self.log.info("capturing from %s at %d Hz", self.mic.name, self.mic.rate)
        self.every(0.005, self._mic_tick)

    def _mic_tick(self) -> None:
        rate = self.mic.rate
        for block, first, capture_ns in self.mic.read():
            # anchor: output sample index of this block's start <-> its capture time
            self.chunker.anchor = (int(first * self.p.sample_rate / rate), capture_ns)
            self._publish(self.chunker.push(block, rate, capture_ns))

    # -- topic --------------------------------------------------------------------------
    def on_input(self, msg: AudioChunk) -> None:
        if self.p.source != "topic":
            self.counters["ignored_input"] += 1
            return
        capture_ns = msg.header.capture_ns or time.time_ns()
        self.chunker.anchor = (self.chunker.samples_in, capture_ns)
        self._publish(self.chunker.push(msg.samples, msg.sample_rate, capture_ns))

    def on_stop(self) -> None:
        if getattr(self, "mic", None) is not None:  # on_start may have failed before it
            self.mic.close()
