"""Full-text search over items: what a triager types to find "everything about 刘德福".

Owns the search index (`search_texts`, and on SQLite the FTS5 table `search_fts` over it),
keeping it in step with every write of an item's title, text or messages, and the search
condition and matching passage the queue uses (intake.triage, `QueueFilters.text`).

Semantics are Chinese substring semantics over masked text only: a query is split on
whitespace into terms, every term must occur within one field (title, text or one message),
and case, width (NFKC), whitespace and punctuation are ignored on both sides. So 刘德 and 德福
find 刘德福, and "工程款 拖欠" finds an item saying both.

How: each field is normalised (`fold`) and the index holds its character bigrams. A term of
two or more characters becomes the run of its consecutive bigrams: on SQLite an FTS5 phrase
query over bigram tokens (exact: consecutive bigrams in one field are the substring), with a
token between fields so no phrase spans two; on PostgreSQL a GIN `@>` on the item's distinct
bigrams, rechecked with `strpos` on the normalised body (one line per field). Neither FTS5's
trigram tokenizer nor pg_trgm finds a two-character term (and pg_trgm drops CJK under the C
locale), which is why the bigrams are ours. A one-character term scans the bodies.

The index is never a second copy of anything unmasked: it is made from the stored (masked)
title, text and messages, never from the sealed originals, and the retention purge deletes it
with what it destroys (intake.retention).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Text,
    and_,
    column,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, attributes

from intake.store import models as m

# Between two fields' bigrams on SQLite: a one-character token no query ever asks for, so a
# phrase cannot run from the end of one field into the start of the next.
FIELD_BREAK = "x"
PASSAGE_BEFORE = 24
# How many of a queue's next items a search reads directly before asking the index, and the
# first batch of them (doubling after).
WINDOW = 4000
PROBE_FIRST = 250
# Beyond this many items matching in the index, the database filters the queue by the index
# itself rather than by a list of ids.
MAX_CANDIDATES = 20_000
PASSAGE_LENGTH = 80

_SEARCH = m.SearchText.__table__
_FTS = table("search_fts", column("rowid"), column("search_fts"))


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    """One character as search sees it: NFKC, case-folded, letters and digits only."""
    return "".join(c for c in unicodedata.normalize("NFKC", char).casefold()
                   if unicodedata.category(c)[0] in "LN")


def fold(text: str) -> tuple[str, list[int]]:
    """`text` normalised for search (`normalise`) and, for each character of the result, the
    index in `text` it came from (for passages)."""
    out: list[str] = []
    where: list[int] = []
    for i, folded in enumerate(map(_fold_char, text)):
        out.append(folded)
        where.extend([i] * len(folded))
    return "".join(out), where


def normalise(text: str) -> str:
    """`text` as the index holds it: each character NFKC-normalised and case-folded, and only
    letters and digits kept (whitespace, punctuation and symbols dropped)."""
    return "".join(map(_fold_char, text))


@dataclass(frozen=True)
class Query:
    """A query's whitespace-separated words as searched: `terms` normalised (what the index
    sees), `literals` the words with no letter or digit at all ("%", "……"), which
    normalisation would empty: those are matched as typed in the title and text."""

    terms: tuple[str, ...] = ()
    literals: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.literals)


def parse(text: str) -> Query:
    """The search a query asks for (empty when the query is blank)."""
    found: list[str] = []
    literals: list[str] = []
    for word in text.split():
        term = normalise(word)
        if term and term not in found:
            found.append(term)
        elif not term and word not in literals:
            literals.append(word)
    return Query(tuple(found), tuple(literals))


def body_of(fields: Iterable[str]) -> str:
    """The normalised body: one line per non-empty field."""
    return "\n".join(f for f in (normalise(text) for text in fields) if f)


def _bigrams(line: str) -> list[str]:
    return [line[i:i + 2] for i in range(len(line) - 1)]


def grams_of(body: str, dialect: str) -> Any:
    """What `search_texts.grams` holds: PostgreSQL the distinct bigrams, SQLite the bigram
    tokens in order with FIELD_BREAK between fields."""
    lines = body.split("\n")
    if dialect == "postgresql":
        return sorted({g for line in lines for g in _bigrams(line)})
    return f" {FIELD_BREAK} ".join(" ".join(_bigrams(line)) for line in lines)


# -- keeping the index -------------------------------------------------------------------


def db_reindex(conn: Connection, ids: Iterable[int]) -> None:
    """Rebuild the index rows of items `ids` from their stored title, text and messages
    (an item that no longer exists loses its row). Runs on the caller's transaction."""
    wanted = sorted(set(ids))
    dialect = conn.dialect.name
    sub, msg = m.Submission.__table__, m.Message.__table__
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        fields: dict[int, list[str]] = {
            row.id: [row.title or "", row.text or ""]
            for row in conn.execute(select(sub.c.id, sub.c.title, sub.c.text)
                                    .where(sub.c.id.in_(chunk)))}
        for row in conn.execute(select(msg.c.submission_id, msg.c.text)
                                .where(msg.c.submission_id.in_(chunk)).order_by(msg.c.id)):
            if row.submission_id in fields:
                fields[row.submission_id].append(row.text or "")
        conn.execute(delete(_SEARCH).where(_SEARCH.c.submission_id.in_(chunk)))
        rows = []
        for item_id, texts in fields.items():
            body = body_of(texts)
            rows.append({"submission_id": item_id, "body": body,
                         "grams": grams_of(body, dialect)})
        if rows:
            conn.execute(insert(_SEARCH), rows)


