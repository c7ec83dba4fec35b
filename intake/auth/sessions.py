"""Staff sessions held on the server: opened at login, looked up on every staff request.

The cookie carries 32 random bytes; the table keeps only their SHA-256, so a copy of the
database opens no session. A session ends when it is deleted: logout, a password change (the
user's other sessions), a disabled account, a reset second factor, idle time or its lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.desk import Desk
from intake.settings import Settings
from intake.store import models as m
from intake.store.db import begin_write

# Writing last_seen_at on every request would make each page view a write; a minute of
# slack on a 30-minute idle limit costs nothing.
TOUCH_EVERY = timedelta(seconds=60)
# Between the password and the code: long enough to find the phone, no longer.
CODE_STEP_LIMIT = timedelta(minutes=5)


@dataclass(frozen=True)
class OpenSession:
    """A live session and its account, as the staff pages need them."""

    session_id: int
    user: m.StaffUser
    awaiting_code: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def db_open_session(session: Session, user_id: int, now: datetime, *,
                    awaiting_code: bool = False) -> str:
    """Start a session for `user_id`; return the token for the cookie (the caller commits)."""
    token = secrets.token_urlsafe(32)
    session.add(m.StaffSession(token_hash=token_hash(token), user_id=user_id, created_at=now,
                               last_seen_at=now, awaiting_code=awaiting_code))
    return token


def find_session(desk: Desk, token: str, now: datetime) -> OpenSession | None:
    """The live session for a cookie's token, else None; ends (and audits) an expired one.

    Reads without the write lock; writes only when the session expired or `last_seen_at` is
    due to move (once a minute), so page views do not queue behind each other on SQLite.
    """
    if not token or len(token) > 100:
        return None
    with desk.sessions() as session:
        row = _by_token(session, token)
        user = session.get(m.StaffUser, row.user_id) if row is not None else None
    if row is None or user is None:
        return None
    why = "disabled" if not user.active else _expired(row, now, desk.settings)
    if not why and now - row.last_seen_at < TOUCH_EVERY:
        return OpenSession(row.id, user, row.awaiting_code)
    with desk.sessions() as session:
        begin_write(session)
        if why:
            session.execute(delete(m.StaffSession).where(m.StaffSession.id == row.id))
            if why != "disabled":
                db_record(session, "session.expired", actor_id=user.id,
                          actor_label=user.username, why=why)
        elif not session.execute(update(m.StaffSession).where(m.StaffSession.id == row.id)
                                 .values(last_seen_at=now)).rowcount:
            why = "ended"  # logged out (or ended otherwise) since it was read
        session.commit()
    return None if why else OpenSession(row.id, user, row.awaiting_code)


def _expired(row: m.StaffSession, now: datetime, settings: Settings) -> str:
    if row.awaiting_code and now - row.created_at > CODE_STEP_LIMIT:
        return "code_step"
    if now - row.created_at > timedelta(hours=settings.staff_session_hours):
        return "lifetime"
    if now - row.last_seen_at > timedelta(minutes=settings.staff_idle_minutes):
        return "idle"
    return ""


def db_complete_code_step(session: Session, session_id: int, now: datetime) -> str:
    """The second factor is done: replace the half-open session by a full one (new token)."""
    row = session.get(m.StaffSession, session_id)
    if row is None:
        raise LookupError(session_id)
    user_id = row.user_id
    session.delete(row)
    return db_open_session(session, user_id, now)


def db_end_token(session: Session, token: str) -> None:
    """End the session a cookie names, if it is still there (a login over an old one)."""
    session.execute(delete(m.StaffSession).where(m.StaffSession.token_hash == token_hash(token)))


def db_end_user_session(session: Session, session_id: int) -> None:
    """End one session (logout)."""
    session.execute(delete(m.StaffSession).where(m.StaffSession.id == session_id))


def db_end_user_sessions(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """End every session of a user (but `keep`, a session id); return how many ended."""
    query = delete(m.StaffSession).where(m.StaffSession.user_id == user_id)
    if keep is not None:
        query = query.where(m.StaffSession.id != keep)
    return session.execute(query).rowcount or 0


def db_prune(session: Session, now: datetime, settings: Settings) -> int:
    """Delete sessions past their lifetime or idle limit that nobody came back to end."""
    lifetime = now - timedelta(hours=settings.staff_session_hours)
    idle = now - timedelta(minutes=settings.staff_idle_minutes)
    result = session.execute(delete(m.StaffSession).where(
        (m.StaffSession.created_at < lifetime) | (m.StaffSession.last_seen_at < idle)))
    return result.rowcount or 0


def _by_token(session: Session, token: str) -> m.StaffSession | None:
    return session.scalar(select(m.StaffSession)
                          .where(m.StaffSession.token_hash == token_hash(token)))
