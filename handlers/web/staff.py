"""Staff pages: login, the triage queue, the item page and its decisions, accounts, audit."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from handlers.web import display
from handlers.web.context import desk, require
from intake.appointments import slot_label
from intake.audit import db_record
from intake.classify import DISCIPLINES
from intake.pipeline import add_team_message
from intake.staff import ROLE_NAMES, StaffError, authenticate, change_password, create_user, may
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import CaseNotFoundError, InvalidSubmissionError
from intake.triage import (
    Actor,
    Correction,
    QueueFilters,
    db_audit_trail,
    db_mail_details,
    db_next_item,
    db_queue_page,
    decide,
    masked_identity,
    open_raw_mail,
    reveal_identity,
    set_spam,
)

bp = Blueprint("staff", __name__)
WEB_CREATABLE_ROLES = ("duty_officer", "triager")
OPEN_ENDPOINTS = {"staff.login"}
PASSWORD_ENDPOINTS = {"staff.password", "staff.logout"}


@bp.before_request
def require_login() -> Any:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    info = session.get("staff")
    hours = desk().settings.staff_session_hours
    if not isinstance(info, dict) or time.time() - info.get("since", 0) > hours * 3600:
        session.pop("staff", None)
        return redirect(url_for("staff.login", next=request.full_path))
    with desk().sessions() as db:
        user = db.get(m.StaffUser, info.get("id"))
        if user is None or not user.active or user.session_epoch != info.get("epoch"):
            session.pop("staff", None)
            return redirect(url_for("staff.login"))
        g.staff = Actor(user.id, user.username, user.role)
        g.staff_name = user.display_name
        if user.must_change_password and request.endpoint not in PASSWORD_ENDPOINTS:
            flash("请先修改一次性密码。")
            return redirect(url_for("staff.password"))
    return None


@bp.context_processor
def staff_context() -> dict[str, Any]:
    return {"may": lambda p: "staff" in g and may(g.staff.role, p), "ROLE_NAMES": ROLE_NAMES}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("staff/login.html")
    user = authenticate(desk(), request.form.get("username", ""), request.form.get("password", ""))
    if user is None:
        return render_template("staff/login.html", failed=True), 401
    session.clear()
    session.permanent = True
    session["staff"] = {"id": user.id, "epoch": user.session_epoch, "since": time.time()}
    target = request.args.get("next", "")
    if not target.startswith("/staff") or target.startswith("//"):
        target = url_for("staff.queue")
    return redirect(target)


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    flash("已退出。")
    return redirect(url_for("staff.login"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    if request.method == "GET":
        return render_template("staff/password.html")
    new = request.form.get("new", "")
    if new != request.form.get("repeat", ""):
        return render_template("staff/password.html", error="两次输入的新密码不一致。"), 400
    try:
        change_password(desk(), g.staff.id, request.form.get("old", ""), new)
    except StaffError as exc:
        return render_template("staff/password.html", error=exc.message), 400
    with desk().sessions() as db:
        user = db.get(m.StaffUser, g.staff.id)
        session["staff"] = {"id": user.id, "epoch": user.session_epoch, "since": time.time()}
    flash("密码已修改。")
    return redirect(url_for("staff.queue"))


@bp.get("/")
def queue() -> str:
    require("view_queue")
    args = request.args
    review = args.get("needs_review", "")
    filters = QueueFilters(
        channel=args.get("channel", "") if args.get("channel") in display.CHANNELS else "",
        status=args.get("status", "") if args.get("status") in display.STATUSES else "",
        scope=args.get("scope", "") if args.get("scope") in ("in", "out", "unknown") else "",
        discipline=args.get("discipline", "") if args.get("discipline") in DISCIPLINES else "",
        route=args.get("route", "") if args.get("route") in desk().rules.departments else "",
        needs_review={"yes": True, "no": False}.get(review),
    )
    with desk().sessions() as db:
        page = db_queue_page(db, filters, args.get("cursor"))
        rows = [(row, row.current) for row in page.rows]
        return render_template(
            "staff/queue.html", rows=rows, next_cursor=page.next_cursor, filters=filters,
            review=review, departments=desk().rules.departments,
            next_args={**args.to_dict(), "cursor": page.next_cursor},
        )


def _load_item(db: Any, item_id: int) -> m.Submission:
    row = db.get(m.Submission, item_id, options=[
        selectinload(m.Submission.attachments), selectinload(m.Submission.messages)])
    if row is None:
        abort(404)
    return row


@bp.get("/items/<int:item_id>")
def item(item_id: int) -> Any:
    require("view_queue")
    with desk().sessions() as db:  # an access record of who read which item (domain §4)
        begin_write(db)
        if db.get(m.Submission, item_id) is None:
            abort(404)
        db_record(db, "item.view", actor_id=g.staff.id, actor_label=g.staff.username,
                  submission_id=item_id)
        db.commit()
    return _render_item(item_id)


def _render_item(item_id: int, *, revealed: Any = None, error: str = "", status: int = 200) -> Any:
    with desk().sessions() as db:
        row = _load_item(db, item_id)
        history = list(db.scalars(
            select(m.Classification).where(m.Classification.submission_id == row.id)
            .order_by(m.Classification.version.desc())))
        decisions = {d.result_id: d for d in db.scalars(
            select(m.Decision).where(m.Decision.submission_id == row.id))}
        staff_names = {u.id: u.display_name for u in db.scalars(select(m.StaffUser))}
        current = row.current
        masked = masked_identity(desk(), row)  # decrypted once; the fields given show to all
        evidence = current.evidence if current else []
        runs = display.highlight(row.text, evidence)
        body = render_template(
            "staff/item.html", row=row, current=current, history=history, decisions=decisions,
            staff_names=staff_names, runs=runs, marks=display.evidence_marks(runs, evidence),
            nav={"next": db_next_item(db, row.id), "previous": db_next_item(db, row.id,
                                                                            previous=True)},
            masked=masked if may(g.staff.role, "reveal_identity") else {},
            provided=list(masked), revealed=revealed, error=error,
            audit=db_audit_trail(db, row.id) if may(g.staff.role, "view_audit") else [],
            departments=desk().rules.departments, disciplines=DISCIPLINES,
            mail=db_mail_details(db, row),
            desk_info=_desk_info(db, row.id),
        )
        return body, status


def _desk_info(db: Any, item_id: int) -> dict[str, Any]:
    """Who logged a duty-desk item, what was flagged, and the appointment it asks for."""
    entry = db.get(m.DeskEntry, item_id)
    officer = db.get(m.StaffUser, entry.recorded_by) if entry and entry.recorded_by else None
    appointment = db.scalar(select(m.Appointment).where(m.Appointment.submission_id == item_id))
    return {
        "entry": entry,
        "officer": officer.display_name or officer.username if officer else "",
        "appointment": (appointment, slot_label(appointment.slot)) if appointment else None,
    }


@bp.post("/items/<int:item_id>/decision")
def decision(item_id: int) -> Any:
    require("decide")
    form = request.form
    reviewed = form.get("reviewed_id", "")
    reviewed_id = int(reviewed) if reviewed.isascii() and reviewed.isdigit() else None
    correction = None
    if form.get("action") == "correct":
        correction = Correction(
            in_scope=form.get("in_scope") == "true",
            subject_role=form.get("subject_role", "unknown"),
            disciplines=tuple(form.getlist("disciplines")),
            routes=tuple(r for r in form.getlist("routes") if r),
            subject=_picked_subject(form.get("candidate", "")),
        )
    try:
        decide(desk(), g.staff, item_id, reviewed_id=reviewed_id, correction=correction,
               note=form.get("note", ""))
    except StaffError as exc:
        return _render_item(item_id, error=exc.message, status=409)
    flash("已确认研判建议。" if correction is None else "已保存更正。")
    if "1" not in form.getlist("next"):  # the plain buttons stay on the item
        return redirect(url_for("staff.item", item_id=item_id))
    with desk().sessions() as db:
        following = db_next_item(db, item_id, awaiting=True)
    if following is None:
        flash("没有待研判的件了。")
        return redirect(url_for("staff.queue"))
    return redirect(url_for("staff.item", item_id=following))


def _picked_subject(value: str) -> dict[str, str] | None:
    """The person picked on the form (a candidate's fields as JSON), None when none was."""
    if not value:
        return None
    picked = None
    if len(value) <= 2000:  # a candidate is a few short fields; refuse anything else unparsed
        try:
            picked = json.loads(value)
        except (ValueError, RecursionError):
            picked = None
    return picked if isinstance(picked, dict) else {}  # {} is refused as incomplete


@bp.post("/items/<int:item_id>/reply")
def reply(item_id: int) -> Any:
    require("reply")
    try:
        add_team_message(desk(), item_id, g.staff.id, request.form.get("text", ""))
    except CaseNotFoundError:
        abort(404)
    except InvalidSubmissionError as exc:
        return _render_item(item_id, error=exc.message, status=400)
    flash("已回复，举报人凭查询码可以看到。")
    return redirect(url_for("staff.item", item_id=item_id))


@bp.post("/items/<int:item_id>/reveal")
def reveal(item_id: int) -> Any:
    require("view_queue")  # the core refuses other roles, and audits the refusal
    try:
        identity = reveal_identity(desk(), g.staff, item_id, request.form.get("reason", ""))
    except StaffError as exc:
        if not may(g.staff.role, "reveal_identity"):
            abort(403)
        return _render_item(item_id, error=exc.message, status=400)
    g.no_store = True
    return _render_item(item_id, revealed=identity)


@bp.post("/items/<int:item_id>/spam")
def spam(item_id: int) -> Any:
    require("decide")
    is_spam = request.form.get("spam") == "true"
    try:
        set_spam(desk(), g.staff, item_id, spam=is_spam)
    except StaffError as exc:
        return _render_item(item_id, error=exc.message, status=400)
    flash("已标记为垃圾信息。" if is_spam else "已移出垃圾信息，回到待研判队列。")
    return redirect(url_for("staff.item", item_id=item_id))


@bp.post("/mails/<int:inbound_id>/raw")
def raw_mail(inbound_id: int) -> Any:
    require("view_queue")  # the core refuses other roles, and audits the refusal
    try:
        mail, chunks = open_raw_mail(desk(), g.staff, inbound_id, request.form.get("reason", ""))
    except StaffError as exc:
        if not may(g.staff.role, "reveal_identity"):
            abort(403)
        item_id = request.form.get("item_id", "")
        if item_id.isascii() and item_id.isdigit():
            return _render_item(int(item_id), error=exc.message, status=400)
        abort(400)
    return _download(chunks, f"原始邮件-{mail.id}.eml", mail.raw_size)


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int) -> Response:
    require("view_queue")
    with desk().sessions() as db:
        begin_write(db)
        att = db.get(m.Attachment, attachment_id)
        if att is None:
            abort(404)
        db_record(db, "attachment.download", actor_id=g.staff.id, actor_label=g.staff.username,
                  submission_id=att.submission_id, attachment_id=att.id)
        db.commit()
    return _download(desk().files.read(att.storage_name), att.original_name, att.size)