def db_forget(conn: Connection, ids: Sequence[int]) -> None:
    """Remove items' index rows (the retention purge destroyed their texts)."""
    for start in range(0, len(ids), 500):
        conn.execute(delete(_SEARCH).where(_SEARCH.c.submission_id.in_(ids[start:start + 500])))


def db_compact(conn: Connection) -> None:
    """Merge SQLite's FTS5 segments so entries deleted from the index are gone from the file,
    not only marked deleted (the purge calls this after destroying texts)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")


def _changed(obj: Any, *names: str) -> bool:
    return any(attributes.get_history(obj, name).has_changes() for name in names)


_PENDING = "search_pending"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    """Note the items whose title or text, or a message of which, a flush wrote: new reports
    from any channel, edits, masking re-runs. `_keep_index` reindexes them before commit."""
    ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, m.Submission):
            ids.add(obj.id)
        elif isinstance(obj, m.Message):
            ids.add(obj.submission_id)
    for obj in session.dirty:
        if isinstance(obj, m.Submission) and _changed(obj, "title", "text"):
            ids.add(obj.id)
        elif isinstance(obj, m.Message) and _changed(obj, "text", "submission_id"):
            ids.add(obj.submission_id)
            ids.update(attributes.get_history(obj, "submission_id").deleted or ())
    for obj in session.deleted:
        if isinstance(obj, m.Message):
            ids.add(obj.submission_id)
    ids.discard(None)  # type: ignore[arg-type]
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(Session, "before_commit")
def _keep_index(session: Session) -> None:
    """Reindex what the transaction's flushes wrote, once per item, in the same transaction."""
    session.flush()
    if ids := session.info.pop(_PENDING, None):
        db_reindex(session.connection(), ids)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_PENDING, None)


# -- searching ---------------------------------------------------------------------------


def condition(dialect: str, item: Any, query: Query) -> Any:
    """A condition on the item table (or an alias) `item`: the item matches every word of
    `query`."""
    parts = [or_(item.title.contains(word, autoescape=True),
                 item.text.contains(word, autoescape=True)) for word in query.literals]
    if not query.terms:
        return and_(*parts)
    if dialect == "sqlite":
        long = [t for t in query.terms if len(t) > 1]
        if long:
            phrase = " AND ".join('"' + " ".join(_bigrams(t)) + '"' for t in long)
            parts.append(item.id.in_(select(_FTS.c.rowid)
                                     .where(_FTS.c.search_fts.op("MATCH")(phrase))))
        short = [t for t in query.terms if len(t) == 1]
        if short:
            parts.append(item.id.in_(select(_SEARCH.c.submission_id).where(
                *(func.instr(_SEARCH.c.body, t) > 0 for t in short))))
        return and_(*parts)
    grams = sorted({g for t in query.terms for g in _bigrams(t)})
    where = [func.strpos(_SEARCH.c.body, t) > 0 for t in query.terms if len(t) != 2]
    if grams:
        where.append(_SEARCH.c.grams.op("@>")(literal(grams, ARRAY(Text))))
    parts.append(item.id.in_(select(_SEARCH.c.submission_id).where(*where)))
    return and_(*parts)


def db_probe(session: Session, window: Sequence[int], query: Query,
             wanted: int) -> list[int] | None:
    """The first `wanted` items of `window` (ids of a queue's next items, in order) that match
    `query`, read from the stored bodies batch by batch; None when the window is full
    (WINDOW ids) and holds fewer: the word is rare, the index finds it faster.

    A word that many items carry costs the index a long list of candidates to sort by date,
    while the newest items of the queue soon give a page of it. Probing the window first keeps
    both kinds of word quick, at most WINDOW body reads before the index is asked."""
    sub, text = m.Submission, m.SearchText
    dialect = session.get_bind().dialect.name
    find = func.instr if dialect == "sqlite" else func.strpos
    where = [find(text.body, term) > 0 for term in query.terms]
    where += [or_(sub.title.contains(word, autoescape=True),
                  sub.text.contains(word, autoescape=True)) for word in query.literals]
    hits: list[int] = []
    start, size = 0, PROBE_FIRST
    while start < len(window) and len(hits) < wanted:
        chunk = window[start:start + size]
        # The bodies by primary key (the window's ids are the viewer's already); the item
        # table only for words matched as typed.
        probe = (select(sub.id).join(text, text.submission_id == sub.id).where(sub.id.in_(chunk))
                 if query.literals else select(text.submission_id)
                 .where(text.submission_id.in_(chunk)))
        found = set(session.scalars(probe.where(*where)))
        hits += [item_id for item_id in chunk if item_id in found]
        start, size = start + size, size * 2
    if len(hits) >= wanted or len(window) < WINDOW:
        return hits[:wanted]
    return None


