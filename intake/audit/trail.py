"""Reading the audit log: filtered, keyset-paged listing and the CSV export of the audit page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from intake.audit.labels import action_label, same_label_codes
from intake.store import models as m
from intake.workdays import CHINA

PAGE_SIZE = 50
CSV_HEADER = ("序号", "时间（北京时间）", "操作人", "操作", "操作代码", "件号", "理由", "详情")


@dataclass(frozen=True)
class TrailFilters:
    """What the audit page searches by; dates are days in the service's local time."""

    actor: str = ""  # part of the actor's username or display name, any case
    action: str = ""  # an action code: matches every code with the same Chinese label
    submission_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive

    def as_detail(self) -> dict[str, Any]:
        """The filters as an audit event's detail (for the export's own record)."""
        return {k: v for k, v in (
            ("actor", self.actor), ("filter_action", self.action), ("item", self.submission_id),
            ("since", self.since.isoformat() if self.since else None),
            ("until", self.until.isoformat() if self.until else None)) if v}


@dataclass(frozen=True)
class TrailPage:
    rows: list[m.AuditEvent]
    next_cursor: int | None  # the seq to continue below, None on the last page


def _filtered(f: TrailFilters) -> Select[tuple[m.AuditEvent]]:
    stmt = select(m.AuditEvent)
    if f.actor:
        named = select(m.StaffUser.id).where(
            m.StaffUser.username.icontains(f.actor, autoescape=True)
            | m.StaffUser.display_name.icontains(f.actor, autoescape=True))
        stmt = stmt.where(m.AuditEvent.actor_label.icontains(f.actor, autoescape=True)
                          | m.AuditEvent.actor_id.in_(named))
    if f.action:
        stmt = stmt.where(m.AuditEvent.action.in_(same_label_codes(f.action)))
    if f.submission_id is not None:
        stmt = stmt.where(m.AuditEvent.submission_id == f.submission_id)
    if f.since is not None:
        stmt = stmt.where(m.AuditEvent.at >= datetime.combine(f.since, time(), CHINA))
    if f.until is not None:
        end = datetime.combine(f.until + timedelta(days=1), time(), CHINA)
        stmt = stmt.where(m.AuditEvent.at < end)
    return stmt


def db_trail_page(session: Session, f: TrailFilters, cursor: int | None = None,
                  size: int = PAGE_SIZE) -> TrailPage:
    """Newest first, `size` events below seq `cursor` (keyset: page N costs what page 1 does)."""
    stmt = _filtered(f)
    if cursor is not None:
        stmt = stmt.where(m.AuditEvent.seq < cursor)
    rows = list(session.scalars(stmt.order_by(m.AuditEvent.seq.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return TrailPage(rows, rows[-1].seq if more else None)


def iter_trail(session: Session, f: TrailFilters) -> Iterator[m.AuditEvent]:
    """Every matching event, oldest first, streamed in batches."""
    stmt = _filtered(f).order_by(m.AuditEvent.seq).execution_options(yield_per=1000)
    rows = session.scalars(stmt)
    try:
        yield from rows
    finally:
        rows.close()  # also when the download is abandoned half-way


def _cell(value: Any) -> str:
    """A CSV cell that Excel shows as text: never a formula (=, +, -, @ at the start)."""
    s = "" if value is None else str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def csv_lines(events: Iterable[m.AuditEvent]) -> Iterator[str]:
    """The export as CSV text in pieces: a UTF-8 BOM first, so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + flush()
    for n, e in enumerate(events, 1):
        writer.writerow([_cell(v) for v in (
            e.seq, e.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"), e.actor_label,
            action_label(e.action), e.action, e.submission_id or "", e.reason,
            json.dumps(e.detail, ensure_ascii=False) if e.detail else "")])
        if n % 200 == 0:
            yield flush()
    yield flush()
