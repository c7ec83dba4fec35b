"""Possible duplicates across channels: exact, near and same-matter links, never merged.

The same matter often arrives several times: posted online, then phoned in by a neighbour,
then a letter retyped by OCR. Each new item is compared with the earlier items of its round
and linked to them (`DuplicateLink`, newer item → older item) with the shared phrases as
evidence; a triager decides what the link means.

Three kinds of link, strongest first, one per pair of items:

- exact: the normalised texts (NFKC, no whitespace or punctuation, Latin lower-cased) are equal;
- near: the Jaccard similarity of their character 3-gram sets is at least NEAR_THRESHOLD;
- same_matter: both accuse the same roster person and share a substantive fact (a run of
  PHRASE_MIN characters that is not boilerplate or a name, or the same amount of money).

Candidates come from an index (`text_signatures`), never from a scan of the round: MinHash over
the 3-grams, cut into LSH bands; the exact-text hash; one key per accused roster person. The
pure part (`fingerprint`) runs before the item's transaction; `db_record` runs inside it, in a
savepoint, and a failure there costs the links, never the item.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from intake.desk import Desk
from intake.masking import PLACEHOLDERS
from intake.round import Round
from intake.store import models as m
from intake.store.db import begin_write

log = logging.getLogger(__name__)

SHINGLE = 3
BANDS, ROWS = 40, 3  # 120 MinHash values
# Re-typed copies (OCR errors, reordered sentences, a hotline officer's retelling) measure
# 0.45-0.8 on our synthetic pairs, unrelated reports about the same village and person 0.02-0.15
# (bench/duplicates.py prints both). 0.45 keeps the re-typed copies and stays three times above
# the unrelated ones; 0.8 would miss most copies. With 40 bands of 3 rows a pair at 0.45 becomes
# a candidate with probability 0.98, a pair at 0.1 with 0.04.
NEAR_THRESHOLD = 0.45
MIN_NEAR_CHARS = 30  # shorter texts share 3-grams by chance: no near links
MIN_EXACT_CHARS = 10  # "测试" sent twice is not a duplicate matter
PHRASE_MIN = 6
EVIDENCE_PHRASES = 3
PHRASE_SCAN_CHARS = 5000  # phrase search is quadratic in the worst case; evidence needs no more
MAX_CANDIDATES = 30  # per kind (text, person): the most similar, then the newest
MAX_LINKS = 10  # shown to a triager per new item: the strongest; more would be read by nobody
REASON_RANK = {"exact": 0, "near": 1, "same_matter": 2}
EXACT_BAND, PERSON_BAND = -1, -2  # persons take -2, -3, …

# Phrases every report may contain: sharing them says nothing about the matter.
BOILERPLATE = (
    "尊敬的巡察组", "尊敬的领导", "巡察组领导", "巡察组", "领导您好", "您好", "你好",
    "我要举报", "我要反映", "实名举报", "匿名举报", "现举报", "反映问题", "反映情况",
    "希望巡察组", "恳请巡察组", "请巡察组", "请求巡察组", "请上级", "请组织", "调查核实",
    "严肃查处", "依法依纪", "依纪依法", "调查处理", "核实处理", "予以查处", "查处",
    "还群众一个公道", "给群众一个交代", "此致敬礼", "来电人反映", "来电反映", "来信人反映",
    "来访人反映", "群众反映", "村民反映", "情况属实", "以上情况", "以上问题", "党支部书记",
    "党总支书记", "村委会主任", "党委书记", "村党支部", "村委会", "村干部",
    "我的联系电话", "联系电话", "联系方式", "电话号码", "手机号码", "手机号",
    *PLACEHOLDERS,  # what masking put where a phone or name was: in many texts, no fact
)
_NOT_WORD = re.compile(r"[\W_]+")
_AMOUNT = re.compile(r"\d+[万千百亿]?元|\d{2,}(?:亩|平方米|平米|户|套|吨|辆)")
_MASK = "|"  # never part of a normalised text


def normalise(text: str) -> str:
    """The text as compared: NFKC, whitespace, punctuation and symbols dropped, lower case.

    Full-width letters and digits become ASCII, so a letter retyped on another keyboard, or
    with other line breaks and punctuation, normalises to the same string.
    """
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text)).lower()


def text_hash(normalised: str) -> str:
    """The exact-duplicate hash: sha256 hex of the normalised text."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def shingles(normalised: str, k: int = SHINGLE) -> np.ndarray:
    """The sorted distinct character k-grams (k ≤ 3), each packed losslessly into an integer."""
    if len(normalised) < k:
        return np.empty(0, dtype=np.uint64)
    cps = np.frombuffer(normalised.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    keys = np.zeros(len(cps) - k + 1, dtype=np.uint64)
    for i in range(k):  # a code point fits in 21 bits, so three of them fit in 63
        keys = (keys << np.uint64(21)) | cps[i:len(cps) - k + 1 + i]
    return np.unique(keys)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle sets (as from `shingles`)."""
    if not len(a) or not len(b):
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


_rng = np.random.default_rng(20260305)  # fixed: stored band keys must be reproducible
_PERM_A = _rng.integers(1, 2**63, BANDS * ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _rng.integers(0, 2**63, BANDS * ROWS, dtype=np.uint64)


def minhash(keys: np.ndarray) -> np.ndarray:
    """BANDS×ROWS MinHash values of a non-empty shingle set (multiply-shift hashing)."""
    x = keys.copy()  # splitmix64 finaliser: the packed keys are far from uniform
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    out = np.full(BANDS * ROWS, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(x), 4096):  # bounded memory for a 200 000-character letter
        chunk = x[start:start + 4096, None]
        values = (chunk * _PERM_A[None, :] + _PERM_B[None, :]) >> np.uint64(32)
        np.minimum(out, values.min(axis=0), out=out)
    return out


def _key(kind: int, payload: bytes) -> int:
    digest = hashlib.blake2b(payload, digest_size=8, salt=kind.to_bytes(8, "big", signed=True))
    return int.from_bytes(digest.digest(), "big", signed=True)


def band_keys(signature: np.ndarray) -> tuple[int, ...]:
    """The LSH band keys of a MinHash signature; items sharing any key are candidates."""
    return tuple(_key(band, signature[band * ROWS:(band + 1) * ROWS].tobytes())
                 for band in range(BANDS))


def person_key(name: str) -> int:
    return _key(PERSON_BAND, name.encode("utf-8"))


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """What the duplicate step needs of a new item, computed before its transaction."""

    text: str  # normalised
    sha256: str
    shingles: np.ndarray
    bands: tuple[int, ...]  # empty for texts too short for near links
    persons: tuple[str, ...]  # roster names of the accused
    boilerplate: tuple[str, ...]

    def rows(self) -> list[tuple[int, int]]:
        """(band, hash) rows for `text_signatures`."""
        rows = list(enumerate(self.bands))
        if len(self.text) >= MIN_EXACT_CHARS:
            rows.append((EXACT_BAND, _key(EXACT_BAND, bytes.fromhex(self.sha256))))
        rows += [(PERSON_BAND - i, person_key(p)) for i, p in enumerate(self.persons)]
        return rows

    # Compared with every same-person candidate: worked out once.
    @cached_property
    def masked(self) -> str:
        return mask(self.text, self.boilerplate)

    @cached_property
    def masked_grams(self) -> set[str]:
        return phrase_grams(self.masked)

    @cached_property
    def amounts(self) -> set[str]:
        return amounts(self.text)


def fingerprint(text: str, persons: Iterable[str] = (),
                boilerplate: Sequence[str] = BOILERPLATE) -> Fingerprint:
    """Normalise, hash and shingle a text; `persons` are the roster names it accuses."""
    norm = normalise(text)
    keys = shingles(norm)
    bands = band_keys(minhash(keys)) if len(norm) >= MIN_NEAR_CHARS else ()
    return Fingerprint(norm, text_hash(norm), keys, bands,
                       tuple(dict.fromkeys(p for p in persons if p)), tuple(boilerplate))


def accused(subjects: Iterable[Any]) -> tuple[str, ...]:
    """Roster names among classification subjects (`Subject`s or their stored dicts)."""
    names = (s.get("name", "") if isinstance(s, dict) else s.name for s in subjects)
    return tuple(dict.fromkeys(n for n in names if n))


def round_boilerplate(r: Round) -> tuple[str, ...]:
    """BOILERPLATE plus the round's names, posts and places: shared by many unrelated reports."""
    words = [r.unit.name, r.unit.short, r.unit.county, *r.unit.places, *r.unit.subordinates]
    for person in r.roster:
        words += [person.name, person.post, *re.split(r"[、，,/]", person.post), person.place]
    return BOILERPLATE + tuple(w for w in words if w)


@lru_cache(maxsize=8)
def _mask_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    words = sorted({normalise(p) for p in phrases} - {""}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words))) if words else None


