"""The audit chain: appending events, and finding any event changed, removed or slipped in.

Each event carries `seq` (1, 2, 3, … without gaps), `prev_hash` (the previous event's hash; 64
zeros for the first) and `hash`: an HMAC-SHA256, under a purpose key derived from the master
key, over a canonical serialisation of all its fields. Someone with database access alone can
neither edit an event nor recompute the chain after removing one.

The one-row table `audit_chain` holds the head. Every append moves it forward in the event's
own transaction, which keeps appends linear: PostgreSQL row-locks the head until commit, SQLite
has one writer. Triggers refuse UPDATE and DELETE on the events and moving the head backwards.

A head that an attacker rolls back (after dropping the triggers) would still verify, so the
head is anchored outside the database: a successful `verify` appends the seq and hash it
reached to `data_dir/audit-anchors.jsonl` and checks every earlier anchor still holds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from intake.scope import unscoped
from intake.store import models as m

GENESIS = "0" * 64
KEY_INFO = "audit_key"  # where Desk.sessions() puts the chain key in Session.info
ANCHORS_FILE = "audit-anchors.jsonl"
TRIGGERS = ("audit_events_no_update", "audit_events_no_delete", "audit_chain_no_delete",
            "audit_chain_forward_only")
_REFUSED = "the audit log is append-only"


class AuditKeyMissingError(RuntimeError):
    """An audit event was recorded on a session that does not carry the chain key."""


def event_hash(
    key: bytes, *, seq: int, prev_hash: str, at: datetime, actor_id: int | None,
    actor_label: str, action: str, submission_id: int | None, reason: str,
    detail: dict[str, Any],
) -> str:
    """The HMAC of one event over a canonical serialisation of every field (format 1)."""
    body = json.dumps(
        [1, seq, prev_hash, at.astimezone(UTC).isoformat(timespec="microseconds"), actor_id,
         actor_label, action, submission_id, reason, detail],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def db_record(
    session: Session,
    action: str,
    /,
    *,
    actor_label: str,
    actor_id: int | None = None,
    submission_id: int | None = None,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
    **detail: Any,
) -> m.AuditEvent:
    """Append an audit event to the chain in the session's transaction (the caller commits).

    Takes the chain head's row lock until the transaction ends, so call it late in a
    transaction. The detail is `details` and the other keywords (`session` and `action` among
    them: those two are positional-only); pass a mapping built elsewhere as `details`, where no
    key can ever be taken for a parameter. It must be JSON: it is stored and hashed as JSON
    reads it back.
    """
    key = session.info.get(KEY_INFO)
    if not key:
        raise AuditKeyMissingError("audit events need a session from Desk.sessions()")
    detail = json.loads(json.dumps({**(details or {}), **detail}, ensure_ascii=False))
    seq, prev_hash = _db_advance_head(session)
    at = m.utcnow()  # taken under the head's lock: times follow the chain's order
    fields: dict[str, Any] = {
        "seq": seq, "prev_hash": prev_hash, "at": at, "actor_id": actor_id,
        "actor_label": actor_label, "action": action, "submission_id": submission_id,
        "reason": reason, "detail": detail,
    }
    digest = event_hash(key, **fields)
    session.connection().execute(_SET_HASH, {"digest": digest})
    event = m.AuditEvent(**fields, hash=digest)
    session.add(event)
    return event


_HEAD = m.AuditChainHead.__table__
# Built once: constructing a statement costs more than running it on SQLite.
_ADVANCE = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
            .returning(_HEAD.c.seq, _HEAD.c.hash))
_SET_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("digest"))


def _db_advance_head(session: Session) -> tuple[int, str]:
    """Move the head one on and return (the new event's seq, the previous event's hash).

    Core statements on the session's connection: an ORM-enabled UPDATE would first match
    every object the session holds (its "synchronize_session"), growing with each event.
    """
    conn = session.connection()
    row = conn.execute(_ADVANCE).first()
    if row is not None:
        return row.seq, row.hash
    # No head row: a database emptied by TRUNCATE (tests), or a head deleted by hand.
    # Continue from the last event, so a lost head never restarts the numbering.
    last = conn.execute(select(m.AuditEvent.seq, m.AuditEvent.hash)
                        .order_by(m.AuditEvent.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    conn.execute(insert(_HEAD).values(id=1, seq=seq, hash=prev_hash))
    return seq, prev_hash


# -- triggers --------------------------------------------------------------------------------


def trigger_ddl(dialect: str) -> list[str]:
    """Statements creating the triggers that keep the log append-only."""
    if dialect == "sqlite":
        abort = f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
        return [
            f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events {abort}",
            f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events {abort}",
            f"CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain {abort}",
            "CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain "
            f"WHEN NEW.id <> OLD.id OR NEW.seq NOT IN (OLD.seq, OLD.seq + 1) {abort}",
        ]
    return [
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '% on % refused: {_REFUSED}', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$",
        "CREATE FUNCTION audit_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.id <> OLD.id OR NEW.seq NOT IN (OLD.seq, OLD.seq + 1) THEN "
        "RAISE EXCEPTION 'the audit chain head only moves forward' "
        "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_chain_forward_only BEFORE UPDATE ON audit_chain "
        "FOR EACH ROW EXECUTE FUNCTION audit_chain_forward_only()",
    ]


def drop_trigger_ddl(dialect: str) -> list[str]:
    """Statements dropping those triggers (downgrade; tests that play the attacker)."""
    tables = {"audit_events_no_update": "audit_events", "audit_events_no_delete": "audit_events",
              "audit_chain_no_delete": "audit_chain", "audit_chain_forward_only": "audit_chain"}
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
    return [*(f"DROP TRIGGER IF EXISTS {name} ON {tables[name]}" for name in TRIGGERS),
            "DROP FUNCTION IF EXISTS audit_append_only()",
            "DROP FUNCTION IF EXISTS audit_chain_forward_only()"]


def db_missing_triggers(session: Session) -> list[str]:
    """The guarding triggers that are absent or disabled."""
    if session.get_bind().dialect.name == "sqlite":
        found = set(session.scalars(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    else:
        found = set(session.scalars(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
            "AND tgrelid IN ('audit_events'::regclass, 'audit_chain'::regclass)")))
    return [name for name in TRIGGERS if name not in found]


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A head once verified: every later verification must still find this hash at seq."""

    at: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Break:
    """The first broken link: seq, kind (changed, missing, inserted, reordered), in Chinese."""

    seq: int
    kind: str
    message: str


