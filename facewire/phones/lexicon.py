"""Pronunciations for words the aligner's dictionary lacks, from espeak-ng.

CMUdict (inside pocketsphinx) misses names, brands and coinages, exactly the words game
dialogue is full of. espeak-ng's letter-to-sound rules pronounce any word; its IPA goes
through the project's IPA->ARPAbet map (``facewire.phones.arpabet.ipa_to_arpabet``) and the
word is added to the aligner for the rest of the session.
"""

from __future__ import annotations

import shutil
import subprocess

from facewire.phones.arpabet import SIL, ipa_to_arpabet

ESPEAK_VOICE = "en-us"


class PronunciationError(RuntimeError):
    """No pronunciation could be made for a word (espeak-ng missing or no phones)."""


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_pronunciations(words: list[str], voice: str = ESPEAK_VOICE
                          ) -> dict[str, tuple[str, ...]]:
    """ARPAbet phones for each word, from espeak-ng's IPA (one process for all words)."""
    if not words:
        return {}
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise PronunciationError(f"espeak-ng is not installed, so the out-of-dictionary words "
                                 f"{words} have no pronunciation; install espeak-ng "
                                 "(apt-get install espeak-ng) or respell them")
    # one word per line: espeak-ng answers one IPA line per clause-ending newline
    text = "\n".join(f"{w}." for w in words) + "\n"
    try:
        res = subprocess.run([exe, "-q", "--ipa", "-v", voice], input=text, text=True,
                             capture_output=True, timeout=30, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        raise PronunciationError(f"espeak-ng failed on {words}: {exc}") from None
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) != len(words):
        # the one-line-per-word reading did not hold: ask word by word
        return {w: _one(exe, w, voice) for w in words}
    return {w: _to_arpabet(w, ipa) for w, ipa in zip(words, lines)}


def _one(exe: str, word: str, voice: str) -> tuple[str, ...]:
    res = subprocess.run([exe, "-q", "--ipa", "-v", voice, word], text=True,
                         capture_output=True, timeout=30)
    return _to_arpabet(word, res.stdout)


def _to_arpabet(word: str, ipa: str) -> tuple[str, ...]:
    phones: list[str] = []
    for part in ipa.split():
        try:
            phones += [p for p in ipa_to_arpabet(part) if p != SIL]
        except KeyError as exc:
            raise PronunciationError(f"espeak-ng's IPA {ipa.strip()!r} for {word!r} has a "
                                     f"symbol the IPA map lacks ({exc})") from None
    if not phones:
        raise PronunciationError(f"espeak-ng gave no phones for {word!r}")
    return tuple(phones)
