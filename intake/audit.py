"""The audit log: append-only events for every sensitive act (reveals, exports, decisions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from intake.store import models as m


def db_record(
    session: Session,
    action: str,
    *,
    actor_label: str,
    actor_id: int | None = None,
    submission_id: int | None = None,
    reason: str = "",
    **detail: Any,
) -> m.AuditEvent:
    """Add an audit event to the session's transaction (the caller commits)."""
    event = m.AuditEvent(
        action=action,
        actor_id=actor_id,
        actor_label=actor_label,
        submission_id=submission_id,
        reason=reason,
        detail=detail,
    )
    session.add(event)
    return event