@dataclass(frozen=True)
class Verification:
    count: int  # events verified before the first break (all of them when intact)
    head_seq: int
    head_hash: str
    broken: Break | None
    missing_triggers: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.missing_triggers


_COLUMNS = (m.AuditEvent.seq, m.AuditEvent.prev_hash, m.AuditEvent.hash, m.AuditEvent.at,
            m.AuditEvent.actor_id, m.AuditEvent.actor_label, m.AuditEvent.action,
            m.AuditEvent.submission_id, m.AuditEvent.reason, m.AuditEvent.detail)


def _valid(key: bytes, row: Any, seq: int) -> bool:
    expected = event_hash(
        key, seq=seq, prev_hash=row.prev_hash, at=row.at, actor_id=row.actor_id,
        actor_label=row.actor_label, action=row.action, submission_id=row.submission_id,
        reason=row.reason, detail=row.detail)
    return hmac.compare_digest(expected, row.hash)


def db_verify(session: Session, key: bytes, anchors: list[Anchor] | None = None) -> Verification:
    """Walk the chain from the first event to the head and report the first broken link."""
    anchors = anchors or []
    head = session.execute(select(m.AuditChainHead.seq, m.AuditChainHead.hash)).first()
    last_seq = session.scalar(select(m.AuditEvent.seq).order_by(m.AuditEvent.seq.desc())
                              .limit(1))
    missing_triggers = tuple(db_missing_triggers(session))
    if head is None:
        broken = None if last_seq is None else Break(
            last_seq, "missing", "链头记录（audit_chain）不见了：被删除过。")
        return Verification(0, 0, GENESIS, broken, missing_triggers)
    # Events past the head are ones committed after it was read (or forged and caught below
    # by the head check of the next verification); the head is the snapshot verified.
    rows = session.execute(select(*_COLUMNS).where(m.AuditEvent.seq <= head.seq)
                           .order_by(m.AuditEvent.seq, m.AuditEvent.id)
                           .execution_options(yield_per=2000))
    try:
        count, last_hash, broken = _walk(key, iter(rows), head.seq, anchors)
    finally:
        rows.close()  # a break stops the walk early: release PostgreSQL's server-side cursor
    if broken is None:
        broken = _check_head(count, last_hash, head, anchors)
    return Verification(count, head.seq, head.hash, broken, missing_triggers)


