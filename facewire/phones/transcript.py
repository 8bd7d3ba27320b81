"""Transcripts beside audio files, and their normalisation to dictionary words.

Scripted dialogue comes with its text in the conventions of the Montreal Forced Aligner:
``STEM.txt`` or ``STEM.lab`` beside ``STEM.wav``, or a Praat ``STEM.TextGrid`` with a phones
(or words) tier. Text as people write it ("Dr. Who's 2nd take: 42%!") is brought to the
lower-case words a pronunciation dictionary holds ("doctor who's second take forty two
percent") with ``num2words``, so numbers, punctuation and case never fail an alignment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from facewire.phones.arpabet import SIL, Phone, arpabet_phones, ipa_to_arpabet

TEXT_SUFFIXES = (".txt", ".lab")
TEXTGRID_SUFFIX = ".TextGrid"
PHONE_TIERS = ("phones", "phone", "phonemes", "phoneme", "segments")
WORD_TIERS = ("words", "word", "text", "transcript", "transcription", "orthography")

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor",
                  "vs": "versus", "etc": "etcetera"}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "=": " equals ", "@": " at ",
            "°": " degrees "}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_TOKEN = re.compile(r"[$£€]?\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)*\.?|[%&+=@°]")


class TranscriptError(ValueError):
    """A transcript file that cannot be read (the message names file and fix)."""


def _number_words(token: str) -> str:
    from num2words import num2words

    currency = ""
    if token[0] in _CURRENCY:
        currency, token = _CURRENCY[token[0]], token[1:]
    token = token.replace(",", "")
    m = _ORDINAL.match(token)
    if m:
        return num2words(int(m[1]), to="ordinal")
    if not _NUMBER.match(token):
        return token
    if "." in token and currency:  # "$3.50": three dollars fifty
        whole, frac = token.split(".")
        return f"{num2words(int(whole))} {currency} {num2words(int(frac))}"
    if "." in token:
        whole, frac = token.split(".")
        words = f"{num2words(int(whole))} point {' '.join(num2words(int(d)) for d in frac)}"
    else:
        n = int(token)
        # four-digit numbers without separators read as years ("1984"), like people say them
        words = (num2words(n, to="year") if 1100 <= n <= 2099 and len(token) == 4 and
                 not currency else num2words(n))
    return f"{words} {currency}".strip()


def normalize_transcript(text: str) -> list[str]:
    """Written text -> lower-case dictionary words: numbers spelt out, punctuation dropped,
    abbreviations expanded, apostrophes inside words kept (``don't``)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[\[<{(][^\]>})]*[\]>})]", " ", text)  # [noise], <laugh>, {breath}
    for sym, word in _SYMBOLS.items():
        if sym != "%":
            text = text.replace(f" {sym} ", word)
    words: list[str] = []
    for tok in _TOKEN.findall(text.replace("-", " ")):
        if tok in _SYMBOLS:
            words += _SYMBOLS[tok].split()
        elif tok[0].isdigit() or tok[0] in _CURRENCY:
            words += re.sub(r"[^a-z' ]", " ", _number_words(tok)).split()
        else:
            bare = tok.rstrip(".")
            words.append(_ABBREVIATIONS.get(bare, bare) if tok.endswith(".") else bare)
    return [w.strip("'") for w in words if w.strip("'")]


@dataclass(frozen=True)
class TextGridContent:
    """What a TextGrid gives: timed phones (a phones tier) or the words (a words tier)."""

    path: Path
    phones: list[Phone] | None
    words: str


def _tier(tg, names: tuple[str, ...]):
    by_name = {n.lower(): n for n in tg.tierNames}
    for name in names:
        if name in by_name:
            return tg.getTier(by_name[name])
    return None


def _phone_symbols(label: str) -> tuple[str, ...]:
    """A TextGrid phone label in ARPAbet (MFA's english_us_arpa) or IPA (english_mfa)."""
    label = label.strip()
    try:
        return arpabet_phones(label)
    except KeyError:
        return ipa_to_arpabet(label)


def read_textgrid(path: str | Path) -> TextGridContent:
    """Read a Praat TextGrid (with ``praatio``): its phones tier, else its words tier."""
    p = Path(path)
    try:
        from praatio import textgrid
    except ImportError:
        raise TranscriptError(f"{p}: reading TextGrids needs praatio; pip install "
                              "'facewire[words]'") from None
    try:
        tg = textgrid.openTextgrid(str(p), includeEmptyIntervals=False)
    except Exception as exc:  # praatio raises several types for a malformed file
        raise TranscriptError(f"{p}: not a readable Praat TextGrid ({exc}); fix or remove "
                              "it") from None
    phones_tier = _tier(tg, PHONE_TIERS)
    words_tier = _tier(tg, WORD_TIERS)
    words = " ".join(e.label for e in words_tier.entries) if words_tier is not None else ""
    if phones_tier is not None:
        out = []
        for e in phones_tier.entries:
            try:
                syms = _phone_symbols(e.label)
            except KeyError:
                raise TranscriptError(f"{p}: phone {e.label!r} at {e.start:.3f} s is neither "
                                      "ARPAbet nor IPA; fix the label") from None
            step = (e.end - e.start) / len(syms)
            out += [Phone(s, e.start + i * step, e.start + (i + 1) * step)
                    for i, s in enumerate(syms) if s != SIL]
        if out:
            return TextGridContent(p, out, words)
    if not words.strip():
        raise TranscriptError(f"{p}: no phones or words tier with labels (tiers: "
                              f"{', '.join(tg.tierNames) or 'none'}); name one 'phones' or "
                              "'words'")
    return TextGridContent(p, None, words)


def find_sidecar(audio: str | Path) -> Path | None:
    """The transcript beside an audio file: ``STEM.TextGrid`` (timed phones win), then
    ``STEM.lab``, then ``STEM.txt``; None when there is none."""
    a = Path(audio)
    for suffix in (TEXTGRID_SUFFIX, ".lab", ".txt"):
        for cand in (a.with_suffix(suffix), a.with_suffix(suffix.lower())):
            if cand.is_file():
                return cand
    return None


def read_text_file(path: str | Path) -> str:
    """A .txt/.lab transcript's text (UTF-8, BOM tolerated)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TranscriptError(f"{p}: transcript is not UTF-8 text; save it as UTF-8") from None
