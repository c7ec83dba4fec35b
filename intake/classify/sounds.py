"""Names as they sound: homophones and dialect near-misses of roster names (pinyin).

A caller says "李剑国" for 李建国, a box note writes "黄春升" for 黄春生, a dialect speaker
cannot tell zh from z or in from ing. Each character is reduced to its toneless syllables with
those distinctions folded, and a roster name becomes a regular expression of character classes
that sound alike. The pinyin table comes from the installed `pypinyin` package.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from pypinyin.pinyin_dict import pinyin_dict

# Folded distinctions: retroflex/dental initials, n/l, and front/back nasal finals.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


def fold(syllable: str) -> str:
    """A toneless syllable with the commonly confused sounds folded together."""
    plain = "".join(c for c in unicodedata.normalize("NFD", syllable)
                    if not unicodedata.combining(c)).lower()
    for a, b in _INITIALS:
        if plain.startswith(a):
            plain = b + plain[len(a):]
            break
    for a, b in _FINALS:
        if plain.endswith(a):
            plain = plain[: -len(a)] + b
            break
    return plain


@cache
def _table() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Character → folded syllables, and folded syllable → characters (common CJK only)."""
    sounds: dict[str, frozenset[str]] = {}
    chars: dict[str, set[str]] = {}
    for code, readings in pinyin_dict.items():
        if not 0x4E00 <= code <= 0x9FFF:
            continue
        ch = chr(code)
        keys = frozenset(fold(r) for r in readings.split(","))
        sounds[ch] = keys
        for k in keys:
            chars.setdefault(k, set()).add(ch)
    return sounds, {k: frozenset(v) for k, v in chars.items()}


def alike(ch: str) -> frozenset[str]:
    """Characters that may sound like `ch` (itself included)."""
    sounds, chars = _table()
    out = {ch}
    for k in sounds.get(ch, ()):
        out |= chars[k]
    return frozenset(out)


def char_class(chars: frozenset[str] | set[str]) -> str:
    """A regular-expression character class of `chars`, in a stable order."""
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"
