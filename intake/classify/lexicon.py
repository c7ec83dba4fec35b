"""Discipline evidence: lexicon matches with negation and hearsay marking, and the
accusation detector (is wrongdoing alleged at all, whatever the discipline)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.classify import DISCIPLINES, Evidence
from intake.classify.text import Prepared
from intake.rules import RuleSet


@dataclass(frozen=True)
class Hit:
    """One lexicon match, positions in the prepared (normalised) text."""

    label: str
    status: str
    start: int
    end: int


class EvidenceFinder:
    """Finds conduct phrases of the six disciplines; built once from a RuleSet."""

    def __init__(self, rules: RuleSet) -> None:
        self._patterns = tuple(
            (code, re.compile("|".join(f"(?:{p})" for p in rules.disciplines[code].patterns)))
            for code in DISCIPLINES
            if code in rules.disciplines
        )
        self._together = tuple(
            (code, re.compile(a), re.compile(b))
            for code in DISCIPLINES if code in rules.disciplines
            for a, b in rules.disciplines[code].together)
        self._distance = rules.together_distance
        self._accusation = _alternation(rules.accusation_patterns)
        self._frames = _alternation(rules.complaint_frames)
        self._not_accusing = _alternation(rules.not_accusing)
        # Longest cue first so "并没有" wins over "没".
        neg = sorted(rules.negation_cues, key=len, reverse=True)
        self._negation = re.compile("(?:" + "|".join(map(re.escape, neg)) + ")")
        hedge = sorted(rules.hedge_cues, key=len, reverse=True)
        self._hedge = re.compile("(?:" + "|".join(map(re.escape, hedge)) + ")")
        self._window = rules.negation_window
        self._not_hedge = rules.not_hedge_phrases
        # In a whole clause only a cue of two or more characters negates: "未经审批", "没收"
        # and "不正当" hold 未/没/不 without denying anything.
        words = sorted((c for c in rules.negation_cues if len(c) >= 2), key=len, reverse=True)
        self._clause_negation = re.compile("|".join(map(re.escape, words))) if words else None
        rhetorical = "|".join(map(re.escape, rules.rhetorical_cues))
        self._rhetorical = re.compile(f"(?:{rhetorical})") if rhetorical else None

    def find(self, prep: Prepared) -> list[Hit]:
        """Every lexicon match, overlapping matches of one label merged, in text order."""
        text = prep.norm
        hits: list[Hit] = []
        for code, pattern in self._patterns:
            last_end = -1
            for m in pattern.finditer(text):
                if m.end() <= m.start():
                    continue
                if m.start() < last_end:  # same label overlapping: keep the first
                    continue
                last_end = m.end()
                hits.append(Hit(code, self._status(prep, m.start(), m.end()), m.start(), m.end()))
        hits += self._pairs(prep, hits)
        hits.sort(key=lambda h: (h.start, h.label))
        return hits

    def _pairs(self, prep: Prepared, found: list[Hit]) -> list[Hit]:
        """Hits of `together` pairs: both word classes close together in one sentence,
        where no phrase of the same label already matched."""
        text = prep.norm
        out: list[Hit] = []
        for code, first, second in self._together:
            for a in first.finditer(text):
                s_start, s_end = prep.sentence_bounds(a.start())
                lo = max(s_start, a.start() - self._distance)
                hi = min(s_end, a.end() + self._distance)
                b = next((m for m in second.finditer(text, lo, hi)
                          if m.end() <= a.start() or m.start() >= a.end()), None)
                if b is None:
                    continue
                start, end = min(a.start(), b.start()), max(a.end(), b.end())
                if any(h.label == code and h.start < end and start < h.end
                       for h in (*found, *out)):
                    continue
                # Denied before either half, or between them ("低保也没给亲戚").
                gap_lo, gap_hi = min(a.end(), b.end()), max(a.start(), b.start())
                negated = bool(gap_hi > gap_lo and self._negation.search(text, gap_lo, gap_hi)
                               ) or any(self._status(prep, m.start(), m.end()) == "negated"
                                        for m in (a, b))
                status = "negated" if negated else self._status(prep, start, end)
                out.append(Hit(code, status, start, end))
        return out

    def accusations(self, prep: Prepared) -> list[Hit]:
        """Wrongdoing alleged in general terms ("吞了", "给亲戚", label `accusation`) and
        complaint frames ("举报…", "要求查处", label `frame`), negation and hearsay marked."""
        hits = []
        for label, pattern in (("accusation", self._accusation), ("frame", self._frames)):
            if pattern is None:
                continue
            for m in pattern.finditer(prep.norm):
                if m.end() > m.start():
                    hits.append(Hit(label, self._status(prep, m.start(), m.end()),
                                    m.start(), m.end()))
        return hits

    def not_accusing(self, prep: Prepared) -> bool:
        """True when the text praises, asks or requests rather than accuses."""
        return bool(self._not_accusing and self._not_accusing.search(prep.norm))

    def clause_status(self, prep: Prepared, start: int, end: int) -> str:
        """Asserted, hedged or negated, for a whole clause: a negation word anywhere in it
        ("从来没有别的女人") negates it; hearsay in its sentence hedges it."""
        text = prep.norm
        negation = self._clause_negation
        if negation and negation.search(text, start, end) and not (
            self._rhetorical and self._rhetorical.search(text, start, end)
        ):
            return "negated"
        return "hedged" if self._hedged(prep, start) else "asserted"

    def _status(self, prep: Prepared, start: int, end: int) -> str:
        text = prep.norm
        # Negation: a cue right before the phrase, inside its clause ("并未收受", "没有拉票").
        lo = max(prep.clause_start(start), start - self._window)
        s_end = prep.sentence_bounds(start)[1]
        if self._negation.search(text, lo, start) and not (
            self._rhetorical and self._rhetorical.search(text, end, s_end)
        ):
            return "negated"
        return "hedged" if self._hedged(prep, start) else "asserted"

    def _hedged(self, prep: Prepared, pos: int) -> bool:
        """Hearsay: a cue anywhere in the sentence ("听说…收了礼金", "…据说送了二十来户")."""
        text = prep.norm
        s_start, s_end = prep.sentence_bounds(pos)
        for cue in self._hedge.finditer(text, s_start, s_end):
            if any(text.startswith(p, cue.start()) for p in self._not_hedge):
                continue
            # "没听说招标" denies hearsay rather than reporting it.
            if cue.start() == 0 or text[cue.start() - 1] not in "没未不":
                return True
        return False


def _alternation(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def to_evidence(prep: Prepared, hits: list[Hit]) -> tuple[Evidence, ...]:
    """Evidence records with text and offsets of the original text."""
    out = []
    for h in hits:
        start, end = prep.span(h.start, h.end)
        out.append(Evidence(prep.original[start:end], h.label, h.status, start, end))
    return tuple(out)
