"""Follow-up pages: 超期督办 (every clock past its limit, a reminder to a late body), the daily
digest (日报), and the duty desk's feedback lists (件件有回音): calls to make, letters to print.

The pages run in the viewer's scope (the staff blueprint's login check enters it): the lists
hold the viewer's teams' rounds only. Lists and marking are duty-desk work (`desk`: duty
officers and team leaders); a number in clear, a letter with the reporter's name and address:
team leaders, audited by the core (intake.followup).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from handlers.web.context import desk, now, require
from intake import followup, leads
from intake.digest import DUE_SOON_WORKING_DAYS, db_digest
from intake.leads import LeadError
from intake.names import CHANNEL_NAMES
from intake.rounds import RoundEntry
from intake.staff import StaffError, may
from intake.submission import IntakeError
from intake.workdays import CHINA

bp = Blueprint("followup", __name__)

STATUS = {"not_found": 404, "forbidden": 403, "invalid": 400, "conflict": 409}


def viewer_rounds() -> list[RoundEntry]:
    """The rounds whose items the viewer reads, newest first."""
    return [e for e in desk().rounds.all() if e.id in g.viewer.round_ids]


# -- 超期督办 ---------------------------------------------------------------------------------


@bp.get("/overdue")
def overdue() -> Any:
    require("view_queue")
    entries = viewer_rounds()
    with desk().sessions() as db:
        found = followup.db_overdue(db, entries, now())
    return render_template("staff/overdue.html", found=found, names=followup.CLOCK_NAMES,
                           hints=followup.CLOCK_HINTS, several=len(entries) > 1,
                           today=now().astimezone(CHINA).date())


@bp.post("/overdue/transfers/<int:transfer_id>/remind")
def remind(transfer_id: int) -> Any:
    require("work_leads")
    try:
        leads.remind(desk(), g.staff, transfer_id, note=request.form.get("note", ""))
    except LeadError as exc:
        if exc.kind == "not_found":
            abort(404)
        flash(exc.message)
        return redirect(url_for("staff.followup.overdue"))
    flash("已督办，督办次数已记录。")
    return redirect(url_for("staff.followup.overdue") + f"#transfer-{transfer_id}")


# -- 日报 -------------------------------------------------------------------------------------


@bp.get("/digest")
def digest() -> Any:
    require("view_queue")
    today = now().astimezone(CHINA).date()
    error, day = "", today
    if value := request.args.get("day", "").strip():
        try:
            day = date.fromisoformat(value)
        except ValueError:
            error = "日期格式不对，应为 2026-10-27。"
        else:
            if not 2000 <= day.year <= 2100:
                error, day = "日期不对，请核对年份。", today
    entries = viewer_rounds()
    with desk().sessions() as db:
        found = db_digest(db, entries, day)
    return render_template("staff/digest.html", d=found, today=today, error=error,
                           channels=CHANNEL_NAMES, soon_days=DUE_SOON_WORKING_DAYS,
                           reply_names=leads.REPLY_NAMES), 400 if error else 200


# -- 回访电话 ---------------------------------------------------------------------------------


def _calls_page(*, revealed: dict[int, str] | None = None, error: str = "",
                status: int = 200) -> Any:
    with desk().sessions() as db:
        calls = followup.db_pending_notices(db, desk(), "callback")
    return render_template("staff/notices_calls.html", calls=calls, script=followup.call_script,
                           revealed=revealed or {}, error=error), status


@bp.get("/notices/calls")
def calls() -> Any:
    require("desk")
    return _calls_page()


@bp.post("/notices/<int:notice_id>/phone")
def phone(notice_id: int) -> Any:
    require("desk")  # the core refuses (and audits) all but team leaders
    try:
        number = followup.reveal_phone(desk(), g.staff, notice_id,
                                       request.form.get("reason", ""))
    except LeadError as exc:
        if exc.kind == "not_found":
            abort(404)
        return _calls_page(error=exc.message, status=STATUS[exc.kind])
    except StaffError as exc:
        if not may(g.staff.role, "reveal_identity"):
            abort(403)
        return _calls_page(error=exc.message, status=400)
    g.no_store = True
    return _calls_page(revealed={notice_id: number})


@bp.post("/notices/<int:notice_id>/called")
def called(notice_id: int) -> Any:
    require("desk")
    answered = request.form.get("outcome") == "done"
    try:
        if answered:
            followup.mark_done(desk(), g.staff, [notice_id], delivery="callback",
                               note=request.form.get("note", ""))
        else:
            followup.no_answer(desk(), g.staff, notice_id, note=request.form.get("note", ""))
    except LeadError as exc:
        if exc.kind == "not_found":
            abort(404)
        return _calls_page(error=exc.message, status=STATUS[exc.kind])
    flash("已记录回复，移出回访名单。" if answered else "已记录未接通，仍在回访名单中。")
    return redirect(url_for("staff.followup.calls"))


# -- 待寄告知书 -------------------------------------------------------------------------------


def _chosen() -> list[int]:
    return [int(v) for v in request.form.getlist("notice") if v.isascii() and v.isdigit()]


def _letters_page(*, error: str = "", status: int = 200, chosen: list[int] | None = None
                  ) -> Any:
    with desk().sessions() as db:
        letters = followup.db_pending_notices(db, desk(), "letter")
    return render_template("staff/notices_letters.html", letters=letters, error=error,
                           chosen=set(chosen or ())), status


@bp.get("/notices/letters")
def letters() -> Any:
    require("desk")
    return _letters_page()


@bp.post("/notices/letters/print")
def print_letters() -> Any:
    require("desk")  # the core refuses (and audits nothing for) all but team leaders
    what = request.form.get("what", "pdf")
    if what not in ("pdf", "docx", "envelopes"):
        abort(400)
    try:
        chosen = followup.letters_to_print(desk(), g.staff, _chosen())
    except LeadError as exc:
        if exc.kind == "forbidden":
            abort(403)
        return _letters_page(error=exc.message, status=STATUS[exc.kind], chosen=_chosen())
    try:
        name, body, mimetype = followup.letter_files(desk(), chosen, what,
                                                     now().astimezone(CHINA).date())
    except IntakeError as exc:  # no Chinese font, an envelope without a neutral address
        return _letters_page(error=str(exc), status=503, chosen=_chosen())
    g.no_store = True
    return _download(name, body, mimetype)


def _download(name: str, body: bytes, mimetype: str) -> Response:
    from urllib.parse import quote

    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name.encode('ascii', 'ignore').decode() or 'letters'}\"; "
        f"filename*=UTF-8''{quote(name)}")
    return response


@bp.post("/notices/letters/sent")
def letters_sent() -> Any:
    require("desk")
    chosen = _chosen()
    try:
        done = followup.mark_done(desk(), g.staff, chosen, delivery="letter")
    except LeadError as exc:
        if exc.kind == "not_found":
            abort(404)
        return _letters_page(error=exc.message, status=STATUS[exc.kind], chosen=chosen)
    flash(f"已登记寄出 {done} 份告知书。")
    return redirect(url_for("staff.followup.letters"))

