"""Masked texts and names in the database, their sealed originals, and the reveal of both.

`intake.masking` decides what is hidden; this module stores the result: masked text in the
searchable columns, the unmasked original sealed beside it (only when masking changed
something), attachment names as `附件N.ext` with the uploaded name sealed. It also opens the
originals for a team leader's audited reveal, and masks rows stored before masking existed
(`backfill`, run by `intake protect backfill`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.attachments import StoredFile, safe_filename
from intake.desk import Desk
from intake.masking import mask_json, mask_text, shown_name
from intake.protect import Identity, Keyring
from intake.store import models as m
from intake.store.db import begin_write

log = logging.getLogger(__name__)

TEXT_CONTEXT = b"original-text"
NAME_CONTEXT = b"file-name"


def masked_fields(
    keyring: Keyring, identity: Identity | None, **fields: str
) -> tuple[dict[str, str], bytes | None]:
    """Each field masked, and the originals of those that changed sealed (None if none did)."""
    masked = {k: mask_text(v, identity) for k, v in fields.items()}
    changed = {k: v for k, v in fields.items() if masked[k] != v}
    return masked, seal_text(keyring, changed) if changed else None


def seal_text(keyring: Keyring, originals: dict[str, str]) -> bytes:
    return keyring.seal(json.dumps(originals, ensure_ascii=False).encode("utf-8"), TEXT_CONTEXT)


def open_text(keyring: Keyring, sealed: bytes | None) -> dict[str, str]:
    if sealed is None:
        return {}
    value = json.loads(keyring.unseal(sealed, TEXT_CONTEXT))
    return value if isinstance(value, dict) else {}


def seal_name(keyring: Keyring, name: str) -> bytes:
    return keyring.seal(safe_filename(name).encode("utf-8"), NAME_CONTEXT)


def open_name(keyring: Keyring, sealed: bytes | None) -> str:
    return "" if sealed is None else keyring.unseal(sealed, NAME_CONTEXT).decode("utf-8")


def case_identity(keyring: Keyring, row: m.Submission) -> Identity:
    return Identity() if row.identity_sealed is None else keyring.open_identity(row.identity_sealed)


def db_add_attachments(
    session: Session, keyring: Keyring, submission_id: int, files: Iterable[StoredFile],
    message_id: int | None = None,
) -> list[m.Attachment]:
    """Attachment rows numbered on from the item's last (附件1.jpg, 附件2.pdf …), each with
    the extension of its sniffed type and its uploaded name sealed."""
    number = session.scalar(select(func.count(m.Attachment.id)).where(
        m.Attachment.submission_id == submission_id)) or 0
    rows = []
    for f in files:
        number += 1
        rows.append(m.Attachment(
            submission_id=submission_id, message_id=message_id, sha256=f.sha256, size=f.size,
            original_name=shown_name(number, f.content_type),
            name_sealed=seal_name(keyring, f.original_name) if f.original_name else None,
            content_type=f.content_type, storage_name=f.storage_name))
    session.add_all(rows)
    return rows


def db_reporter_message(
    session: Session, keyring: Keyring, case: m.Submission, text: str, *,
    at: datetime | None = None, also: Identity | None = None,
) -> m.Message:
    """A reporter's follow-up on their case, masked with the case's identity (and `also`, the
    identity the follow-up arrived with, e.g. an e-mail's sender), its original sealed."""
    masked = mask_text(text, case_identity(keyring, case))
    if also is not None:
        masked = mask_text(masked, also)
    msg = m.Message(submission_id=case.id, author="reporter", text=masked,
                    original_sealed=seal_text(keyring, {"text": text}) if masked != text
                    else None)
    if at is not None:
        msg.at = at
    session.add(msg)
    return msg


@dataclass(frozen=True)
class Originals:
    """What masking hid on an item, for a team leader's audited reveal."""

    title: str = ""
    text: str = ""
    subject: dict[str, str] = field(default_factory=dict)  # subject_name … as the reporter wrote
    messages: dict[int, str] = field(default_factory=dict)  # message id → original text
    files: dict[int, str] = field(default_factory=dict)  # attachment id → uploaded name

    def is_empty(self) -> bool:
        return not (self.title or self.text or self.subject or self.messages or self.files)


def has_originals(session: Session, row: m.Submission) -> bool:
    """Whether masking hid anything on this item (so a reveal has something to show)."""
    return row.original_sealed is not None or bool(session.scalar(select(
        select(m.Message.id).where(m.Message.submission_id == row.id,
                                   m.Message.original_sealed.is_not(None)).exists()
        | select(m.Attachment.id).where(m.Attachment.submission_id == row.id,
                                        m.Attachment.name_sealed.is_not(None)).exists())))


def db_originals(session: Session, keyring: Keyring, row: m.Submission) -> Originals:
    text = open_text(keyring, row.original_sealed)
    messages = {msg.id: open_text(keyring, msg.original_sealed).get("text", "")
                for msg in session.scalars(select(m.Message).where(
                    m.Message.submission_id == row.id, m.Message.original_sealed.is_not(None)))}
    files = {a.id: open_name(keyring, a.name_sealed) for a in session.scalars(select(
        m.Attachment).where(m.Attachment.submission_id == row.id,
                            m.Attachment.name_sealed.is_not(None)).order_by(m.Attachment.id))}
    subject = {k: v for k, v in text.items() if k.startswith("subject_")}
    return Originals(title=text.get("title", ""), text=text.get("text", ""), subject=subject,
                     messages=messages, files=files)


# --- masking rows stored before masking existed ---------------------------------------------


@dataclass
class BackfillCounts:
    items: int = 0
    messages: int = 0
    attachments: int = 0
    scan_files: int = 0
    scan_texts: int = 0
    evidence: int = 0

    def total(self) -> int:
        return sum(vars(self).values())


BATCH = 200


def backfill(desk: Desk) -> BackfillCounts:
    """Mask what is already stored, committing every BATCH items; idempotent.

    Texts already masked stay as they are; an original is sealed only where masking changes
    the text now and none was sealed before (a sealed original is never overwritten). Run it
    with the service stopped: it rewrites rows the service may be writing.
    """
    counts = BackfillCounts()
    keyring = desk.keyring
    with desk.sessions() as session:
        ids = list(session.scalars(select(m.Submission.id).order_by(m.Submission.id)))
    for start in range(0, len(ids), BATCH):
        with desk.sessions() as session:
            begin_write(session)
            for row in session.scalars(select(m.Submission).where(
                    m.Submission.id.in_(ids[start:start + BATCH]))):
                _backfill_item(session, keyring, row, counts)
            session.commit()
    with desk.sessions() as session:
        begin_write(session)
        _backfill_rest(session, keyring, counts)
        session.commit()
    return counts


def _backfill_item(
    session: Session, keyring: Keyring, row: m.Submission, counts: BackfillCounts
) -> None:
    identity = case_identity(keyring, row)
    masked, sealed = masked_fields(keyring, identity, title=row.title, text=row.text)
    if sealed is not None:
        if row.original_sealed is None:
            row.original_sealed = sealed
        row.title, row.text = masked["title"][:200], masked["text"]
        counts.items += 1
    for msg in session.scalars(select(m.Message).where(
            m.Message.submission_id == row.id, m.Message.author == "reporter")):
        text = mask_text(msg.text, identity)
        if text != msg.text:
            if msg.original_sealed is None:
                msg.original_sealed = seal_text(keyring, {"text": msg.text})
            msg.text = text
            counts.messages += 1
    for cls in session.scalars(select(m.Classification).where(
            m.Classification.submission_id == row.id)):
        evidence = mask_json(cls.evidence, identity)
        if evidence != cls.evidence:
            cls.evidence = evidence
            counts.evidence += 1
    for number, att in enumerate(session.scalars(select(m.Attachment).where(
            m.Attachment.submission_id == row.id).order_by(m.Attachment.id)), start=1):
        name = shown_name(number, att.content_type)
        if att.original_name != name:
            if att.name_sealed is None:
                att.name_sealed = seal_name(keyring, att.original_name)
            att.original_name = name
            counts.attachments += 1


def _backfill_rest(session: Session, keyring: Keyring, counts: BackfillCounts) -> None:
    for link in session.scalars(select(m.DuplicateLink)):
        evidence = mask_json(link.evidence)
        if evidence != link.evidence:
            link.evidence = evidence
            counts.evidence += 1
    for f in session.scalars(select(m.ScanFile)):
        name = shown_name(f.seq, f.content_type)
        if f.original_name != name:
            if f.name_sealed is None:
                f.name_sealed = seal_name(keyring, f.original_name)
            f.original_name = name
            counts.scan_files += 1
    for page in session.scalars(select(m.ScanPage).where(m.ScanPage.ocr_text != "")):
        text = mask_text(page.ocr_text)
        if text != page.ocr_text:
            page.ocr_text = text
            counts.scan_texts += 1
    for letter in session.scalars(select(m.ScanLetter).where(m.ScanLetter.text.is_not(None))):
        text = mask_text(letter.text or "")
        if text != letter.text:
            letter.text = text
            counts.scan_texts += 1
    return counts



COMPACTED = ("submissions", "messages", "attachments", "classifications", "duplicate_links",
             "scan_files", "scan_pages", "scan_letters")


def compact(desk: Desk, tables: Sequence[str] = COMPACTED) -> None:
    """Rewrite the database files so texts replaced by a backfill (or a purge) do not linger
    in free pages (SQLite: VACUUM, then an emptied WAL; PostgreSQL: VACUUM FULL of `tables`)."""
    if desk.engine.dialect.name == "sqlite":
        raw = desk.engine.raw_connection()  # outside any transaction, which VACUUM needs
        try:
            raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        return
    engine = desk.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM FULL " + ", ".join(tables))