def mask(normalised: str, boilerplate: Sequence[str]) -> str:
    """The text with boilerplate replaced by a separator, so no shared run crosses it."""
    pattern = _mask_pattern(tuple(boilerplate))
    return pattern.sub(_MASK, normalised) if pattern else normalised


def phrase_grams(text: str, min_len: int = PHRASE_MIN) -> set[str]:
    """The text's runs of `min_len` characters that cross no mask (see `shared_phrases`)."""
    text = text[:PHRASE_SCAN_CHARS]
    return {g for g in (text[i:i + min_len] for i in range(len(text) - min_len + 1))
            if _MASK not in g}


def shared_phrases(a: str, b: str, *, min_len: int = PHRASE_MIN, limit: int = EVIDENCE_PHRASES,
                   a_grams: set[str] | None = None) -> list[str]:
    """The longest runs of at least `min_len` characters found in both texts, longest first.

    Texts may carry the mask separator (see `mask`); runs never include it. `a_grams` is
    `phrase_grams(a)` when the caller has it already.
    """
    a, b = a[:PHRASE_SCAN_CHARS], b[:PHRASE_SCAN_CHARS]
    grams = phrase_grams(a, min_len) if a_grams is None else a_grams
    common = grams.intersection(b[i:i + min_len] for i in range(len(b) - min_len + 1))
    if not common:  # the usual case, decided without a loop in Python
        return []
    runs: set[str] = set()
    i = 0
    while i <= len(b) - min_len:
        if b[i:i + min_len] not in common:
            i += 1
            continue
        j = i + min_len
        while j < len(b) and b[j] != _MASK and b[i:j + 1] in a:
            j += 1
        runs.add(b[i:j])
        i = j
    return sorted(runs, key=lambda r: (-len(r), r))[:limit]


