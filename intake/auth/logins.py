"""Staff logins: the password step and the second-factor step, throttled per account.

Throttling counts failures per account name, whatever address they come from, so spreading
guesses over many addresses gains nothing. Names that do not exist are throttled the same way
(a keyed digest of the name typed is the key), so the answers never tell whether an account
exists. From `login_delay_after` failures on, each next attempt must wait (2 s, doubling);
at `login_lock_after` the account is locked for `login_lock_minutes`, after which the delays
resume; `intake users unlock NAME` ends a lock at once. An attempt is counted before its
password is checked, so a burst of parallel guesses cannot all slip in before the first
failure is written. Every failure, lock and success goes to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.auth import sessions, totp
from intake.desk import Desk
from intake.protect import password_hasher
from intake.settings import Settings
from intake.store import models as m
from intake.store.db import begin_write

FIRST_DELAY_SECONDS = 2
UNKNOWN_ACCOUNT = "(unknown)"
# Throttle rows of names nobody has tried for this long go (when not locked).
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class LoginOutcome:
    """What one login step came to.

    `refused`: "" (it went through), "wrong" (name, password or code), "wait" (too soon after
    the last failure; `wait_seconds`), "locked" (`wait_seconds` until the lock ends).
    On success `token` is the new session's cookie value and `needs_code` tells whether that
    session still waits for the second factor.
    """

    refused: str = ""
    wait_seconds: int = 0
    user: m.StaffUser | None = None
    token: str = ""
    needs_code: bool = False


def account_key(desk: Desk, username: str) -> str:
    """A keyed digest of the name typed: a password typed into the name field is not kept."""
    name = unicodedata.normalize("NFKC", username.strip())
    return hmac.new(desk.keyring.session_secret, b"login-throttle\x00" + name.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def attempt_password(desk: Desk, username: str, password: str, *, now: datetime,
                     address: str = "", open_session: bool = True) -> LoginOutcome:
    """Check a name and password, throttled and audited; open a session when it is right.

    With a confirmed second factor the session opened waits for the code (`needs_code`).
    """
    username = username.strip()
    key = account_key(desk, username)
    with desk.sessions() as session:
        begin_write(session)
        user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == username))
        refused, previous = _reserve(session, key, now, desk.settings)
        if refused:
            _record_failure(session, user, refused, "password", address)
            session.commit()
            return refused
        session.commit()
    usable = user is not None and user.active
    try:
        password_hasher().verify(user.password_hash if usable else _dummy_hash(), password)
        right = usable
    except (VerificationError, InvalidHashError):
        right = False
    with desk.sessions() as session:
        begin_write(session)
        if not right:
            locked = _failed(session, key, now, desk.settings)
            why = "disabled" if user is not None and not user.active else "wrong"
            _record_failure(session, user, LoginOutcome(refused=why), "password", address)
            if locked:
                _record_lock(session, user, locked, address)
            session.commit()
            return locked or LoginOutcome(refused="wrong")
        user = session.get(m.StaffUser, user.id)  # type: ignore[union-attr]
        assert user is not None
        needs_code = user.totp_confirmed_at is not None
        token = ""
        if needs_code:
            _restore(session, key, previous)  # the account is not through until the code
        else:
            _succeeded(session, key, user, now, address)
        if open_session:
            sessions.db_prune(session, now, desk.settings)  # sessions nobody came back to
            token = sessions.db_open_session(session, user.id, now, awaiting_code=needs_code)
        session.commit()
        return LoginOutcome(user=user, token=token, needs_code=needs_code)


def attempt_code(desk: Desk, session_id: int, code: str, *, now: datetime,
                 address: str = "") -> LoginOutcome:
    """Check the second factor of a session that waits for it: same throttle as passwords.

    On success the half-open session is replaced by a full one with a new token.
    """
    with desk.sessions() as session:
        begin_write(session)
        row = session.get(m.StaffSession, session_id)
        user = session.get(m.StaffUser, row.user_id) if row is not None else None
        if row is None or user is None or not row.awaiting_code:
            return LoginOutcome(refused="wrong")
        key = account_key(desk, user.username)
        refused, _ = _reserve(session, key, now, desk.settings)
        if refused:
            _record_failure(session, user, refused, "code", address)
            session.commit()
            return refused
        if not totp.db_use_code(session, desk.keyring, user, code, now):
            locked = _failed(session, key, now, desk.settings)
            _record_failure(session, user, LoginOutcome(refused="wrong"), "code", address)
            if locked:
                _record_lock(session, user, locked, address)
            session.commit()
            return locked or LoginOutcome(refused="wrong")
        _succeeded(session, key, user, now, address, second_factor=True)
        token = sessions.db_complete_code_step(session, row.id, now)
        session.commit()
        return LoginOutcome(user=user, token=token)


def db_unlock(session: Session, desk: Desk, username: str) -> bool:
    """Forget the failures of `username` (ends a lock); True when there were any."""
    return bool(session.execute(delete(m.LoginThrottle).where(
        m.LoginThrottle.account_key == account_key(desk, username))).rowcount)


def db_locked_until(session: Session, desk: Desk, username: str, now: datetime) -> datetime | None:
    """When the account's login lock ends, or None when it is not locked."""
    row = session.get(m.LoginThrottle, account_key(desk, username))
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until