def db_candidates(session: Session, query: Query) -> list[int] | None:
    """The ids of every item (of any team: the caller's query on the items keeps to the
    viewer's) whose indexed bodies match the query's terms, from the index alone; None when
    there are more than MAX_CANDIDATES or no term the index can look up (one character)."""
    long = [t for t in query.terms if len(t) > 1]
    if not long:
        return None
    if session.get_bind().dialect.name == "sqlite":
        phrase = " AND ".join('"' + " ".join(_bigrams(t)) + '"' for t in long)
        ids = select(_FTS.c.rowid).where(_FTS.c.search_fts.op("MATCH")(phrase))
        short = [func.instr(_SEARCH.c.body, t) > 0 for t in query.terms if len(t) == 1]
        if short:
            ids = select(_SEARCH.c.submission_id).where(_SEARCH.c.submission_id.in_(ids),
                                                        *short)
    else:
        grams = sorted({g for t in long for g in _bigrams(t)})
        ids = select(_SEARCH.c.submission_id).where(
            _SEARCH.c.grams.op("@>")(literal(grams, ARRAY(Text))),
            *(func.strpos(_SEARCH.c.body, t) > 0 for t in query.terms if len(t) != 2))
    found = list(session.scalars(ids.limit(MAX_CANDIDATES + 1)))
    return found if len(found) <= MAX_CANDIDATES else None


def literal_condition(item: Any, query: Query) -> Any:
    """The query's words of punctuation alone, matched as typed in the title and text."""
    return and_(true(), *(or_(item.title.contains(word, autoescape=True),
                              item.text.contains(word, autoescape=True))
                          for word in query.literals))


@dataclass(frozen=True)
class Match:
    """Where a search found an item: the field (`title`, `text` or `message`) and a short
    passage around the first match, as segments (text, is it a match) for highlighting."""

    field: str
    segments: tuple[tuple[str, bool], ...]

    @property
    def passage(self) -> str:
        return "".join(text for text, _ in self.segments)


def _spans(text: str, query: Query) -> list[tuple[int, int]]:
    norm, where = fold(text)
    spans = []
    for term in query.terms:
        at = norm.find(term)
        while at >= 0:
            spans.append((where[at], where[at + len(term) - 1] + 1))
            at = norm.find(term, at + 1)
    for word in query.literals:
        at = text.find(word)
        while at >= 0:
            spans.append((at, at + len(word)))
            at = text.find(word, at + 1)
    return sorted(spans)


def passage(fields: Iterable[tuple[str, str]], query: Query) -> Match | None:
    """The first field of (name, masked text) pairs, in order, where a word of the query
    occurs, with a passage around its first occurrence and every occurrence in it marked."""
    for name, text in fields:
        text = text or ""
        spans = _spans(text, query)
        if not spans:
            continue
        first = spans[0][0]
        start = max(0, first - PASSAGE_BEFORE)
        end = min(len(text), start + PASSAGE_LENGTH)
        segments: list[tuple[str, bool]] = []
        if start > 0:
            segments.append(("…", False))
        pos = start
        for a, b in spans:
            a, b = max(a, pos), min(b, end)
            if a >= b:
                continue
            if a > pos:
                segments.append((text[pos:a], False))
            segments.append((text[a:b], True))
            pos = b
        if pos < end:
            segments.append((text[pos:end], False))
        if end < len(text):
            segments.append(("…", False))
        return Match(name, tuple((re.sub(r"\s+", " ", s), hit) for s, hit in segments))
    return None


def db_matches(session: Session, rows: Sequence[m.Submission],
               query: Query) -> dict[int, Match]:
    """The matching passage of each item of a search's page (masked texts only; messages
    read through the session, so inside the viewer's scope)."""
    if not rows or not query:
        return {}
    messages: dict[int, list[str]] = {}
    for item_id, text in session.execute(
            select(m.Message.submission_id, m.Message.text)
            .where(m.Message.submission_id.in_([r.id for r in rows])).order_by(m.Message.id)):
        messages.setdefault(item_id, []).append(text)
    out = {}
    for row in rows:
        fields = [("title", row.title), ("text", row.text)]
        fields += [("message", text) for text in messages.get(row.id, ())]
        if (found := passage(fields, query)) is not None:
            out[row.id] = found
    return out