def _walk(key: bytes, rows: Iterator[Any], head_seq: int,
          anchors: list[Anchor]) -> tuple[int, str, Break | None]:
    by_seq = {a.seq: a for a in anchors}
    prev, expected = GENESIS, 1
    cur = next(rows, None)
    while cur is not None:
        nxt = next(rows, None)
        if cur.seq < expected:
            return expected - 1, prev, Break(
                cur.seq, "inserted", f"第 {cur.seq} 条出现了两次：其中一条是插入的。")
        if cur.seq > expected:
            span = f"{expected}" if cur.seq == expected + 1 else f"{expected}–{cur.seq - 1}"
            return expected - 1, prev, Break(expected, "missing", f"第 {span} 条不见了：被删除过。")
        if not _valid(key, cur, cur.seq):
            return expected - 1, prev, _diagnose(key, cur, nxt, prev, head_seq)
        if cur.prev_hash != prev:
            return expected - 1, prev, Break(
                cur.seq, "changed", f"第 {cur.seq} 条与前一条的链接不符：前一条被替换过。")
        anchor = by_seq.get(cur.seq)
        if anchor is not None and anchor.hash != cur.hash:
            return expected - 1, prev, Break(
                cur.seq, "changed",
                f"第 {cur.seq} 条与 {anchor.at} 校验时记下的不同：此后的记录被删除后重写过。")
        prev, expected, cur = cur.hash, expected + 1, nxt
    return expected - 1, prev, None


def _diagnose(key: bytes, cur: Any, nxt: Any, prev: str, head_seq: int) -> Break:
    """Why an event's hash does not match: edited, slipped in, or swapped with the next."""
    seq = cur.seq
    if nxt is not None and _valid(key, cur, nxt.seq) and _valid(key, nxt, seq):
        return Break(seq, "reordered", f"第 {seq} 条和第 {nxt.seq} 条的顺序被调换过。")
    if nxt is not None and nxt.prev_hash == prev and _valid(key, nxt, seq):
        return Break(seq, "inserted", f"第 {seq} 条是插入的：真正的第 {seq} 条紧随其后。")
    if nxt is not None and nxt.prev_hash == prev:
        return Break(seq, "inserted", f"第 {seq} 条是插入的：后一条直接接在前一条之后。")
    if cur.prev_hash != prev and _valid(key, cur, seq + 1):
        return Break(seq, "missing", f"原第 {seq} 条被删除，其后的记录被重新编号。")
    if seq > head_seq:
        return Break(seq, "inserted", f"第 {seq} 条是在链头之后插入的。")
    return Break(seq, "changed", f"第 {seq} 条的内容与其哈希不符：被修改过。")


def _check_head(count: int, last_hash: str, head: Any, anchors: list[Anchor]) -> Break | None:
    if head.seq > count:
        span = f"{count + 1}" if head.seq == count + 1 else f"{count + 1}–{head.seq}"
        return Break(count + 1, "missing", f"第 {span} 条不见了：链尾被截断过。")
    if head.hash != last_hash:
        return Break(count, "changed", f"链头与第 {count} 条的哈希不符：链头被改过。")
    beyond = [a for a in anchors if a.seq > count]
    if beyond:
        a = max(beyond, key=lambda a: a.seq)
        return Break(count + 1, "missing",
                     f"{a.at} 校验时已有 {a.seq} 条，现在只有 {count} 条：链尾被截断过。")
    return None


# -- anchors outside the database ------------------------------------------------------------


def read_anchors(data_dir: Path) -> list[Anchor]:
    path = Path(data_dir) / ANCHORS_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Anchor(**json.loads(line)) for line in lines if line.strip()]


def append_anchor(data_dir: Path, seq: int, hash_: str) -> Anchor:
    """Note a verified head in the data folder (owner-only, appended, synced)."""
    anchor = Anchor(datetime.now(UTC).isoformat(timespec="seconds"), seq, hash_)
    line = json.dumps(anchor.__dict__, ensure_ascii=False) + "\n"
    fd = os.open(Path(data_dir) / ANCHORS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def verify(sessions: Any, key: bytes, data_dir: Path) -> Verification:
    """Verify the chain against the anchors; anchor the head when the chain is intact."""
    anchors = read_anchors(data_dir)
    # The whole chain, whoever asks: a team leader's view of events is scoped, the check is not
    # (it shows counts and the first broken link, never an event of another team).
    with sessions() as session, unscoped(session):
        result = db_verify(session, key, anchors)
    if result.broken is None and result.head_seq and (
            not anchors or anchors[-1].seq != result.head_seq):
        append_anchor(data_dir, result.head_seq, result.head_hash)
    return result
