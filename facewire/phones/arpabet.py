"""ARPAbet phones, their visual classes, and conversion from synthesiser phone symbols.

Every phone source (espeak-ng IPA events, flite and festival segment names, CMUdict and
pocketsphinx alignments) is brought to one vocabulary here: the 39 stress-less ARPAbet
phones of CMUdict plus ``SIL``. The teacher, the metrics and the corpus speak only this set,
so a phone class such as "bilabial" means the same thing for every engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIL = "SIL"

# CMUdict's 39 phones (stress digits stripped) and silence.
ARPABET: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G",
    "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T",
    "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH", SIL,
)
ARPABET_SET = frozenset(ARPABET)
PHONE_INDEX: dict[str, int] = {p: i for i, p in enumerate(ARPABET)}  # class ids of the read-out

VOWELS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)

# Visual phone classes: the groups whose lip and jaw shapes differ visibly.
PHONE_CLASSES: dict[str, frozenset[str]] = {
    "silence": frozenset({SIL}),
    "bilabial": frozenset({"P", "B", "M"}),
    "labiodental": frozenset({"F", "V"}),
    "dental": frozenset({"TH", "DH"}),
    "alveolar": frozenset({"T", "D", "N", "L", "S", "Z"}),
    "postalveolar": frozenset({"SH", "ZH", "CH", "JH"}),
    "velar": frozenset({"K", "G", "NG"}),
    "glottal": frozenset({"HH"}),
    "rhotic": frozenset({"R", "ER"}),
    "rounded_glide": frozenset({"W"}),
    "palatal_glide": frozenset({"Y"}),
    "rounded_vowel": frozenset({"UW", "UH", "OW", "AO", "OY"}),
    "spread_vowel": frozenset({"IY", "IH", "EY", "EH"}),
    "open_vowel": frozenset({"AA", "AE", "AH", "AW", "AY"}),
}

# Groups the evaluation uses: closure, aperture contrast, rounding contrast.
BILABIALS = PHONE_CLASSES["bilabial"]
# consonants made with the lips apart: closing on them is a false closure
LIPS_APART = (PHONE_CLASSES["alveolar"] | PHONE_CLASSES["velar"] | PHONE_CLASSES["dental"]
              | PHONE_CLASSES["postalveolar"])
OPEN_VOWELS = frozenset({"AA", "AE", "AO", "AW", "AY"})
CLOSE_VOWELS = frozenset({"IY", "IH", "UW", "UH"})
ROUNDED = frozenset({"UW", "OW", "W"})
SPREAD = frozenset({"IY"})


def phone_class(phone: str) -> str:
    """The visual class of an ARPAbet phone (``"bilabial"``, ``"open_vowel"``, ...)."""
    p = normalize_arpabet(phone)
    for name, members in PHONE_CLASSES.items():
        if p in members:
            return name
    raise KeyError(f"no class for phone {phone!r}")


_STRESS = re.compile(r"[0-9]+$")

# Extra ARPAbet-like symbols used by festival's radio phone set, flite, TIMIT and sphinx.
_ARPABET_ALIASES: dict[str, tuple[str, ...]] = {
    "AX": ("AH",), "AXR": ("ER",), "IX": ("IH",), "UX": ("UW",), "DX": ("D",), "NX": ("N",),
    "EL": ("L",), "EM": ("M",), "EN": ("N",), "ENG": ("NG",), "HV": ("HH",), "Q": ("T",),
    "PAU": (SIL,), "H#": (SIL,), "SIL": (SIL,), "SP": (SIL,), "SPN": (SIL,), "NSN": (SIL,),
    "#": (SIL,), "_": (SIL,), "BRTH": (SIL,), "+BREATH+": (SIL,), "+NOISE+": (SIL,),
    "<SIL>": (SIL,), "<S>": (SIL,), "</S>": (SIL,), "": (SIL,),
}


def normalize_arpabet(symbol: str) -> str:
    """One ARPAbet symbol in any case, with or without stress digit -> the canonical phone.

    Raises ``KeyError`` for symbols that are not ARPAbet; aliases that expand to more than
    one phone need :func:`arpabet_phones`.
    """
    phones = arpabet_phones(symbol)
    if len(phones) != 1:
        raise KeyError(f"{symbol!r} is not a single ARPAbet phone")
    return phones[0]


def arpabet_phones(symbol: str) -> tuple[str, ...]:
    """An ARPAbet-like symbol (festival, flite, sphinx spellings) -> canonical phones."""
    s = _STRESS.sub("", symbol.strip().upper())
    if s in ARPABET_SET:
        return (s,)
    if s in _ARPABET_ALIASES:
        return _ARPABET_ALIASES[s]
    raise KeyError(f"unknown ARPAbet symbol {symbol!r}")


# IPA (as espeak-ng reports with its IPA phoneme events) -> ARPAbet. Longest match first.
_IPA: dict[str, tuple[str, ...]] = {
    # diphthongs and r-coloured vowels first
    "eɪ": ("EY",), "aɪ": ("AY",), "ɑɪ": ("AY",), "ɔɪ": ("OY",), "oɪ": ("OY",), "aʊ": ("AW",),
    "oʊ": ("OW",), "əʊ": ("OW",), "ɔʊ": ("OW",), "ɪə": ("IH", "AH"), "iə": ("IY", "AH"),
    "eə": ("EH", "AH"), "ɛə": ("EH", "AH"), "ʊə": ("UH", "AH"), "aɪə": ("AY", "AH"),
    "aʊə": ("AW", "AH"), "ɚ": ("ER",), "ɝ": ("ER",), "ɜ": ("ER",), "ɐ": ("AH",),
    "tʃ": ("CH",), "dʒ": ("JH",), "ʧ": ("CH",), "ʤ": ("JH",),
    # vowels
    "i": ("IY",), "ɪ": ("IH",), "ᵻ": ("IH",), "ɨ": ("IH",), "e": ("EY",), "ɛ": ("EH",),
    "æ": ("AE",), "a": ("AE",), "ɑ": ("AA",), "ɒ": ("AO",), "ɔ": ("AO",), "o": ("OW",),
    "ʊ": ("UH",), "u": ("UW",), "ʉ": ("UW",), "ʌ": ("AH",), "ə": ("AH",), "ɵ": ("OW",),
    "y": ("UW",), "ø": ("OW",), "œ": ("EH",),
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",),
    "ɡ": ("G",), "m": ("M",), "n": ("N",), "ŋ": ("NG",), "f": ("F",), "v": ("V",),
    "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",), "ʃ": ("SH",), "ʒ": ("ZH",),
    "h": ("HH",), "x": ("HH",), "ç": ("HH",), "l": ("L",), "ɫ": ("L",), "ɬ": ("L",),
    "r": ("R",), "ɹ": ("R",), "ɾ": ("D",), "ʁ": ("R",), "ɻ": ("R",), "w": ("W",),
    "ʍ": ("W",), "j": ("Y",), "ʔ": ("T",), "ɲ": ("N",), "β": ("B",), "ʋ": ("V",),
}
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
# stress, length, syllabicity, tie bars, and other marks that carry no mouth shape
_IPA_IGNORE = set(":ˈˌːˑ̩̯͡‿.-_ʰʲʷ̃ ̪̥̬˞'")


def ipa_to_arpabet(ipa: str) -> tuple[str, ...]:
    """An IPA phone string (e.g. espeak-ng's ``"ɑːɹ"``) -> ARPAbet phones (``("AA", "R")``).

    Empty strings are silence. Unknown characters raise ``KeyError`` so that a new
    synthesiser symbol is noticed, not silently dropped.
    """
    s = "".join(ch for ch in ipa if ch not in _IPA_IGNORE)
    if not s:
        return (SIL,)
    out: list[str] = []
    i = 0
    while i < len(s):
        for key in _IPA_KEYS:
            if s.startswith(key, i):
                out.extend(_IPA[key])
                i += len(key)
                break
        else:
            raise KeyError(f"unknown IPA symbol {s[i]!r} in {ipa!r}")
    return tuple(out)


@dataclass(frozen=True)
class Phone:
    """One timed phone: ARPAbet symbol and its interval in seconds on the audio clock."""

    phone: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_list(self) -> list:
        return [self.phone, round(self.start, 4), round(self.end, 4)]


def split_phones(symbols: tuple[str, ...], start: float, end: float) -> list[Phone]:
    """Share an interval evenly among the phones one synthesiser symbol expanded to."""
    n = len(symbols)
    step = (end - start) / n
    return [Phone(p, start + i * step, start + (i + 1) * step) for i, p in enumerate(symbols)]


def merge_silences(phones: list[Phone]) -> list[Phone]:
    """Join adjacent SIL segments and drop zero-length ones: engines emit both."""
    out: list[Phone] = []
    for p in phones:
        if p.end <= p.start:
            continue
        if out and p.phone == SIL and out[-1].phone == SIL:
            out[-1] = Phone(SIL, out[-1].start, p.end)
        else:
            out.append(p)
    return out
