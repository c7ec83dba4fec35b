"""Public pages: what the team accepts, the report form, the receipt, the status page."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import (
    Blueprint,
    abort,
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

from handlers.web.context import now
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
from intake.auth import visits
from intake.desk import Desk
from intake.formkeys import FormSentTwiceError, ingest_once, new_form_key
from intake.pipeline import add_reporter_message_to, case_status, find_case
from intake.protect import Identity
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.submission import AttachmentTooLargeError, CaseNotFoundError, InvalidSubmissionError

bp = Blueprint("public", __name__)

# A case visit is held on the server (intake.auth.visits); this cookie carries only its random
# token, and only to the status pages.
VISIT_COOKIE = "xcz_visit"
VISIT_PATH = "/status"


def _desk() -> Desk:
    return current_app.extensions["desk"]


@bp.url_value_preprocessor
def pick_round(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Pages under /r/SLUG/ serve that round; the others, the one open round (if one)."""
    slug = (values or {}).pop("slug", None)
    rounds = _desk().rounds
    if slug is None:
        g.round_entry = rounds.default()
        g.round_slug = None
        return
    entry = rounds.by_slug(slug)
    if entry is None:
        abort(404)
    g.round_entry = entry
    g.round_slug = slug


@bp.url_defaults
def keep_round(endpoint: str, values: dict[str, Any]) -> None:
    """Links from a round's pages stay under its /r/SLUG/."""
    if "slug" not in values and g.get("round_slug") and endpoint in ROUND_ENDPOINTS:
        values["slug"] = g.round_slug


ROUND_ENDPOINTS = {"public.index", "public.report", "public.appointment"}


@bp.get("/", defaults={"slug": None})
@bp.get("/r/<slug>/")
def index() -> str:
    entry = g.round_entry
    if g.round_slug is None and entry is None:
        # Several rounds open (or none): the list, in plain words.
        return render_template("public/rounds.html", rounds=_desk().rounds.open(),
                               others=[e for e in _desk().rounds.taking()
                                       if e.state != "open"], now=now())
    if entry is None or not entry.takes_items:
        return render_template("public/round_over.html", entry=entry), 410
    return render_template("public/index.html", closed=entry.is_late(now()))


def _round_or_list() -> Any:
    """The round a form serves, or (several open, none chosen) a redirect to the list."""
    entry = g.round_entry
    if entry is None or not entry.takes_items:
        return None
    return entry


@bp.route("/report", methods=["GET", "POST"], defaults={"slug": None})
@bp.route("/r/<slug>/report", methods=["GET", "POST"])
def report() -> Any:
    desk = _desk()
    entry = _round_or_list()
    if entry is None:
        return redirect(url_for("public.index"))
    if request.method == "GET":
        return _report_form({"box": request.args.get("box", "")})
    if (refusal := guard().admit()) is not None:
        return _report_form(request.form, error=_work_error(refusal)), 429
    try:
        sub = replace(submission_from_request("web"), round_id=entry.id,
                      via=_via(entry, request.form.get("box", "")))
        receipt = ingest_once(desk, sub, request.form.get("form_key", ""))
    except FormSentTwiceError:
        # A reload of the receipt, the back button, a double press: one item, one code.
        return render_template("public/receipt.html", receipt=None, sent_twice=True), 409
    except InvalidSubmissionError as exc:
        status = 413 if isinstance(exc, AttachmentTooLargeError) else 400
        return _report_form(request.form, error=exc), status
    g.no_store = True  # the code appears on this page only, and must not sit in a cache
    return render_template("public/receipt.html", receipt=receipt)


def _via(entry: RoundEntry, box: str) -> str:
    """A poster's QR code names its suggestion box by number (`?box=2`): where the reporter
    saw the form, never who they are."""
    boxes = entry.cfg.suggestion_boxes
    if box.isdigit() and 1 <= int(box) <= len(boxes):
        return f"{boxes[int(box) - 1]}意见箱二维码"
    if box == "poster":
        return "公告二维码"
    return ""