def amounts(normalised: str) -> set[str]:
    """Amounts of money and quantities (area, households, …) written in digits."""
    return set(_AMOUNT.findall(normalised))


@dataclass(frozen=True)
class Match:
    """Why a new item may duplicate an older one: a `DuplicateLink` to be."""

    reason: str
    score: float
    evidence: tuple[str, ...]


def compare(new: Fingerprint, old_text: str, shared_persons: Sequence[str] = (), *,
            near: bool = True) -> Match | None:
    """The strongest link from the new item to an older one, or None.

    `near=False` skips the Jaccard check, for an item the LSH bands did not offer.
    """
    old = normalise(old_text)
    if len(new.text) >= MIN_EXACT_CHARS and old == new.text:
        return Match("exact", 1.0, ("去掉空格和标点后全文相同",))
    if near and len(new.text) >= MIN_NEAR_CHARS and len(old) >= MIN_NEAR_CHARS:
        score = jaccard(new.shingles, shingles(old))
        if score >= NEAR_THRESHOLD:
            phrases = shared_phrases(mask(new.text, BOILERPLATE), mask(old, BOILERPLATE))
            return Match("near", round(score, 2), tuple(_quote(p) for p in phrases))
    if shared_persons:
        b = mask(old, new.boilerplate)
        phrases = shared_phrases(new.masked, b, a_grams=new.masked_grams)
        money = sorted(new.amounts & amounts(old), key=lambda s: (-len(s), s))
        facts = [_quote(p) for p in phrases] + [f"相同数额：{x}" for x in money]
        if facts:
            covered = sum(len(p) for p in phrases) + sum(len(x) for x in money)
            score = min(1.0, covered / max(1, min(len(new.masked), len(b))))
            who = "、".join(shared_persons)
            return Match("same_matter", round(score, 2),
                         (f"均反映{who}", *facts[:EVIDENCE_PHRASES]))
    return None


def _quote(phrase: str, limit: int = 40) -> str:
    return f"共同内容：“{phrase if len(phrase) <= limit else phrase[:limit] + '…'}”"


