"""The retention rule: what is left of a round once its keeping time is over.

A round archived `round_retention_days` ago (0: never) has everything that identifies a
reporter or tells what they said destroyed: sealed identities and originals, titles, texts
and subject fields, messages, attachment, raw-mail and scan files (a file another round's row
still names stays), uploaded names, mail envelopes, OCR texts, the classifier's evidence and
named subjects, duplicate evidence and text signatures, notes, queued replies and case visits;
the query code no longer finds the case (nothing can be added to it).
What stays are the counts: channel, time received, status, scope, subject role, disciplines
and routes, late and spam flags, and the audit trail, which gets one `round.purge` event with
the numbers destroyed (audit events carry ids and labels, never a text).

Items are purged 500 to a transaction and files removed after each commit, so a large round
does not hold one giant transaction and an interrupted purge resumes where it stopped; the
round is marked `purged_at` last. `RetentionWorker` runs it daily inside `intake serve`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from intake import search
from intake.audit import db_record
from intake.desk import Desk
from intake.protect import Identity
from intake.scope import unscoped
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import PURGED_TEXT, utcnow

log = logging.getLogger(__name__)

BATCH = 500
DAY_SECONDS = 24 * 3600
# Tables whose rows a purge rewrites: compacted afterwards so the old bytes do not linger.
TOUCHED = ("submissions", "messages", "attachments", "classifications", "decisions",
           "duplicate_links", "text_signatures", "inbound_mails", "outbox", "desk_entries",
           "appointments", "case_visits", "scan_batches", "scan_files", "scan_pages",
           "scan_letters")


@dataclass
class PurgeCounts:
    """What one purge destroyed (the `round.purge` audit event's detail)."""

    items: int = 0
    identities: int = 0
    originals: int = 0
    messages: int = 0
    attachments: int = 0
    mails: int = 0
    scan_files: int = 0
    scan_pages: int = 0
    files_deleted: int = 0


def purge_deadline(state_changed_at: datetime, retention_days: int) -> datetime | None:
    """When an archived round's materials are due for destruction (None: kept for ever)."""
    return None if retention_days <= 0 else state_changed_at + timedelta(days=retention_days)


def due_rounds(session: Session, retention_days: int, now: datetime) -> list[tuple[int, str]]:
    """(id, slug) of the archived rounds whose retention has run out and that are not purged."""
    if retention_days <= 0:
        return []
    with unscoped(session):
        return [(r.id, r.slug) for r in session.execute(
            select(m.Round.id, m.Round.slug).where(
                m.Round.state == "archived", m.Round.purged_at.is_(None),
                m.Round.state_changed_at <= now - timedelta(days=retention_days))
            .order_by(m.Round.id))]


def purge_due(desk: Desk, now: datetime | None = None, *,
              stop: threading.Event | None = None, actor_label: str = "system") -> list[str]:
    """Purge every round that is due (see the module's docstring); return their slugs.

    Safe to run while the service runs and to run again: a round already purged is not due,
    and a purge cut short (`stop`, a crash) carries on with the items it had not reached.
    On SQLite the freed space is zeroed (secure_delete) and the WAL emptied afterwards;
    PostgreSQL gets a plain VACUUM (`intake rounds purge` compacts fully).
    """
    now = now or utcnow()
    with desk.sessions() as session:
        due = due_rounds(session, desk.settings.round_retention_days, now)
    done = []
    for round_id, slug in due:
        if purge_round(desk, round_id, now=now, stop=stop, actor_label=actor_label) is None:
            break  # stopped: the rest waits for the next run
        done.append(slug)
    if done:
        settle(desk)
        desk.rounds.refresh(force=True)
    return done


def purge_round(desk: Desk, round_id: int, *, now: datetime | None = None,
                stop: threading.Event | None = None,
                actor_label: str = "system") -> PurgeCounts | None:
    """Destroy one round's identities, originals and texts, batch by batch; None if `stop`
    was set before it finished (nothing is marked, the next run resumes)."""
    counts = PurgeCounts()
    after = 0
    while True:
        if stop is not None and stop.is_set():
            return None
        with desk.sessions() as session, unscoped(session):
            begin_write(session)
            ids = list(session.scalars(
                select(m.Submission.id).where(m.Submission.round_id == round_id,
                                              m.Submission.id > after,
                                              m.Submission.text != PURGED_TEXT)
                .order_by(m.Submission.id).limit(BATCH)))
            if not ids:
                break
            files = _purge_items(session, desk, ids, counts)
            session.commit()
        counts.files_deleted += _delete_unreferenced(desk, files)
        after = ids[-1]
    with desk.sessions() as session, unscoped(session):
        batch_ids = list(session.scalars(select(m.ScanBatch.id).where(
            m.ScanBatch.round_id == round_id).order_by(m.ScanBatch.id)))
    for batch_id in batch_ids:
        if stop is not None and stop.is_set():
            return None
        with desk.sessions() as session, unscoped(session):
            begin_write(session)
            files = _purge_scan_batch(session, batch_id, counts)
            session.commit()
        counts.files_deleted += _delete_unreferenced(desk, files)
    with desk.sessions() as session, unscoped(session):
        begin_write(session)
        # Deleted index entries are only marked in SQLite's FTS5 segments until merged.
        search.db_compact(session.connection())
        row = session.get(m.Round, round_id)
        assert row is not None
        counts.items = session.scalar(select(func.count(m.Submission.id)).where(
            m.Submission.round_id == round_id)) or 0
        row.purged_at = now or utcnow()
        db_record(session, "round.purge", actor_label=actor_label, round=row.slug,
                  details=asdict(counts))
        session.commit()
        log.info("round %s purged: %s", row.slug, asdict(counts))
    return counts


def _purge_items(session: Session, desk: Desk, ids: list[int],
                 counts: PurgeCounts) -> set[str]:
    """Rewrite one batch of items; return the storage names their rows no longer name."""
    items = m.Submission.id.in_(ids)
    message_ids = select(m.Message.id).where(m.Message.submission_id.in_(ids))
    mails = or_(m.InboundMail.submission_id.in_(ids), m.InboundMail.message_id.in_(message_ids))
    files = set(session.scalars(select(m.Attachment.storage_name).where(
        m.Attachment.submission_id.in_(ids))))
    files |= set(session.scalars(select(m.InboundMail.raw_storage_name).where(mails)))
    counts.identities += session.scalar(select(func.count(m.Submission.id)).where(
        items, m.Submission.identity_sealed.is_not(None))) or 0
    counts.originals += session.scalar(select(func.count(m.Submission.id)).where(
        items, m.Submission.original_sealed.is_not(None))) or 0
    counts.messages += session.scalar(select(func.count(m.Message.id)).where(
        m.Message.submission_id.in_(ids), m.Message.text != PURGED_TEXT)) or 0
    counts.attachments += session.scalar(select(func.count(m.Attachment.id)).where(
        m.Attachment.submission_id.in_(ids), m.Attachment.storage_name != "")) or 0
    counts.mails += session.scalar(select(func.count(m.InboundMail.id)).where(
        mails, m.InboundMail.raw_storage_name != "")) or 0
    # A named item stays named (the counts of named and anonymous reports remain), so the
    # database's rule that a named item has an identity holds: it gets an empty one.
    empty = desk.keyring.seal_identity(Identity())
    # The query code finds the case no more (a reporter's follow-up, by the status page or a
    # mail quoting it, would bring new text to a destroyed case): its lookup becomes a value
    # no code's HMAC can take, still unique.
    blank = {"title": PURGED_TEXT, "text": PURGED_TEXT, "subject_name": "", "subject_unit": "",
             "subject_post": "", "original_sealed": None, "sender_lookup": None,
             "code_lookup": "purged:" + cast(m.Submission.id, String), "secret_hash": ""}
    _run(session, update(m.Submission).where(items, m.Submission.anonymous.is_(True))
                    .values(identity_sealed=None, identity_key_id=None, **blank))
    _run(session, update(m.Submission).where(items, m.Submission.anonymous.is_(False))
                    .values(identity_sealed=empty, identity_key_id=desk.keyring.key_id,
                            **blank))
    _run(session, update(m.Message).where(m.Message.submission_id.in_(ids))
                    .values(text=PURGED_TEXT, original_sealed=None))
    _run(session, update(m.Attachment).where(m.Attachment.submission_id.in_(ids))
                    .values(name_sealed=None, storage_name="", sha256=""))
    _run(session, update(m.InboundMail).where(mails).values(
        envelope_sealed=b"", raw_storage_name="", raw_sha256="", spam_reasons=[]))
    _run(session, update(m.Classification).where(m.Classification.submission_id.in_(ids))
                    .values(subjects=[], candidates=[], evidence=[]))
    _run(session, update(m.Decision).where(m.Decision.submission_id.in_(ids)).values(note=""))
    _run(session, update(m.DuplicateLink).where(or_(
        m.DuplicateLink.submission_id.in_(ids), m.DuplicateLink.other_id.in_(ids)))
        .values(evidence=[]))
    _run(session, delete(m.TextSignature).where(m.TextSignature.submission_id.in_(ids)))
    # The search index holds the texts' words: destroyed with them (intake.search).
    _run(session, delete(m.SearchText).where(m.SearchText.submission_id.in_(ids)))
    _run(session, update(m.OutboxMail).where(
        m.OutboxMail.submission_id.in_(ids), m.OutboxMail.status.in_(("queued", "held")))
        .values(status="failed"))
    _run(session, update(m.OutboxMail).where(m.OutboxMail.submission_id.in_(ids))
                    .values(sealed=None, recipient_lookup="", last_error=""))
    _run(session, update(m.DeskEntry).where(m.DeskEntry.submission_id.in_(ids))
                    .values(external_id=None))
    _run(session, update(m.Appointment).where(m.Appointment.submission_id.in_(ids))
                    .values(note=""))
    _run(session, delete(m.CaseVisit).where(m.CaseVisit.submission_id.in_(ids)))
    # After triage: the matter a transfer carried, the bodies' answers, staff notes on steps.
    # Numbers, dates, keepers and dispositions stay: the ledger's record of what was done.
    _run(session, update(m.Transfer).where(m.Transfer.submission_id.in_(ids))
                    .values(matter=PURGED_TEXT, note=""))
    transfers = select(m.Transfer.id).where(m.Transfer.submission_id.in_(ids))
    _run(session, update(m.TransferReply).where(m.TransferReply.transfer_id.in_(transfers))
                    .values(text=PURGED_TEXT))
    _run(session, update(m.ItemStep).where(m.ItemStep.submission_id.in_(ids)).values(note=""))
    return {f for f in files if f}


def _run(session: Session, statement: Any) -> None:
    # Bulk statements: no object of these rows is loaded in the session to keep in step.
    session.execute(statement, execution_options={"synchronize_session": False})


def _purge_scan_batch(session: Session, batch_id: int, counts: PurgeCounts) -> set[str]:
    """A scan batch's files, names and texts (its letters' items are purged with the items)."""
    files = set(session.scalars(select(m.ScanFile.storage_name).where(
        m.ScanFile.batch_id == batch_id)))
    counts.scan_files += session.scalar(select(func.count(m.ScanFile.id)).where(
        m.ScanFile.batch_id == batch_id, m.ScanFile.storage_name != "")) or 0
    counts.scan_pages += session.scalar(select(func.count(m.ScanPage.id)).where(
        m.ScanPage.batch_id == batch_id)) or 0
    _run(session, update(m.ScanBatch).where(m.ScanBatch.id == batch_id).values(note=""))
    _run(session, update(m.ScanFile).where(m.ScanFile.batch_id == batch_id)
                    .values(name_sealed=None, storage_name="", sha256=""))
    # Pages still waiting for OCR would only fail on a file that is gone.
    _run(session, update(m.ScanPage).where(m.ScanPage.batch_id == batch_id,
                                             m.ScanPage.ocr_status.in_(("pending", "running")))
                    .values(ocr_status="failed", ocr_claim=None, ocr_claimed_at=None,
                            ocr_error=PURGED_TEXT))
    _run(session, update(m.ScanPage).where(m.ScanPage.batch_id == batch_id)
                    .values(ocr_text=""))
    _run(session, update(m.ScanLetter).where(m.ScanLetter.batch_id == batch_id)
                    .values(text=None))
    return {f for f in files if f}


def _delete_unreferenced(desk: Desk, names: Iterable[str]) -> int:
    """Remove the stored files no row names any more (the same content may belong to an item
    of another round: then it stays). A crash before this leaves orphans, which the start-up
    sweep of `intake serve` removes."""
    names = set(names)
    if not names:
        return 0
    with desk.sessions() as session, unscoped(session):
        kept: set[str] = set()
        for column in (m.Attachment.storage_name, m.ScanFile.storage_name,
                       m.InboundMail.raw_storage_name):
            kept.update(session.scalars(select(column).where(column.in_(names))))
    deleted = 0
    for name in names - kept:
        path = desk.files.path_of(name)
        if path.exists():
            path.unlink()
            deleted += 1
    return deleted


def settle(desk: Desk) -> None:
    """After a purge in a running service: on SQLite, empty the WAL (freed space is already
    zeroed by secure_delete); on PostgreSQL, a plain VACUUM of the tables touched (no lock
    that would stop intake; `intake rounds purge` runs VACUUM FULL)."""
    try:
        if desk.engine.dialect.name == "sqlite":
            raw = desk.engine.raw_connection()  # outside a transaction, as a checkpoint needs
            try:
                raw.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
            return
        engine = desk.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM " + ", ".join(TOUCHED))
    except Exception:
        log.exception("could not compact the database after a purge")


class RetentionWorker:
    """`intake serve`'s daily run of the retention rule: once at start, then every 24 h;
    `stop()` ends it between batches."""

    def __init__(self, desk: Desk, *, interval_seconds: float = DAY_SECONDS) -> None:
        self.desk = desk
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = purge_due(self.desk, stop=self._stop)
                if done:
                    log.info("retention: purged %d round(s)", len(done))
            except Exception:
                log.exception("retention run failed; trying again at the next run")
            self._stop.wait(self.interval)
