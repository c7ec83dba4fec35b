"""Public case visits held on the server: opened by a right query code and password, looked
up on every status-page request, ended by "退出查询", idle time or their lifetime.

The same design as staff sessions (intake.auth.sessions): the cookie carries 32 random bytes
and no item number; the table keeps only their SHA-256, so neither a copied cookie after
leaving nor a copy of the database opens a case. Visits are not audited: a record of when a
reporter looked would itself be a trace of the reporter.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.auth.sessions import TOUCH_EVERY, token_hash
from intake.desk import Desk
from intake.store import models as m
from intake.store.db import begin_write

# A shared family phone: the case closes itself soon after the reporter puts it down.
VISIT_IDLE = timedelta(minutes=20)
VISIT_LIFETIME = timedelta(hours=1)


def open_visit(desk: Desk, submission_id: int, now: datetime, *, replacing: str = "") -> str:
    """Start a visit to `submission_id`; return the token for the cookie.

    `replacing` is the token of a visit this browser already had: it ends. Visits nobody came
    back to end are deleted on the way.
    """
    token = secrets.token_urlsafe(32)
    with desk.sessions() as session:
        begin_write(session)
        if replacing:
            db_end_visit(session, replacing)
        db_prune(session, now)
        session.add(m.CaseVisit(token_hash=token_hash(token), submission_id=submission_id,
                                created_at=now, last_seen_at=now))
        session.commit()
    return token


def find_visit(desk: Desk, token: str, now: datetime) -> int | None:
    """The case (submission id) a live visit's token opens, else None; ends an expired one.

    Writes only when the visit expired or `last_seen_at` is due to move (once a minute).
    """
    if not token or len(token) > 100:
        return None
    with desk.sessions() as session:
        row = session.scalar(select(m.CaseVisit)
                             .where(m.CaseVisit.token_hash == token_hash(token)))
    if row is None:
        return None
    expired = _expired(row, now)
    if not expired and now - row.last_seen_at < TOUCH_EVERY:
        return row.submission_id
    with desk.sessions() as session:
        begin_write(session)
        query = m.CaseVisit.id == row.id
        if expired:
            session.execute(delete(m.CaseVisit).where(query))
        elif not session.execute(update(m.CaseVisit).where(query)
                                 .values(last_seen_at=now)).rowcount:
            expired = True  # left since it was read
        session.commit()
    return None if expired else row.submission_id


def end_visit(desk: Desk, token: str) -> None:
    """End the visit a cookie names, if it is still there ("退出查询")."""
    if not token or len(token) > 100:
        return
    with desk.sessions() as session:
        begin_write(session)
        db_end_visit(session, token)
        session.commit()


def db_end_visit(session: Session, token: str) -> None:
    session.execute(delete(m.CaseVisit).where(m.CaseVisit.token_hash == token_hash(token)))


def db_prune(session: Session, now: datetime) -> int:
    """Delete visits past their idle time or lifetime; return how many."""
    result = session.execute(delete(m.CaseVisit).where(
        (m.CaseVisit.created_at < now - VISIT_LIFETIME)
        | (m.CaseVisit.last_seen_at < now - VISIT_IDLE)))
    return result.rowcount or 0


def _expired(row: m.CaseVisit, now: datetime) -> bool:
    return now - row.created_at > VISIT_LIFETIME or now - row.last_seen_at > VISIT_IDLE
