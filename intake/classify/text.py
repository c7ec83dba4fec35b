"""Text preparation shared by the classifier's finders: spacing repair and clause bounds."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

# OCR of box notes and letters often puts a space between every character ("西 坡 村");
# matching runs on a copy without such spaces, and positions are mapped back.
_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])[ \t\u3000]+"
                      r"(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef0-9])")
_SENTENCE_END = re.compile(r"[。！？!?\n]+")
_CLAUSE_PUNCT = "，,；;：:。！？!?\n、"
_CLAUSE_END = re.compile(f"[{_CLAUSE_PUNCT}]+")


@dataclass(frozen=True)
class Prepared:
    """The text as matched (`norm`), with maps back to offsets in the original text."""

    original: str
    norm: str
    offsets: tuple[int, ...] | None  # None when norm == original
    sentence_starts: tuple[int, ...]
    clause_starts: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of norm[start:end]."""
        if self.offsets is None:
            return start, end
        if end <= start:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1

    def sentence_bounds(self, pos: int) -> tuple[int, int]:
        """Start and end (in norm) of the sentence holding position `pos`."""
        i = bisect_right(self.sentence_starts, pos) - 1
        start = self.sentence_starts[i]
        end = self.sentence_starts[i + 1] if i + 1 < len(self.sentence_starts) else len(self.norm)
        return start, end

    def sentence_index(self, pos: int) -> int:
        return bisect_right(self.sentence_starts, pos) - 1

    def clause_spans(self) -> list[tuple[int, int]]:
        """Each clause as (start, end) in norm, its closing punctuation and spaces left out;
        the whole text when it has no clause."""
        bounds = [*self.clause_starts, len(self.norm)]
        spans = []
        for start, end in pairwise(bounds):
            stop = len(self.norm[start:end].rstrip(_CLAUSE_PUNCT + " "))
            if stop:
                spans.append((start, start + stop))
        return spans or [(0, len(self.norm))]

    def clause_start(self, pos: int) -> int:
        """Start (in norm) of the clause holding position `pos`."""
        return self.clause_starts[bisect_right(self.clause_starts, pos) - 1]


def prepare(text: str) -> Prepared:
    """Remove OCR spacing between CJK characters and index sentences and clauses."""
    offsets: tuple[int, ...] | None = None
    norm = text
    if _CJK_GAP.search(text):
        pieces: list[str] = []
        index: list[int] = []
        last = 0
        for m in _CJK_GAP.finditer(text):
            pieces.append(text[last:m.start()])
            index.extend(range(last, m.start()))
            last = m.end()
        pieces.append(text[last:])
        index.extend(range(last, len(text)))
        norm = "".join(pieces)
        offsets = tuple(index)
    return Prepared(
        original=text,
        norm=norm,
        offsets=offsets,
        sentence_starts=(0, *(m.end() for m in _SENTENCE_END.finditer(norm))),
        clause_starts=(0, *(m.end() for m in _CLAUSE_END.finditer(norm))),
    )
