"""`intake export`: every stored item as a JSON line, identity only when asked; always audited.

A plain export carries the masked texts and the shown attachment names (附件1.jpg); with
identity it carries the originals that masking hid, too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.audit import db_record
from intake.desk import Desk
from intake.maskstore import open_name, open_text
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.store.db import begin_write

BATCH = 500


def iter_export(
    desk: Desk, *, since: datetime | None = None, with_identity: bool = False,
    actor_label: str = "cli", until: datetime | None = None,
    rounds: Sequence[RoundEntry] = (),
) -> Iterator[dict[str, Any]]:
    """Yield one dict per item, oldest first. Every export is audited before it starts."""
    for batch in iter_items(desk, since=since, until=until, rounds=rounds, fmt="jsonl",
                            with_identity=with_identity, actor_label=actor_label):
        for row in batch.items:
            yield export_record(desk, row, with_identity=with_identity)


@dataclass(frozen=True)
class Batch:
    """Up to BATCH items, oldest first, with their session still open (to read around them)."""

    session: Session
    items: list[m.Submission]


def iter_items(
    desk: Desk, *, since: datetime | None, until: datetime | None,
    rounds: Sequence[RoundEntry], fmt: str, with_identity: bool, actor_label: str,
    messages: bool = True,
) -> Iterator[Batch]:
    """The items an export holds, received in [since, until) in `rounds` (every round when
    empty), in batches of BATCH, oldest first: a million items never sit in memory at once.
    The export is audited first (`export.plain` or `export.with_identity`, with its format,
    rounds and dates). `messages`: load each item's messages too."""
    with desk.sessions() as session:
        begin_write(session)
        db_record(session, "export.with_identity" if with_identity else "export.plain",
                  actor_label=actor_label, format=fmt,
                  since=since.isoformat() if since else None,
                  until=until.isoformat() if until else None,
                  rounds=[e.slug for e in rounds])
        session.commit()
        stmt = (
            select(m.Submission)
            .options(selectinload(m.Submission.attachments), selectinload(m.Submission.current))
            .order_by(m.Submission.received_at, m.Submission.id)
            .execution_options(yield_per=BATCH)
        )
        if messages:
            stmt = stmt.options(selectinload(m.Submission.messages))
        if since is not None:
            stmt = stmt.where(m.Submission.received_at >= since)
        if until is not None:
            stmt = stmt.where(m.Submission.received_at < until)
        if rounds:
            stmt = stmt.where(m.Submission.round_id.in_([e.id for e in rounds]))
        for part in session.scalars(stmt).partitions():
            yield Batch(session, list(part))


def export_record(desk: Desk, row: m.Submission, *, with_identity: bool) -> dict[str, Any]:
    cls = row.current
    entry = desk.rounds.get(row.round_id)
    record: dict[str, Any] = {
        "id": row.id,
        "round": entry.slug if entry is not None else None,  # the round's slug
        "channel": row.channel,
        "received_at": row.received_at.isoformat(),
        "title": row.title,
        "text": row.text,
        "subject": {"name": row.subject_name, "unit": row.subject_unit, "post": row.subject_post},
        "category": row.category,
        "anonymous": row.anonymous,
        "late": row.late,
        "status": row.status,
        "attachments": [
            {"name": a.original_name, "size": a.size, "sha256": a.sha256,
             "content_type": a.content_type}
            for a in row.attachments
        ],
        "messages": [{"from": msg.author, "at": msg.at.isoformat(), "text": msg.text}
                     for msg in row.messages],
        "classification": None if cls is None else {
            "version": cls.version,
            "source": cls.source,
            "model_version": cls.model_version,
            "in_scope": cls.in_scope,
            "subject_role": cls.subject_role,
            "subjects": cls.subjects,
            "disciplines": cls.disciplines,
            "routes": cls.routes,
            "confidence": cls.confidence,
            "needs_review": cls.needs_review,
            "evidence": cls.evidence,
        },
    }
    if with_identity:
        _add_originals(desk, row, record)
    return record


def _add_originals(desk: Desk, row: m.Submission, record: dict[str, Any]) -> None:
    """The identity and what masking hid: unmasked title and text, messages, file names."""
    keyring = desk.keyring
    if row.identity_sealed is not None:
        identity = keyring.open_identity(row.identity_sealed)
        record["reporter"] = {k: v for k, v in asdict(identity).items() if v}
    for key, value in open_text(keyring, row.original_sealed).items():  # as written
        if key.startswith("subject_"):
            record["subject"][key.removeprefix("subject_")] = value
        else:
            record[key] = value
    for out, msg in zip(record["messages"], row.messages, strict=True):
        out.update(open_text(keyring, msg.original_sealed))
    for out, att in zip(record["attachments"], row.attachments, strict=True):
        if att.name_sealed is not None:
            out["original_name"] = open_name(keyring, att.name_sealed)