def _download(chunks: Any, name: str, size: int) -> Response:
    # Always a download, never rendered by the browser: a PDF or an Office file can carry
    # active content, and the sandbox keeps even an image from running anything.
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    g.no_store = True
    return response


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    require("manage_users")
    created = None
    error = ""
    if request.method == "POST" and request.form.get("role") in WEB_CREATABLE_ROLES:
        try:
            user, password = create_user(
                desk(), request.form.get("username", ""), request.form.get("role", ""),
                display_name=request.form.get("display_name", ""), actor_label=g.staff.username)
            created = (user.username, password)
            g.no_store = True
        except StaffError as exc:
            error = exc.message
    elif request.method == "POST":
        # An administrator must not be able to mint an account that may reveal reporters.
        error = ("组长和管理员账号只能在服务器上用命令行创建："
                 "intake users add 用户名 --role team_leader")
    with desk().sessions() as db:
        accounts = list(db.scalars(select(m.StaffUser).order_by(m.StaffUser.id)))
        return render_template("staff/users.html", accounts=accounts, created=created,
                               error=error, creatable=WEB_CREATABLE_ROLES)


# The duty desk's pages live under /staff and share its login and context.
from handlers.web.audit import bp as audit_bp  # noqa: E402
from handlers.web.desk import bp as desk_bp  # noqa: E402
from handlers.web.letters import bp as letters_bp  # noqa: E402

bp.register_blueprint(desk_bp, url_prefix="/desk")
bp.register_blueprint(letters_bp, url_prefix="/letters")
bp.register_blueprint(audit_bp, url_prefix="/audit")