# -- the throttle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Previous:
    failures: int
    last_failure_at: datetime | None


def _reserve(session: Session, key: str, now: datetime,
             settings: Settings) -> tuple[LoginOutcome | None, _Previous]:
    """Refuse an attempt that comes too soon or while locked; otherwise count it as failed."""
    session.execute(delete(m.LoginThrottle).where(
        m.LoginThrottle.last_failure_at < now - FORGET_AFTER,
        (m.LoginThrottle.locked_until.is_(None)) | (m.LoginThrottle.locked_until < now)))
    row = _locked_row(session, key)
    previous = _Previous(row.failures, row.last_failure_at)
    if row.locked_until is not None:
        if row.locked_until > now:
            return LoginOutcome(refused="locked",
                                wait_seconds=_seconds(row.locked_until - now)), previous
        # The lock is over: delays again, and a lock after as many failures as before.
        row.locked_until = None
        row.failures = min(row.failures, settings.login_delay_after)
    if row.failures >= settings.login_delay_after and row.last_failure_at is not None:
        delay = FIRST_DELAY_SECONDS * 2 ** (row.failures - settings.login_delay_after)
        ready = row.last_failure_at + timedelta(seconds=delay)
        if ready > now:
            return LoginOutcome(refused="wait", wait_seconds=_seconds(ready - now)), previous
    row.failures += 1
    row.last_failure_at = now
    return None, previous


def _locked_row(session: Session, key: str) -> m.LoginThrottle:
    """The account's throttle row, created if need be and locked for this transaction.

    Parallel attempts on one account queue here (PostgreSQL row lock; SQLite's writer lock),
    so each sees the failures the others counted.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(m.LoginThrottle).values(account_key=key, failures=0)
                    .on_conflict_do_nothing())
    return session.get_one(m.LoginThrottle, key, with_for_update=True, populate_existing=True)


def _restore(session: Session, key: str, previous: _Previous) -> None:
    row = _locked_row(session, key)
    if row is not None:
        row.failures = previous.failures
        row.last_failure_at = previous.last_failure_at


def _failed(session: Session, key: str, now: datetime, settings: Settings) -> LoginOutcome | None:
    """The counted attempt failed: lock the account when that was one too many."""
    row = _locked_row(session, key)
    if row.failures < settings.login_lock_after:
        return None
    row.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
    return LoginOutcome(refused="locked", wait_seconds=_seconds(row.locked_until - now))


def _succeeded(session: Session, key: str, user: m.StaffUser, now: datetime, address: str,
               *, second_factor: bool = False) -> None:
    session.execute(delete(m.LoginThrottle).where(m.LoginThrottle.account_key == key))
    user.last_login_at = now
    db_record(session, "login.success", actor_id=user.id, actor_label=user.username,
              address=address, second_factor=second_factor)


def _record_failure(session: Session, user: m.StaffUser | None, outcome: LoginOutcome,
                    step: str, address: str) -> None:
    db_record(session, "login.failure", actor_id=user.id if user else None,
              actor_label=user.username if user else UNKNOWN_ACCOUNT,
              step=step, why=outcome.refused, address=address)


def _record_lock(session: Session, user: m.StaffUser | None, outcome: LoginOutcome,
                 address: str) -> None:
    db_record(session, "login.locked", actor_id=user.id if user else None,
              actor_label=user.username if user else UNKNOWN_ACCOUNT,
              minutes=math.ceil(outcome.wait_seconds / 60), address=address)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


@cache
def _dummy_hash() -> str:
    return password_hasher().hash("timing-equaliser")
