"""What the staff-side views share: the desk, permission checks, local times from forms."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Response, abort, current_app, g

from intake.desk import Desk
from intake.staff import may
from intake.store.models import utcnow
from intake.submission import InvalidSubmissionError
from intake.workdays import CHINA


def desk() -> Desk:
    return current_app.extensions["desk"]


def now() -> datetime:
    """The time for sessions and logins: the app's clock (tests set one), else the real one."""
    clock = current_app.extensions.get("clock")
    return clock() if clock is not None else utcnow()


def require(permission: str) -> None:
    """403 unless the signed-in staff member's role has `permission`."""
    if not may(g.staff.role, permission):
        abort(403)


def now_local() -> str:
    """Now, as a `datetime-local` field's default value."""
    return datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str, field: str) -> datetime:
    """A `datetime-local` value, read in the service's local time (UTC+8)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidSubmissionError(field, "时间格式不对，应为 2026-03-05 09:30。") from exc
    if not 2000 <= parsed.year <= 2100:
        raise InvalidSubmissionError(field, "时间不对，请核对年份。")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)


def document(content: bytes, name: str, mimetype: str) -> Response:
    """A generated document (a letter, the ledger) as a download under its Chinese name,
    never cached (it may carry item contents)."""
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    g.no_store = True
    return response
