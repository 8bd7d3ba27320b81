"""espeak-ng through its C library: speech audio with the phone and word timings it spoke.

A TTS engine knows every phone before it is heard; espeak-ng reports them as phoneme events
(IPA, with the sample at which each starts) and word events, so nothing is guessed. The
command-line tool prints phonemes but no times, and ``--pho`` needs mbrola voices, hence
ctypes. Used by the corpus builder (``facewire.train.data.synth``), the ``tts`` node,
``facewire say`` and the pipecat integration, so it lives here and imports no torch.

The library keeps process-global state: use one :class:`EspeakLib` per process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass, field

import numpy as np

from facewire.phones.arpabet import SIL, Phone, ipa_to_arpabet, merge_silences, split_phones

EVENT_WORD = 1
EVENT_PHONEME = 7
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_SetParameter ids
PARAMS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}


class EspeakUnavailable(RuntimeError):
    """espeak-ng's library is missing; the text says how to install it."""


class _EspeakEvent(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                    ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_ESPEAK_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                              ctypes.POINTER(_EspeakEvent))


@dataclass
class Utterance:
    """What espeak-ng said: float32 audio in [-1, 1] at ``sample_rate``, the ARPAbet phones
    (SIL included) and the words with their start times, all in seconds from the first sample."""

    audio: np.ndarray
    sample_rate: int
    phones: list[Phone]
    words: list[tuple[str, float]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


class EspeakLib:
    """One handle on libespeak-ng (synchronous mode, IPA phoneme events)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError:
            raise EspeakUnavailable(
                "espeak-ng's library is not installed (Debian/Ubuntu: apt-get install "
                "espeak-ng; macOS: brew install espeak-ng)") from None
        self.sr = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                             _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if self.sr <= 0:
            raise EspeakUnavailable("espeak-ng failed to initialise (is espeak-ng-data installed?)")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str, int, int, int]] = []
        self._cb = _ESPEAK_CB(self._callback)
        self.lib.espeak_SetSynthCallback(self._cb)
        self._lock = threading.Lock()

    def _callback(self, wav, n, events) -> int:  # noqa: ANN001 - ctypes signature
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == EVENT_PHONEME:
                self._events.append((EVENT_PHONEME, e.id.string.decode("utf-8", "replace"),
                                     e.sample, 0, 0))
            elif e.type == EVENT_WORD:
                self._events.append((EVENT_WORD, "", e.sample, e.text_position, e.length))
            i += 1
        return 0

    def has_voice(self, voice: str) -> bool:
        return self.lib.espeak_SetVoiceByName(voice.encode()) == 0

    def synth(self, text: str, voice: str = "en-us", settings: dict | None = None) -> Utterance:
        """Speak ``text``; ``settings`` may set rate (words/min), pitch, range, volume."""
        with self._lock:
            if not self.has_voice(voice):
                raise ValueError(f"espeak-ng has no voice {voice!r} (espeak-ng --voices lists them)")
            for key, value in (settings or {}).items():
                if key not in PARAMS:
                    raise ValueError(f"unknown espeak-ng setting {key!r} (known: {sorted(PARAMS)})")
                self.lib.espeak_SetParameter(PARAMS[key], int(value), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
            self.lib.espeak_Synchronize()
            chunks, events = self._chunks, self._events
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        total = len(audio) / self.sr
        phone_ev = [(sym, sample) for kind, sym, sample, _, _ in events if kind == EVENT_PHONEME]
        phones: list[Phone] = []
        for k, (sym, sample) in enumerate(phone_ev):
            start = sample / self.sr
            end = phone_ev[k + 1][1] / self.sr if k + 1 < len(phone_ev) else total
            if end > start:
                phones.extend(split_phones(ipa_to_arpabet(sym), start, end))
        if phones and phones[0].start > 0:
            phones.insert(0, Phone(SIL, 0.0, phones[0].start))
        words = []
        for kind, _, sample, pos, length in events:
            if kind == EVENT_WORD:  # text_position counts characters from 1
                word = text[pos - 1:pos - 1 + length] if pos > 0 else ""
                words.append((word, sample / self.sr))
        return Utterance(audio.astype(np.float32) / 32768.0, self.sr, merge_silences(phones), words)


_SHARED: EspeakLib | None = None
_SHARED_LOCK = threading.Lock()


def shared_espeak() -> EspeakLib:
    """The process's one espeak-ng handle (the library's state is global)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = EspeakLib()
        return _SHARED
