"""tts node: lines of text in; spoken audio and its phone events out (espeak-ng).

A stand-in for any TTS engine that knows its phones (docs/tts.md): each line is synthesised
at once, all its PhoneEvents are published immediately (a TTS knows them before they are
heard), and the audio is pushed in real time, as a TTS streams to a sound card, with
``capture_ns`` set to the moment each chunk plays. Phones and audio share one media clock:
seconds of audio sent since the node started, the same count the audio node keeps.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.signal import resample_poly

from facewire.bus.node import Input, Node, Output, Param
from facewire.messages.types import AudioChunk, PhoneEvent, Text
from facewire.phones.arpabet import SIL, Phone


class TtsNode(Node):
    inputs = {"text": Input(Text, help="lines to speak, one after another")}
    outputs = {"audio": Output(AudioChunk), "phones": Output(PhoneEvent)}
    params = {
        "text": Param(str, "", "a line to speak at start (more arrive on the text input)"),
        "voice": Param(str, "en-us", "espeak-ng voice (espeak-ng --voices)"),
        "rate": Param(int, 160, "speaking rate, words per minute", min=60, max=500),
        "pitch": Param(int, 50, "espeak-ng pitch 0..100", min=0, max=100),
        "sample_rate": Param(int, 16000, "rate of the audio sent", min=8000),
        "chunk_ms": Param(float, 10.0, "audio chunk length", min=1.0, max=200.0),
        "pad_ms": Param(float, 300.0, "silence after each line, so the face comes to rest",
                        min=0.0, max=5000.0),
        "realtime": Param(bool, True, "push audio at playback pace (false: as fast as possible)"),
        "wait_audio": Param(int, 1, "subscribers of audio to wait for before speaking", min=0),
        "wait_phones": Param(int, 1, "subscribers of phones to wait for before speaking", min=0),
    }

    def on_start(self) -> None:
        from facewire.phones.espeak import shared_espeak

        self.espeak = shared_espeak()
        if not self.espeak.has_voice(self.p.voice):
            raise ValueError(f"espeak-ng has no voice {self.p.voice!r} (espeak-ng --voices "
                             "lists them)")
        self.chunk = int(round(self.p.sample_rate * self.p.chunk_ms / 1000))
        self.audio = np.zeros(0, np.float32)  # synthesised, not yet sent
        self.sent = 0  # samples sent: the media clock
        self.anchor: tuple[int, float, int] | None = None  # (sample, monotonic, wall ns)
        self._wait()
        if self.p.text.strip():
            self._speak(self.p.text)
        self.every(0.0 if not self.p.realtime else self.p.chunk_ms / 2000, self._tick)

    def _wait(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        wanted = (("audio", self.p.wait_audio), ("phones", self.p.wait_phones))
        while (any(self.subscriber_count(port) < n for port, n in wanted)
               and time.monotonic() < deadline):
            time.sleep(0.02)

    def on_text(self, msg: Text) -> None:
        if msg.text.strip():
            self._speak(msg.text)

    def _speak(self, line: str) -> None:
        """Synthesise a line to play after what is queued; publish its phones now, so the
        graph knows them before any of its audio, whatever is still playing."""
        u = self.espeak.synth(line, self.p.voice, {"rate": self.p.rate, "pitch": self.p.pitch})
        g = math.gcd(u.sample_rate, self.p.sample_rate)
        audio = resample_poly(u.audio, self.p.sample_rate // g, u.sample_rate // g)
        pad = int(self.p.pad_ms / 1000 * self.p.sample_rate)
        n = len(audio) + pad
        n += (-n) % self.chunk  # whole chunks, so the next line starts on the grid
        start = (self.sent + len(self.audio)) / self.p.sample_rate
        end = start + n / self.p.sample_rate
        phones = [Phone(p.phone, start + p.start, start + p.end) for p in u.phones]
        last = phones[-1].end if phones else start
        if end > last:
            phones.append(Phone(SIL, last, end))
        for p in phones:
            self.publish("phones", PhoneEvent(phone=p.phone, start=p.start, end=p.end)
                         .with_header(media_time=p.start))
        self.counters["lines"] += 1
        self.audio = np.concatenate([self.audio, audio.astype(np.float32),
                                     np.zeros(n - len(audio), np.float32)])
        self.log.info("speaking %.2f s: %r", n / self.p.sample_rate, line)

    def _tick(self) -> None:
        if len(self.audio) == 0:
            self.anchor = None  # idle: playback restarts from the next line's arrival
            return
        if self.anchor is None:  # playback (re)starts now
            self.anchor = (self.sent, time.monotonic(), time.time_ns())
        base, t0, t0_ns = self.anchor
        if self.p.realtime:
            due = base + int((time.monotonic() - t0) * self.p.sample_rate)
        else:
            due = self.sent + 50 * self.chunk
        while self.sent + self.chunk <= due and len(self.audio) >= self.chunk:
            samples = self.audio[:self.chunk]
            self.audio = self.audio[self.chunk:]
            capture_ns = t0_ns + int((self.sent - base) * 1e9 / self.p.sample_rate)
            if not self.p.realtime:
                capture_ns = time.time_ns()
            self.publish("audio", AudioChunk(samples=samples[:, None],
                                             sample_rate=self.p.sample_rate)
                         .with_header(media_time=self.sent / self.p.sample_rate,
                                      capture_ns=capture_ns))
            self.sent += self.chunk