def db_record(session: Session, row: m.Submission, fp: Fingerprint) -> list[m.DuplicateLink]:
    """Store the item's signature and link it to possible duplicates among earlier items.

    Runs in a savepoint inside the item's transaction: if anything here fails, it is logged
    and the item commits without signature or links (`backfill` adds them later).
    """
    try:
        with session.begin_nested():
            return db_link(session, row, fp)
    except Exception:
        log.exception("duplicate check failed for item %s; stored without links", row.id)
        return []


def db_link(session: Session, row: m.Submission, fp: Fingerprint) -> list[m.DuplicateLink]:
    """Write the signature rows and the links (see `db_record`, which callers should use)."""
    rows = fp.rows()
    if rows:
        session.execute(insert(m.TextSignature), [
            {"submission_id": row.id, "band": band, "hash": key} for band, key in rows])
    if row.status == "spam":
        return []  # a suspected bot's item is indexed (it may be rescued) but links nothing
    text_hits = set(db_candidates(session, row, [key for band, key in rows if band >= EXACT_BAND]))
    persons = {person_key(p): p for p in fp.persons}
    person_hits: dict[int, list[str]] = {}
    if persons:
        for other, key in session.execute(
            select(m.TextSignature.submission_id, m.TextSignature.hash)
            .where(m.TextSignature.hash.in_(list(persons)), m.TextSignature.submission_id < row.id)
            .order_by(m.TextSignature.submission_id.desc()).limit(MAX_CANDIDATES)
        ):
            person_hits.setdefault(other, []).append(persons[key])
    ids = text_hits | set(person_hits)
    if not ids:
        return []
    linked = set(session.scalars(select(m.DuplicateLink.other_id)
                                 .where(m.DuplicateLink.submission_id == row.id)))
    texts = dict(session.execute(
        select(m.Submission.id, m.Submission.text)
        .where(m.Submission.id.in_(ids - linked), m.Submission.round_id == row.round_id,
               m.Submission.status != "spam")).all())
    links = []
    for other in sorted(texts, reverse=True):
        match = compare(fp, texts[other], person_hits.get(other, ()), near=other in text_hits)
        if match is not None:
            links.append(m.DuplicateLink(submission_id=row.id, other_id=other,
                                         reason=match.reason, score=match.score,
                                         evidence=list(match.evidence)))
    links.sort(key=lambda x: (REASON_RANK[x.reason], -(x.score or 0.0), -x.other_id))
    links = links[:MAX_LINKS]
    session.add_all(links)
    session.flush()
    return links


def db_candidates(session: Session, row: m.Submission, keys: Sequence[int]) -> list[int]:
    """Earlier items sharing signature keys, most shared keys first.

    The signature index alone answers this; round and status are checked when the texts are
    read, because a join lets SQLite's planner walk the whole round instead of the index.
    """
    if not keys:
        return []
    query = (select(m.TextSignature.submission_id)
             .where(m.TextSignature.hash.in_(list(keys)), m.TextSignature.submission_id < row.id)
             .group_by(m.TextSignature.submission_id)
             .order_by(func.count().desc(), m.TextSignature.submission_id.desc())
             .limit(MAX_CANDIDATES))
    return list(session.scalars(query))


def backfill(desk: Desk, *, rebuild: bool = False, batch: int = 200) -> int:
    """Give stored items their signatures and links, oldest first; return how many were done.

    Items that already have a signature are skipped unless `rebuild` is set, which first drops
    every signature (links stay; a pair already linked is not linked again).
    """
    done = 0
    boilerplate = {e.id: round_boilerplate(e.cfg) for e in desk.rounds.all()}
    with desk.sessions() as session:
        if rebuild:
            begin_write(session)
            session.execute(delete(m.TextSignature))
            session.commit()
    last = 0
    while True:
        with desk.sessions() as session:
            begin_write(session)
            indexed = select(m.TextSignature.submission_id).where(
                m.TextSignature.submission_id == m.Submission.id).exists()
            rows = list(session.scalars(
                select(m.Submission).where(m.Submission.id > last, ~indexed)
                .order_by(m.Submission.id).limit(batch)))
            if not rows:
                return done
            for row in rows:
                words = boilerplate.get(row.round_id, BOILERPLATE)
                subjects = row.current.subjects if row.current is not None else []
                db_record(session, row, fingerprint(row.text, accused(subjects), words))
                done += 1
            last = rows[-1].id
            session.commit()