def _report_form(values: Any, error: InvalidSubmissionError | None = None) -> str:
    settings = current_app.extensions["desk"].settings
    return render_template(
        "public/report.html", values=values, error=error, accept_hint=ACCEPT_HINT,
        max_files=settings.max_attachments,
        max_mb=settings.max_attachment_bytes // (1024 * 1024),
        max_chars=settings.max_text_chars, work_needed=guard().bits_now() > 0,
        form_key=values.get("form_key") or new_form_key(),
    )


def _work_error(refusal: WorkRequired) -> InvalidSubmissionError:
    return InvalidSubmissionError("pow", refusal.message)


@bp.route("/appointment", methods=["GET", "POST"], defaults={"slug": None})
@bp.route("/r/<slug>/appointment", methods=["GET", "POST"])
def appointment() -> Any:
    """Ask for a face-to-face talk in a slot the team offers; the request gets a query code."""
    desk = _desk()
    entry = _round_or_list()
    if entry is None:
        return redirect(url_for("public.index"))
    if request.method == "GET":
        return render_template("public/appointment.html", slots=open_slots(desk, entry.id),
                               values={}, work_needed=guard().bits_now() > 0)
    form = request.form
    if (refusal := guard().admit()) is not None:
        return render_template("public/appointment.html", slots=open_slots(desk, entry.id),
                               values=form, error=_work_error(refusal), work_needed=True), 429
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
            round_id=entry.id,
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
    return render_template("public/appointment.html", slots=open_slots(desk, entry.id),
                           values=form, error=error), 400


@bp.route("/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        return render_template("public/status.html")
    desk = current_app.extensions["desk"]
    try:
        with desk.sessions() as db:
            row = find_case(desk, db, request.form.get("code", ""),
                            request.form.get("password", ""))
            case_id = row.id
    except CaseNotFoundError:
        return render_template("public/status.html", failed=True), 404
    token = visits.open_visit(desk, case_id, now(), replacing=_visit_token())
    session.pop("case", None)  # the signed-cookie visit of earlier versions
    response = redirect(url_for("public.case"))
    response.set_cookie(VISIT_COOKIE, token, path=VISIT_PATH, httponly=True, samesite="Strict",
                        secure=desk.settings.https_only)
    return response


def _visit_token() -> str:
    return request.cookies.get(VISIT_COOKIE, "")


def _visited_case_id() -> int | None:
    return visits.find_visit(current_app.extensions["desk"], _visit_token(), now())


def _visit_over(message: str) -> Any:
    """Back to the query form, the dead visit's cookie dropped."""
    flash(message)
    response = redirect(url_for("public.status"))
    response.delete_cookie(VISIT_COOKIE, path=VISIT_PATH, httponly=True, samesite="Strict",
                           secure=current_app.extensions["desk"].settings.https_only)
    return response


@bp.get("/status/case")
def case() -> Any:
    case_id = _visited_case_id()
    if case_id is None:
        return _visit_over("查询已结束或已超时，请重新输入查询码和密码。")
    desk = current_app.extensions["desk"]
    with desk.sessions() as db:
        row = db.get(m.Submission, case_id, options=[selectinload(m.Submission.messages)])
        if row is None:
            return _visit_over("查询已结束或已超时，请重新输入查询码和密码。")
        g.round_entry = desk.rounds.get(row.round_id)  # the case's own team speaks
        return render_template("public/case.html", case=case_status(row),
                               appointment=appointment_of(desk, row.id))


@bp.post("/status/case/message")
def case_message() -> Any:
    case_id = _visited_case_id()
    gone = "查询已结束或已超时，补充内容未能提交，请重新查询后再提交。"
    if case_id is None:
        return _visit_over(gone)
    desk = current_app.extensions["desk"]
    try:
        add_reporter_message_to(desk, case_id, request.form.get("text", ""))
    except CaseNotFoundError:
        return _visit_over(gone)
    except InvalidSubmissionError as exc:
        flash(exc.message)
    else:
        flash("补充内容已提交。")
    return redirect(url_for("public.case"))


@bp.post("/status/leave")
def leave() -> Any:
    visits.end_visit(current_app.extensions["desk"], _visit_token())
    session.clear()  # a new CSRF token too
    flash("已退出查询。")
    response = redirect(url_for("public.index"))
    response.delete_cookie(VISIT_COOKIE, path=VISIT_PATH, httponly=True, samesite="Strict",
                           secure=current_app.extensions["desk"].settings.https_only)
    return response
