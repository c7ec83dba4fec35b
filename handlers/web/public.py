"""Public pages: what the team accepts, the report form, the receipt, the status page."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import selectinload

from handlers.web.guard import WorkRequired, guard
from handlers.web.reports import HONEYPOT, parse_bool, submission_from_request
from intake.appointments import (
    AppointmentRequest,
    SlotTakenError,
    appointment_of,
    open_slots,
    request_appointment,
)
from intake.attachments import ACCEPT_HINT
from intake.pipeline import add_reporter_message_to, case_status, find_case, ingest
from intake.protect import Identity
from intake.store import models as m
from intake.submission import AttachmentTooLargeError, CaseNotFoundError, InvalidSubmissionError

bp = Blueprint("public", __name__)

CASE_VISIT_SECONDS = 20 * 60


@bp.get("/")
def index() -> str:
    return render_template("public/index.html")


@bp.route("/report", methods=["GET", "POST"])
def report() -> Any:
    desk = current_app.extensions["desk"]
    if request.method == "GET":
        return _report_form({})
    if (refusal := guard().admit()) is not None:
        return _report_form(request.form, error=_work_error(refusal)), 429
    try:
        receipt = ingest(desk, submission_from_request("web"))
    except InvalidSubmissionError as exc:
        status = 413 if isinstance(exc, AttachmentTooLargeError) else 400
        return _report_form(request.form, error=exc), status
    g.no_store = True  # the code appears on this page only, and must not sit in a cache
    return render_template("public/receipt.html", receipt=receipt)


def _report_form(values: Any, error: InvalidSubmissionError | None = None) -> str:
    settings = current_app.extensions["desk"].settings
    return render_template(
        "public/report.html", values=values, error=error, accept_hint=ACCEPT_HINT,
        max_files=settings.max_attachments,
        max_mb=settings.max_attachment_bytes // (1024 * 1024),
        max_chars=settings.max_text_chars, work_needed=guard().bits_now() > 0,
    )


def _work_error(refusal: WorkRequired) -> InvalidSubmissionError:
    return InvalidSubmissionError("pow", refusal.message)


@bp.route("/appointment", methods=["GET", "POST"])
def appointment() -> Any:
    """Ask for a face-to-face talk in a slot the team offers; the request gets a query code."""
    desk = current_app.extensions["desk"]
    if request.method == "GET":
        return render_template("public/appointment.html", slots=open_slots(desk), values={},
                               work_needed=guard().bits_now() > 0)
    form = request.form
    if (refusal := guard().admit()) is not None:
        return render_template("public/appointment.html", slots=open_slots(desk), values=form,
                               error=_work_error(refusal), work_needed=True), 429
    try:
        anonymous = parse_bool(form.get("anonymous", "true"), "anonymous")
        identity = Identity(name=form.get("reporter_name", ""),
                            phone=form.get("reporter_phone", ""))
        if not anonymous and not (identity.name.strip() and identity.phone.strip()):
            raise InvalidSubmissionError("reporter_name", "实名预约请填写姓名和联系电话。")
        slot_id = int(form.get("slot", ""))  # ValueError when none was chosen
        receipt = request_appointment(desk, AppointmentRequest(
            slot_id=slot_id,
            text=form.get("text", ""),
            password=form.get("password", ""),
            anonymous=anonymous,
            identity=Identity() if anonymous else identity,
            suspected_bot=bool(form.get(HONEYPOT, "").strip()),
        ))
    except ValueError:
        error: Any = InvalidSubmissionError("slot", "请选择一个时段。")
    except SlotTakenError as exc:
        error = InvalidSubmissionError("slot", exc.message)
    except InvalidSubmissionError as exc:
        error = exc
    else:
        g.no_store = True
        return render_template("public/receipt.html", receipt=receipt, appointment=True)
    return render_template("public/appointment.html", slots=open_slots(desk), values=form,
                           error=error), 400


@bp.route("/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        return render_template("public/status.html")
    desk = current_app.extensions["desk"]
    try:
        with desk.sessions() as db:
            row = find_case(desk, db, request.form.get("code", ""),
                            request.form.get("password", ""))
    except CaseNotFoundError:
        return render_template("public/status.html", failed=True), 404
    session["case"] = {"id": row.id, "until": time.time() + CASE_VISIT_SECONDS}
    return redirect(url_for("public.case"))


def _visited_case_id() -> int | None:
    visit = session.get("case")
    if not isinstance(visit, dict) or visit.get("until", 0) < time.time():
        session.pop("case", None)
        return None
    return int(visit["id"])


@bp.get("/status/case")
def case() -> Any:
    case_id = _visited_case_id()
    if case_id is None:
        flash("查询已超时，请重新输入查询码和密码。")
        return redirect(url_for("public.status"))
    desk = current_app.extensions["desk"]
    with desk.sessions() as db:
        row = db.get(m.Submission, case_id, options=[selectinload(m.Submission.messages)])
        if row is None:
            session.pop("case", None)
            return redirect(url_for("public.status"))
        return render_template("public/case.html", case=case_status(row),
                               appointment=appointment_of(desk, row.id))


@bp.post("/status/case/message")
def case_message() -> Any:
    case_id = _visited_case_id()
    if case_id is None:
        flash("查询已超时，补充内容未能提交，请重新查询后再提交。")
        return redirect(url_for("public.status"))
    desk = current_app.extensions["desk"]
    try:
        add_reporter_message_to(desk, case_id, request.form.get("text", ""))
    except CaseNotFoundError:
        session.pop("case", None)
        return redirect(url_for("public.status"))
    except InvalidSubmissionError as exc:
        flash(exc.message)
    else:
        flash("补充内容已提交。")
    return redirect(url_for("public.case"))


@bp.post("/status/leave")
def leave() -> Any:
    session.pop("case", None)
    flash("已退出查询。")
    return redirect(url_for("public.index"))
