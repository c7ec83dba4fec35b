"""Bearer tokens held by machines (call-centre devices, trusted API clients): shown once,
stored only as a digest, found by it while not revoked, each use noted."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from sqlalchemy import select, update

from intake.desk import Desk
from intake.store.db import begin_write
from intake.store.models import utcnow

Holder = TypeVar("Holder", bound=Any)


def token_lookup(token: str) -> str:
    """Tokens are 256 random bits: a plain digest is enough to find one, and reveals none."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_holder(desk: Desk, model: type[Holder], token: str, prefix: str) -> Holder | None:
    """The active row of `model` (a table with token_lookup, revoked_at, last_used_at) that
    holds `token`, or None; notes when it was last used."""
    if not token.startswith(prefix):
        return None
    with desk.sessions() as session:
        begin_write(session)
        holder = session.scalar(select(model).where(
            model.token_lookup == token_lookup(token), model.revoked_at.is_(None)))
        if holder is None:
            return None
        session.execute(update(model).where(model.id == holder.id)
                        .values(last_used_at=utcnow()))
        session.commit()
        session.expunge(holder)
        return holder
