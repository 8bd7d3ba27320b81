"""pipecat integration: a voice agent's avatar speaks in Unreal, Unity and VMC apps.

:class:`FacewireAvatar` is a pipecat ``FrameProcessor``: put it after the agent's TTS
service (before the output transport). It passes every frame on unchanged and forwards

* the TTS audio (``TTSAudioRawFrame``) as facewire ``AudioChunk``\\ s on ``tts_audio``, paced
  at playback speed (the output transport plays audio in real time; a TTS generates it
  faster), each stamped with the moment it plays;
* word timestamps, where the TTS service gives them (``TTSTextFrame`` with a ``pts``), as
  ``PhoneEvent``\\ s on ``phones``: each word is spelled into phones by espeak-ng and its
  phones are spread over the word's time, with relative durations from espeak-ng.

The facewire side is the ``agent`` launch file (``facewire launch agent``): the phone-aware
pipeline and the engine bridges. Without word timestamps the avatar moves from the audio
alone. The protocol is in docs/tts.md. Install with ``pip install 'facewire[pipecat]'``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from facewire.messages.types import AudioChunk, PhoneEvent
from facewire.phones.arpabet import SIL, Phone

STRETCH = 1.3  # a word may last up to this multiple of espeak-ng's own duration for it
PHONES_AHEAD_S = 0.3  # phones leave this long before their audio plays (teacher needs 0.12)


@functools.lru_cache(maxsize=4096)
def word_phones(word: str, voice: str = "en-us") -> tuple[tuple[Phone, ...], float]:
    """A word's phones (SIL trimmed) with espeak-ng's timing, and its spoken length (s)."""
    from facewire.phones.espeak import shared_espeak

    u = shared_espeak().synth(word, voice)
    phones = tuple(p for p in u.phones if p.phone != SIL)
    if not phones:
        return (), 0.0
    t0 = phones[0].start
    return tuple(Phone(p.phone, p.start - t0, p.end - t0) for p in phones), phones[-1].end - t0


def fit_word(word: str, start: float, slot: float, voice: str = "en-us") -> list[Phone]:
    """The word's phones from ``start`` over at most ``slot`` seconds (the time until the
    next word): espeak-ng's relative durations, stretched at most ``STRETCH`` times, the
    rest of the slot left silent (a pause after the word)."""
    phones, length = word_phones(word.strip(), voice)
    if not phones or slot <= 0:
        return []
    scale = min(slot, length * STRETCH) / length
    return [Phone(p.phone, start + p.start * scale, start + p.end * scale) for p in phones]


@dataclass
class _Word:
    text: str
    start: float  # media time


class FacewireAvatar(FrameProcessor):
    """Forwards the agent's TTS audio and word timings into a facewire graph.

    ``registry``: the graph's registry address (default: ``FACEWIRE_BUS``); ``namespace``:
    the character's namespace in the graph; ``pace``: push audio at playback speed (turn off
    only when the frames already arrive in real time); ``pad_s``: silence sent after each
    response so the face comes to rest; ``voice``: espeak-ng voice spelling words to phones.
    """

    def __init__(self, *, registry: str | None = None, namespace: str = "/",
                 audio_topic: str = "tts_audio", phones_topic: str = "phones",
                 pace: bool = True, pad_s: float = 0.3, voice: str = "en-us",
                 connect_timeout_s: float = 10.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._registry, self._namespace = registry, namespace
        self._topics = (audio_topic, phones_topic)
        self._pace, self._pad_s, self._voice = pace, pad_s, voice
        self._connect_timeout_s = connect_timeout_s
        self._bus = None
        self._queue: asyncio.Queue[tuple[np.ndarray, int, float] | None] | None = None
        self._player: asyncio.Task | None = None
        self._media = 0.0  # seconds of audio forwarded: the graph's media clock
        self._rate = 16000
        self._utterance: tuple[float, int] | None = None  # (media time, pipeline clock ns)
        self._word: _Word | None = None
        self._last_phone_end = 0.0  # end of the last phone queued
        self._sent_phone_end = 0.0  # end of the last phone published
        self._phones: list[Phone] = []  # queued, published just ahead of their audio
        self.words_forwarded = 0
        self.phones_forwarded = 0

    # -- frames -----------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self._open()
        elif isinstance(frame, TTSStartedFrame):
            self._utterance = None  # the next audio starts a response
        elif isinstance(frame, TTSAudioRawFrame):
            self._audio(frame)
        elif isinstance(frame, TTSTextFrame) and frame.pts is not None:
            self._text(frame)
        elif isinstance(frame, TTSStoppedFrame):
            self._end_response()
        elif isinstance(frame, InterruptionFrame):
            self._interrupt()
        elif isinstance(frame, EndFrame):
            await self._close(drain=True)
        elif isinstance(frame, CancelFrame):
            await self._close(drain=False)
        await self.push_frame(frame, direction)

    async def _open(self) -> None:
        from facewire.bus.transport import Bus

        self._bus = Bus("pipecat-avatar", registry=self._registry, namespace=self._namespace)
        self._audio_pub = self._bus.publisher(self._topics[0], AudioChunk)
        self._phone_pub = self._bus.publisher(self._topics[1], PhoneEvent)
        # the graph's audio and phone_fusion nodes must listen before anything is sent
        deadline = time.monotonic() + self._connect_timeout_s
        pubs = (self._audio_pub, self._phone_pub)
        while any(p.subscriber_count < 1 for p in pubs) and time.monotonic() < deadline:
            self._bus.process_events()
            await asyncio.sleep(0.02)
        for p in pubs:
            if p.subscriber_count < 1:
                logger.warning(f"FacewireAvatar: nothing listens on {p.topic} (start the graph: "
                               "facewire launch agent); sending anyway")
        self._queue = asyncio.Queue()
        self._player = asyncio.create_task(self._play())

    def _audio(self, frame: TTSAudioRawFrame) -> None:
        if self._queue is None:
            return
        samples = np.frombuffer(frame.audio, np.int16).astype(np.float32) / 32768.0
        samples = samples.reshape(-1, max(1, frame.num_channels))
        if self._utterance is None:
            self._utterance = (self._media, self.get_clock().get_time())
        self._rate = frame.sample_rate
        self._enqueue(samples, frame.sample_rate)

    def _enqueue(self, samples: np.ndarray, rate: int) -> None:
        self._queue.put_nowait((samples, rate, self._media))
        self._media += len(samples) / rate

    def _text(self, frame: TTSTextFrame) -> None:
        """A word with its presentation time: the previous word's slot is now known."""
        if self._utterance is None:  # words before any audio: time them from now
            self._utterance = (self._media, self.get_clock().get_time())
        media0, clock0 = self._utterance
        start = max(media0 + (frame.pts - clock0) / 1e9, self._last_phone_end)
        if self._word is not None:
            self._emit_word(start)
        self._word = _Word(frame.text, start)
        self.words_forwarded += 1

    def _emit_word(self, slot_end: float) -> None:
        word, self._word = self._word, None
        phones = fit_word(word.text, word.start, slot_end - word.start, self._voice)
        for p in phones:
            self._publish_phone(p.phone, p.start, p.end)

    def _publish_phone(self, phone: str, start: float, end: float) -> None:
        """Queue a phone; the player publishes it ``PHONES_AHEAD_S`` before it is heard (so
        an interruption can still take it back)."""
        start = max(start, self._last_phone_end)
        if end <= start:
            return
        self._phones.append(Phone(phone, start, end))
        self._last_phone_end = end

    def _release_phones(self, until: float) -> None:
        while self._phones and self._phones[0].start < until:
            p = self._phones.pop(0)
            self._phone_pub.publish(PhoneEvent(phone=p.phone, start=p.start, end=p.end)
                                    .with_header(media_time=p.start))
            self._sent_phone_end = p.end
            self.phones_forwarded += 1

    def _end_response(self) -> None:
        """Close the response: the last word's slot, rest-pose silence, a closing SIL."""
        if self._queue is None:
            return
        if self._word is not None:
            self._emit_word(self._media)
        if self._pad_s > 0:
            self._enqueue(np.zeros((int(self._pad_s * self._rate), 1), np.float32), self._rate)
        if self._last_phone_end > 0:
            self._publish_phone(SIL, self._last_phone_end, self._media)
        self._utterance = None

    def _interrupt(self) -> None:
        """The user barged in: drop the audio not yet played and the phones with it. Phones
        already published (at most ``PHONES_AHEAD_S``) keep their audio, as silence."""
        if self._queue is None:
            return
        dropped: list[tuple[np.ndarray, int, float]] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                dropped.append(item)
        self._word, self._phones, self._utterance = None, [], None
        if dropped:
            self._media = dropped[0][2]  # the graph never heard the rest
            self._last_phone_end = self._sent_phone_end
            rest = self._sent_phone_end - self._media
            if rest > 0:
                self._enqueue(np.zeros((int(np.ceil(rest * self._rate)), 1), np.float32),
                              self._rate)

    # -- playback pacing ----------------------------------------------------------------------
    async def _play(self) -> None:
        anchor: tuple[float, float, int] | None = None  # (media, monotonic, wall ns)
        while True:
            item = await self._queue.get()
            if item is None:
                return
            samples, rate, t = item
            if anchor is None or (self._pace and time.monotonic() > anchor[1] + (t - anchor[0]) + 0.1):
                anchor = (t, time.monotonic(), time.time_ns())  # (re)start after a gap
            self._release_phones(t + len(samples) / rate + PHONES_AHEAD_S)
            if self._pace:
                delay = anchor[1] + (t - anchor[0]) - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                capture_ns = anchor[2] + int((t - anchor[0]) * 1e9)
            else:
                capture_ns = time.time_ns()
            self._audio_pub.publish(AudioChunk(samples=samples, sample_rate=rate)
                                    .with_header(media_time=t, capture_ns=capture_ns))

    async def _close(self, drain: bool) -> None:
        if self._player is not None:
            if drain:
                self._queue.put_nowait(None)
                await self._player
                self._release_phones(np.inf)
            else:
                self._player.cancel()
            self._player = None
        if self._bus is not None:
            self._bus.close()
            self._bus = None
