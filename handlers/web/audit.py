"""The audit page: the log in Chinese, searched by actor, action, item and dates, paged by
keyset, exported as CSV for Excel (itself audited), and the chain verified on request.
Nested under the staff blueprint (/staff/audit), so it shares its login."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, render_template, request

from handlers.web.context import desk, require
from intake.audit import ACTION_LABELS, action_label, db_record
from intake.audit.chain import Verification, read_anchors, verify
from intake.audit.labels import action_choices, detail_items
from intake.audit.trail import TrailFilters, csv_lines, db_trail_page, iter_trail
from intake.store.db import begin_write
from intake.workdays import CHINA

bp = Blueprint("audit", __name__)


@bp.app_template_filter("action_label")
def _action_label(action: str) -> str:
    return action_label(action)


@bp.app_template_filter("audit_detail")
def _audit_detail(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    return detail_items(detail)


def _filters() -> tuple[TrailFilters, str]:
    """The search from the query string or form, and a message for what could not be read."""
    args = request.values
    item = args.get("item", "").strip().lstrip("#")
    dates: dict[str, date | None] = {}
    error = ""
    for name in ("since", "until"):
        value = args.get(name, "").strip()
        try:
            dates[name] = date.fromisoformat(value) if value else None
        except ValueError:
            dates[name], error = None, "日期格式应为 2026-03-05，已忽略。"
    filters = TrailFilters(
        actor=args.get("actor", "").strip()[:100],
        action=args.get("action", "").strip()[:50],
        submission_id=int(item) if item.isascii() and item.isdigit() and len(item) < 10 else None,
        since=dates["since"], until=dates["until"])
    return filters, error


def _render(verification: Verification | None = None) -> str:
    filters, error = _filters()
    cursor = request.args.get("cursor", "")
    with desk().sessions() as db:
        found = db_trail_page(db, filters, int(cursor) if cursor.isdigit() else None)
    anchors = read_anchors(desk().settings.data_dir)
    query = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template(
        "staff/audit.html", events=found.rows, next_cursor=found.next_cursor, filters=filters,
        error=error, labels=ACTION_LABELS, choices=action_choices(),
        selected_label=action_label(filters.action) if filters.action else "", query=query,
        anchor=anchors[-1] if anchors else None,
        anchor_at=datetime.fromisoformat(anchors[-1].at) if anchors else None,
        verification=verification)


@bp.get("/")
def page() -> str:
    require("view_audit")
    return _render()


@bp.post("/verify")
def verify_chain() -> str:
    require("view_audit")
    d = desk()
    return _render(verify(d.sessions, d.keyring.audit_key, d.settings.data_dir))


@bp.post("/export")
def export() -> Response:
    """The matching events as CSV; the export is on record before it starts."""
    require("view_audit")
    filters, _ = _filters()
    sessions = desk().sessions
    with sessions() as db:
        begin_write(db)
        db_record(db, "audit.export", actor_id=g.staff.id, actor_label=g.staff.username,
                  details=filters.as_detail())
        db.commit()

    def body() -> Any:  # runs after the view returned: no application context here
        with sessions() as db:
            for piece in csv_lines(iter_trail(db, filters)):
                yield piece.encode("utf-8")

    name = f"审计记录-{datetime.now(CHINA):%Y%m%d-%H%M}.csv"
    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    g.no_store = True
    return response
