"""Personal API tokens (`intake users token`): a staff member's credential for the staff API.

A token acts with its user's role and teams, exactly as their login does: the staff API enters
the same scope (intake.scope) with it. It is 256 random bits behind a prefix that makes a leaked
one easy to spot, shown once; only its SHA-256 is stored (`StaffToken`). Creating and revoking
tokens is audited. A token stops working when it is revoked or its account is disabled.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.desk import Desk
from intake.staff import StaffError
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import utcnow
from intake.tokens import find_holder, token_lookup

TOKEN_PREFIX = "xczusr_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot
LABEL_MAX = 100  # staff_tokens.label


def create_token(desk: Desk, username: str, *, label: str = "", actor_label: str,
                 actor_id: int | None = None) -> str:
    """A new personal token for the active account `username`; returned once, never stored.

    StaffError (Chinese) for an unknown or disabled account or an over-long label.
    """
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise StaffError(f"令牌说明最多 {LABEL_MAX} 个字符。")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with desk.sessions() as session:
        begin_write(session)
        user = _user(session, username)
        if not user.active:
            raise StaffError(f"账号 {user.username} 已停用，不能为其创建令牌。")
        row = m.StaffToken(user_id=user.id, token_lookup=token_lookup(token), label=label)
        session.add(row)
        session.flush()
        db_record(session, "token.create", actor_label=actor_label, actor_id=actor_id,
                  username=user.username, token_id=row.id, name=label or None)
        session.commit()
    return token


def revoke_tokens(desk: Desk, username: str, *, actor_label: str,
                  actor_id: int | None = None) -> int:
    """Revoke every token of `username` still in force; returns how many. Audited (also when
    there was none, so the attempt is on record)."""
    with desk.sessions() as session:
        begin_write(session)
        user = _user(session, username)
        revoked = session.execute(
            update(m.StaffToken)
            .where(m.StaffToken.user_id == user.id, m.StaffToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())).rowcount
        db_record(session, "token.revoke", actor_label=actor_label, actor_id=actor_id,
                  username=user.username, tokens=revoked)
        session.commit()
        return revoked


def authenticate(desk: Desk, token: str) -> m.StaffUser | None:
    """The active account holding `token` (not revoked), or None; notes when it was used."""
    holder = find_holder(desk, m.StaffToken, token, TOKEN_PREFIX)
    if holder is None:
        return None
    with desk.sessions() as session:
        user = session.get(m.StaffUser, holder.user_id)
        if user is None or not user.active:
            return None
        session.expunge(user)
        return user


def _user(session: Session, username: str) -> m.StaffUser:
    user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == username.strip()))
    if user is None:
        raise StaffError(f"没有用户名为 {username.strip()} 的账号。")
    return user
