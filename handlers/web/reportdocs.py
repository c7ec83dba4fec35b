"""The team's report documents on the staff side (/staff/reports/…): the weekly intake report
(周报, `weekly.docx?round=SLUG&week=YYYY-Www`) and the round's closing appendices
(`statistics.docx`, `leads.docx`, `transfers.docx`), for the pages and, through
`weekly_download` and `appendix_download`, for the staff API.

Who has what: the weekly report holds counts, numbers, posts and staff names and no item text,
so whoever may count (`view_stats`: triagers, team leaders, and the office across teams) may
have it; the appendices list the leads' masked summaries, so only the team's triagers and
leader (`round_reports`) have them. A round of another team is not found (404), as its items
are. Every download is audited and served no-store (handlers/web/context.document).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from handlers.web.context import desk, document, now, require
from intake.audit import db_record
from intake.items import QueryError, zone_of
from intake.ledgerdata import db_ledger
from intake.reports import (
    DOCX,
    Week,
    appendix_filename,
    db_appendix,
    known_appendix,
    parse_week,
    weekly_docx,
)
from intake.rounds import RoundEntry
from intake.store.db import begin_write

bp = Blueprint("reports", __name__)


def report_round(slug: str) -> RoundEntry | None:
    """The round a report request names: QueryError (`round`) when none is named or no round
    has the slug; None when the viewer may not see it (a 404). The office sees every round."""
    slug = slug.strip()
    if not slug:
        raise QueryError("round", "请指定巡察轮次（round=轮次代码）。")
    entry = desk().rounds.by_slug(slug)
    if entry is None:
        raise QueryError("round", f"没有代码为 {slug[:40]} 的巡察轮次。")
    if g.viewer.role == "office" or entry.id in g.viewer.round_ids:
        return entry
    return None


def _audit(action: str, entry: RoundEntry, *, via: str, **detail: Any) -> None:
    with desk().sessions() as db:
        begin_write(db)
        db_record(db, action, actor_id=g.staff.id, actor_label=g.staff.username,
                  round=entry.slug, via=via, **detail)
        db.commit()


def weekly_week(entry: RoundEntry, value: str) -> Week:
    """The week a request names (empty: last week, in the round's zone); QueryError."""
    return parse_week(value, now(), zone_of(entry.cfg))


def weekly_download(entry: RoundEntry, week: Week, *, via: str) -> Response:
    """The weekly report of `entry` for `week`, its download audited `report.weekly`.
    QueryError (`week`) for a week before the round opened."""
    folder = desk().settings.report_templates_dir
    with desk().sessions() as db:
        name, content = weekly_docx(db, g.viewer, entry, week, now(), folder)
    _audit("report.weekly", entry, via=via, week=week.label)
    return document(content, name, DOCX)


def appendix_download(entry: RoundEntry, kind: str, *, via: str) -> Response:
    """A closing appendix of `entry` (`statistics`, `leads`, `transfers`), its download
    audited `report.appendix`. Runs in the viewer's scope."""
    at = now()
    with desk().sessions() as db:
        ledger = db_ledger(db, entry, at)
        content = db_appendix(db, ledger, kind, at, desk().settings.report_templates_dir)
    _audit("report.appendix", entry, via=via, appendix=kind)
    return document(content, appendix_filename(entry, kind), DOCX)


def _refused(exc: QueryError) -> Any:
    return render_template("error.html", status=400, message=exc.message), 400


@bp.get("/weekly.docx")
def weekly() -> Any:
    require("view_stats")
    try:
        entry = report_round(request.args.get("round", ""))
        if entry is None:
            abort(404)
        return weekly_download(entry, weekly_week(entry, request.args.get("week", "")),
                               via="web")
    except QueryError as exc:
        if exc.field != "week":
            return _refused(exc)
        # a week the round has not: back to the page whose week picker asked, the reason
        # shown above it
        flash(exc.message)
        back = "staff.stats" if request.args.get("from") == "stats" else "staff.ledger.page"
        return redirect(url_for(back, round=request.args.get("round", "")))


@bp.get("/<kind>.docx")
def appendix(kind: str) -> Any:
    require("round_reports")
    if not known_appendix(kind):
        abort(404)
    try:
        entry = report_round(request.args.get("round", ""))
    except QueryError as exc:
        return _refused(exc)
    if entry is None or entry.id not in g.viewer.round_ids:
        abort(404)
    return appendix_download(entry, kind, via="web")
