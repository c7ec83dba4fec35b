"""Staff pages: login, the triage queue, the item page and its decisions, accounts, audit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import segno
from flask import (
    Blueprint,
    Response,
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
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from handlers.web import display
from handlers.web.context import desk, now, require
from intake import scope, search
from intake.appointments import slot_label
from intake.audit import db_record
from intake.auth import sessions, totp
from intake.auth.logins import LoginOutcome, attempt_code, attempt_password
from intake.classify import DISCIPLINES
from intake.items import (
    Q_MAX,
    Period,
    QueryError,
    db_facts,
    db_item_deadlines,
    parse_period,
    transfer_overdue,
    zone_of,
)
from intake.masking import download_name
from intake.maskstore import has_originals
from intake.pipeline import add_team_message
from intake.staff import (
    ROLE_NAMES,
    StaffError,
    change_password,
    create_user,
    list_users,
    may,
    reset_password,
    reset_second_factor,
    set_active,
    set_role,
    team_names,
    totp_required,
    unlock,
)
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
    reveal_item,
    set_spam,
)
from intake.workdays import CHINA

bp = Blueprint("staff", __name__)
# The staff session cookie carries only the session's random id; the session is in the database.
STAFF_COOKIE = "xcz_staff"
OPEN_ENDPOINTS = {"staff.login"}
CODE_ENDPOINTS = {"staff.login_code", "staff.logout"}
PASSWORD_ENDPOINTS = {"staff.password", "staff.logout"}
ENROL_ENDPOINTS = {"staff.totp", "staff.password", "staff.logout"}


@bp.before_request
def require_login() -> Any:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    token = request.cookies.get(STAFF_COOKIE, "")
    found = sessions.find_session(desk(), token, now())
    if found is None:
        if token:
            flash("登录已失效（已退出、超时或账号有变动），请重新登录。")
        response = redirect(url_for("staff.login", next=request.full_path))
        response.delete_cookie(STAFF_COOKIE, path="/staff")
        return response
    user = found.user
    g.staff = Actor(user.id, user.username, user.role)
    g.staff_name = user.display_name
    g.staff_session = found.session_id
    enter_scope(user.id, user.role)
    if found.awaiting_code:
        if request.endpoint in CODE_ENDPOINTS:
            return None
        return redirect(url_for("staff.login_code"))
    if request.endpoint == "staff.login_code":
        return redirect(landing(user.role))
    if user.must_change_password and request.endpoint not in PASSWORD_ENDPOINTS:
        flash("请先修改一次性密码。")
        return redirect(url_for("staff.password"))
    if (totp_required(desk(), user.role) and user.totp_confirmed_at is None
            and request.endpoint not in ENROL_ENDPOINTS):
        return redirect(url_for("staff.totp"))  # the page says why
    return None


def enter_scope(user_id: int, role: str) -> None:
    """From here to the end of the request, every query sees this member's teams' items only
    (intake.scope); the app's teardown leaves the scope."""
    with desk().sessions() as db:
        viewer = scope.db_viewer(db, user_id, role)
    g.viewer = viewer
    g.scope_token = scope.enter(viewer)
    g.team_names = team_names(desk(), viewer.team_ids)
    # The round the staff pages speak of in their header: the member's newest taking round.
    mine = desk().rounds.taking(viewer.team_ids)
    g.round_entry = mine[0] if mine else None


@bp.context_processor
def staff_context() -> dict[str, Any]:
    return {"may": lambda p: "staff" in g and may(g.staff.role, p), "ROLE_NAMES": ROLE_NAMES,
            "round_of": desk().rounds.get,
            "route_unsure": lambda cls: display.route_unsure(
                cls, display.discipline_bodies(desk().rules)),
            "page_url": page_url, "brand_teams": _brand_teams,
            "landing_url": lambda: landing(g.staff.role) if "staff" in g else url_for(
                "staff.login")}


# Where each role starts after login, and at /staff/ when the queue is not theirs: the first
# of its pages that exists (the statistics page is another module's).
LANDING = {
    "duty_officer": ("staff.desk.index",),
    "triager": ("staff.queue",),
    "team_leader": ("staff.queue",),
    "office": ("staff.stats",),
    "auditor": ("staff.audit.page",),
    "admin": ("staff.users",),
}
# What a page needs, to tell whether a `next=` link is worth following after login (the views
# check it themselves with `require`): the longest endpoint prefix listed wins; pages not
# listed (修改密码, 两步验证, …) are open to every member.
PAGE_NEEDS = {
    "staff.queue": "view_queue",
    "staff.item": "view_queue",
    "staff.casework": "view_queue",
    "staff.attachment": "view_queue",
    "staff.users": "manage_accounts",
    "staff.desk": "desk",
    "staff.desk.devices": "manage_devices",
    "staff.letters": "desk",
    "staff.audit": "view_audit",
    "staff.stats": "view_stats",
    "staff.rounds": "view_rounds",
    "staff.ledger": "view_queue",
    "staff.ledger.handover": "hand_over",
    "staff.ledger.bundle": "hand_over",
    "staff.reports": "view_stats",
    "staff.reports.appendix": "round_reports",
}


def page_url(*endpoints: str) -> str | None:
    """The URL of the first of these endpoints the app has, else None (pages other modules
    add, such as the statistics and rounds pages, may not be there)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def landing(role: str) -> str:
    """The page a member of `role` starts on: 值班台, the queue, statistics, the audit log or
    the accounts; 修改密码 when none of its pages exists."""
    return page_url(*LANDING.get(role, ())) or url_for("staff.password")


def _may_open(role: str, target: str) -> bool:
    """Whether `target` (a /staff path) is a page this role may open with a GET."""
    path = target.partition("?")[0]
    if path.rstrip("/") == "/staff":
        return False  # the bare home address means "where I start", not the queue
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path, method="GET")
    except (HTTPException, RoutingException):
        return False
    if endpoint in OPEN_ENDPOINTS | CODE_ENDPOINTS:
        return False  # the login steps themselves: nothing to come back to
    needs = [p for p in PAGE_NEEDS if endpoint == p or endpoint.startswith(p + ".")]
    return not needs or may(role, PAGE_NEEDS[max(needs, key=len)])


def _brand_teams() -> list[str]:
    """The teams the header names: the member's; before login, the one team if only one."""
    if "staff" in g:
        return list(g.get("team_names", []))
    teams = sorted({e.team for e in desk().rounds.all() if e.team})
    return teams if len(teams) == 1 else []


def _refusal(outcome: LoginOutcome) -> tuple[str, int]:
    """The login page's message for a refused step (the same whether or not the name exists)."""
    if outcome.refused == "locked":
        minutes = max(1, -(-outcome.wait_seconds // 60))
        return (f"登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试"
                "（急用可请系统管理员解锁）。", 429)
    if outcome.refused == "wait":
        return f"登录失败次数较多，请 {outcome.wait_seconds} 秒后再试。", 429
    return "", 401


def _safe_next(target: str, role: str) -> str:
    """Where to go after login: `next=` when it is a staff page this role may open, else the
    role's own start page."""
    if not target.startswith("/staff") or target.startswith("//") or not _may_open(role, target):
        return landing(role)
    return target


def _signed_in(token: str, target: str) -> Response:
    if (old := request.cookies.get(STAFF_COOKIE, "")) and len(old) <= 100:
        with desk().sessions() as db:  # a login over an older session ends that one
            begin_write(db)
            sessions.db_end_token(db, old)
            db.commit()
    session.clear()  # a new CSRF token with the new session
    response = redirect(target)
    response.set_cookie(STAFF_COOKIE, token, path="/staff", httponly=True, samesite="Lax",
                        secure=desk().settings.https_only)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("staff/login.html")
    outcome = attempt_password(desk(), request.form.get("username", ""),
                               request.form.get("password", ""), now=now(),
                               address=request.remote_addr or "")
    if outcome.refused:
        message, status = _refusal(outcome)
        return render_template("staff/login.html", failed=True, message=message), status
    assert outcome.user is not None
    target = _safe_next(request.args.get("next", ""), outcome.user.role)
    if outcome.needs_code:
        return _signed_in(outcome.token, url_for("staff.login_code", next=target))
    return _signed_in(outcome.token, target)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    if request.method == "GET":
        return render_template("staff/login_code.html")
    outcome = attempt_code(desk(), g.staff_session, request.form.get("code", ""), now=now(),
                           address=request.remote_addr or "")
    if outcome.refused:
        message, status = _refusal(outcome)
        return render_template("staff/login_code.html",
                               error=message or "验证码不正确或已用过，请输入手机上新显示的验证码。"
                               ), status
    return _signed_in(outcome.token, _safe_next(request.args.get("next", ""), g.staff.role))


@bp.post("/logout")
def logout() -> Any:
    with desk().sessions() as db:
        begin_write(db)
        sessions.db_end_user_session(db, g.staff_session)
        db_record(db, "logout", actor_id=g.staff.id, actor_label=g.staff.username)
        db.commit()
    session.clear()
    flash("已退出。")
    response = redirect(url_for("staff.login"))
    response.delete_cookie(STAFF_COOKIE, path="/staff")
    return response


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    if request.method == "GET":
        return render_template("staff/password.html", min_length=_min_length())
    new = request.form.get("new", "")
    if new != request.form.get("repeat", ""):
        return render_template("staff/password.html", error="两次输入的新密码不一致。",
                               min_length=_min_length()), 400
    try:
        change_password(desk(), g.staff.id, request.form.get("old", ""), new,
                        keep_session=g.staff_session)
    except StaffError as exc:
        return render_template("staff/password.html", error=exc.message,
                               min_length=_min_length()), 400
    flash("密码已修改，您在其他地方的登录已全部退出。")
    return redirect(landing(g.staff.role))


def _min_length() -> int:
    return desk().settings.password_min_length


@bp.route("/totp", methods=["GET", "POST"], endpoint="totp")
def totp_page() -> Any:
    """两步验证: enrol an authenticator app (QR code or typed secret), confirm with a code."""
    with desk().sessions() as db:
        begin_write(db)
        user = db.get(m.StaffUser, g.staff.id)
        if user.totp_confirmed_at is not None:
            return render_template("staff/totp.html", enrolled=True)
        secret = totp.db_pending_secret(db, desk().keyring, user)
        error = ""
        if request.method == "POST":
            if totp.db_use_code(db, desk().keyring, user, request.form.get("code", ""), now()):
                user.totp_confirmed_at = now()
                db_record(db, "totp.enrol", actor_id=user.id, actor_label=user.username)
                db.commit()
                flash("两步验证已启用：以后登录时，输入密码后还要输入手机上的验证码。")
                return redirect(landing(g.staff.role))
            error = "验证码不正确。请确认已在手机上添加，且手机时间准确，再输入新显示的 6 位数字。"
        db.commit()
    # The issuer the app lists the code under, which the code step names: the member's round's
    # team (round_context's round), not the default round's.
    entry = g.get("round_entry") or desk().rounds.newest()
    issuer = (entry.team if entry else "") or "巡察组受理台"
    uri = totp.otpauth_uri(secret, g.staff.username, issuer)
    g.no_store = True  # the page shows the secret
    return render_template(
        "staff/totp.html", enrolled=False, error=error, secret=totp.grouped(secret),
        qr=segno.make(uri, error="m").svg_data_uri(scale=5),
        required=totp_required(desk(), g.staff.role),
    ), 400 if error else 200


@bp.get("/")
def queue() -> Any:
    if not request.query_string and not may(g.staff.role, "view_queue"):
        return redirect(landing(g.staff.role))  # /staff/ itself: where this role starts
    require("view_queue")
    args = request.args
    review = args.get("needs_review", "")
    my_rounds = [e for e in desk().rounds.all() if e.id in g.viewer.round_ids]
    chosen = next((e for e in my_rounds if e.slug == args.get("round")), None)
    # Search terms and a date range (days in the round's zone) combine with every filter.
    text, error = args.get("q", "").strip()[:Q_MAX], ""
    try:
        period = parse_period(args, zone_of(chosen.cfg if chosen else None))
    except QueryError as exc:
        period, error = Period(), exc.message
    filters = QueueFilters(
        channel=args.get("channel", "") if args.get("channel") in display.CHANNELS else "",
        status=args.get("status", "") if args.get("status") in display.STATUSES else "",
        scope=args.get("scope", "") if args.get("scope") in ("in", "out", "unknown") else "",
        discipline=args.get("discipline", "") if args.get("discipline") in DISCIPLINES else "",
        route=args.get("route", "") if args.get("route") in desk().rules.departments else "",
        needs_review={"yes": True, "no": False}.get(review),
        round_id=chosen.id if chosen else None,
        keeper=g.staff.username if args.get("mine") == "1" else "",  # 我承办的
        text=text, since=period.since, until=period.until,
    )
    with desk().sessions() as db:
        page = db_queue_page(db, filters, args.get("cursor"))
        rows = [(row, row.current) for row in page.rows]
        matches = search.db_matches(db, page.rows, search.parse(text))
        facts = db_facts(db, [row.id for row in page.rows])  # lead numbers, keepers, transfers
        today = now().astimezone(CHINA).date()
        return render_template(
            "staff/queue.html", rows=rows, next_cursor=page.next_cursor, filters=filters,
            facts=facts, late_transfers={i for i, f in facts.items()
                                         if any(transfer_overdue(t, today) for t in f.transfers)},
            review=review, departments=desk().rules.departments, my_rounds=my_rounds,
            round_slugs={e.id: e.slug for e in my_rounds},
            next_args={**args.to_dict(), "cursor": page.next_cursor},
            matches=matches, period_error=error,
            since=args.get("since", "").strip(), until=args.get("until", "").strip(),
        ), 400 if error else 200


def denied(what: str, ident: int, *, via: str = "web") -> None:
    """Record that a member asked for something outside their scope (another team's item, or
    none at all: the answer is the same 404, the record tells the auditor who probed)."""
    with desk().sessions() as db:
        begin_write(db)
        db_record(db, "access.denied", actor_id=g.staff.id, actor_label=g.staff.username,
                  what=what, id=ident, via=via)
        db.commit()


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
        found = db.get(m.Submission, item_id) is not None
        if found:
            db_record(db, "item.view", actor_id=g.staff.id, actor_label=g.staff.username,
                      submission_id=item_id)
            db.commit()
    if not found:
        denied("item", item_id)
        abort(404)
    return _render_item(item_id)


def _render_item(item_id: int, *, revealed: Any = None, error: str = "", status: int = 200,
                 casework_form: Any = None) -> Any:
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
        marks = display.evidence_marks(runs, evidence)
        body = render_template(
            "staff/item.html", row=row, current=current, history=history, decisions=decisions,
            staff_names=staff_names, runs=runs, marks=marks,
            evidence_rows=display.evidence_rows(row.text, evidence, marks),
            nav={"next": db_next_item(db, row.id), "previous": db_next_item(db, row.id,
                                                                            previous=True)},
            masked=masked if may(g.staff.role, "reveal_identity") else {},
            provided=list(masked), revealed=revealed, error=error,
            hidden=has_originals(db, row),
            audit=db_audit_trail(db, row.id) if may(g.staff.role, "view_audit") else [],
            departments=desk().rules.departments, disciplines=DISCIPLINES,
            mail=db_mail_details(db, row),
            desk_info=_desk_info(db, row.id),
            deadlines=db_item_deadlines(db, row, desk().rounds, now()),
            casework=casework_panel(db, row, casework_form),
            repeat_messages=db_repeat_messages(db, row.id),
        )
        return body, status


def db_repeat_messages(db: Any, item_id: int) -> list[m.Message]:
    """What the reporters of this item's repeats (重复件) wrote later: it reaches the first."""
    repeats = select(m.Submission.id).where(m.Submission.repeat_of_id == item_id)
    return list(db.scalars(select(m.Message).where(
        m.Message.submission_id.in_(repeats), m.Message.author == "reporter")
        .order_by(m.Message.at, m.Message.id)))


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
            dropped=tuple(int(v) if v.isascii() and v.isdigit() and len(v) < 6 else -1
                          for v in form.getlist("drop_subject")),
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
        revealed = reveal_item(desk(), g.staff, item_id, request.form.get("reason", ""))
    except StaffError as exc:
        if not may(g.staff.role, "reveal_identity"):
            abort(403)
        return _render_item(item_id, error=exc.message, status=400)
    g.no_store = True
    return _render_item(item_id, revealed=revealed)


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
    with desk().sessions() as db:  # another team's mail: 404, as for its item
        found = db.get(m.InboundMail, inbound_id) is not None
    if not found:
        denied("mail", inbound_id)
        abort(404)
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
            db.rollback()
            denied("attachment", attachment_id)
            abort(404)
        if not att.storage_name:  # no file: destroyed by the retention rule
            abort(404)
        db_record(db, "attachment.download", actor_id=g.staff.id, actor_label=g.staff.username,
                  submission_id=att.submission_id, attachment_id=att.id)
        db.commit()
    return _download(desk().files.read(att.storage_name),
                     download_name(att.original_name, att.content_type), att.size)


def _download(chunks: Any, name: str, size: int) -> Response:
    # Always a download, never rendered by the browser: a PDF or an Office file can carry
    # active content, and the sandbox keeps even an image from running anything.
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    g.no_store = True
    return response


# Who manages which accounts on the web, so that no web account hands itself access to items
# it may not read (三员分立): the administrator makes and resets the accounts that read no
# item (office, auditor, administrator); a team leader, who reads the team's items anyway,
# makes and resets the team's duty officers and triagers, within the teams they lead. A team
# leader's own account (who may reveal reporters) is made on the server only. Disabling,
# enabling and unlocking give nobody access: the administrator may do them for anyone.
ADMIN_MAKES = ("office", "auditor", "admin")
LEADER_MAKES = ("duty_officer", "triager")
SAFE_ACTIONS = ("disable", "enable", "unlock")
LEADER_ON_SERVER = ("组长可以查看举报人身份，组长账号的创建、授予、调整所属组和重置密码或两步验证，"
                    "只能由服务器管理员用命令行办理（intake users add / set-role / set-teams / "
                    "reset-password / reset-totp），以免网页上有人取得组长的登录。")
TEAM_BY_LEADER = ("值班员、研判员能看到本组的反映件，他们的账号由本组组长在「账号」页办理"
                  "（或在服务器上用命令行）；系统管理员不办理，以免取得能看反映件的登录（三员分立）。"
                  "系统管理员可以停用、启用、解锁任何账号。")


@dataclass(frozen=True)
class AccountPolicy:
    """What the signed-in member may do to accounts on the web."""

    roles: tuple[str, ...]  # roles they may create or give
    teams: tuple[str, ...] | None  # teams they may put members in (None: teams do not apply)
    sees_all: bool

    def manages(self, account: Any) -> bool:
        """Whether they may reset, re-role or move this account (not only stop it)."""
        if account.role not in self.roles:
            return False
        return self.teams is None or (bool(account.teams)
                                      and set(account.teams) <= set(self.teams))

    def refusal(self, role: str, teams: list[str]) -> str:
        if role == "team_leader":
            return LEADER_ON_SERVER
        if role not in self.roles:
            return TEAM_BY_LEADER if self.sees_all else "组长只能办理本组的值班员、研判员账号。"
        if self.teams is not None and not set(teams) <= set(self.teams):
            return f"只能把账号放在您所在的组（{'、'.join(self.teams)}）。"
        return ""


def _policy() -> AccountPolicy:
    if g.staff.role == "admin":
        return AccountPolicy(ADMIN_MAKES, None, True)
    require("manage_team_users")
    return AccountPolicy(LEADER_MAKES, tuple(g.get("team_names", ())), False)


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    """账号: the accounts the member manages, and a new one."""
    policy = _policy()
    if request.method == "GET":
        return _render_users(policy)
    form = request.form
    role = form.get("role", "")
    teams = _form_teams(role)
    if policy.teams is not None and role in scope.TEAM_ROLES and not teams:
        teams = list(policy.teams[:1]) if len(policy.teams) == 1 else teams
    if role in ROLE_NAMES and (why := policy.refusal(role, teams)):
        _account_refused("create", form.get("username", "")[:50], role)
        return _render_users(policy, error=why, status=409, values=form)
    try:
        user, password = create_user(
            desk(), form.get("username", ""), role,
            display_name=form.get("display_name", ""), teams=teams,
            actor_label=g.staff.username, actor_id=g.staff.id)
    except StaffError as exc:
        return _render_users(policy, error=exc.message, status=400, values=form)
    g.no_store = True  # the page shows a password
    return _render_users(policy, created=(user.username, password))


def _form_teams(role: str) -> list[str]:
    """The teams ticked on a form; none for a role that belongs to no team (the boxes may
    still be ticked from before the role was changed)."""
    return request.form.getlist("team") if role in scope.TEAM_ROLES else []


def _render_users(policy: AccountPolicy, *, created: Any = None, reset: Any = None,
                  error: str = "", status: int = 200, values: Any = None) -> Any:
    accounts = list_users(desk(), now=now())
    if not policy.sees_all:
        accounts = [a for a in accounts if policy.manages(a) or a.id == g.staff.id]
    return render_template(
        "staff/users.html", accounts=accounts, created=created, policy=policy,
        reset=reset, error=error, roles={r: ROLE_NAMES[r] for r in policy.roles},
        role_names=ROLE_NAMES, team_roles=scope.TEAM_ROLES,
        teams=list(policy.teams) if policy.teams is not None else team_names(desk()),
        values=values or {}), status


def _account_refused(action: str, username: str, role: str = "") -> None:
    """An account change the member may not make on the web: refused, and recorded."""
    with desk().sessions() as db:
        begin_write(db)
        db_record(db, "account.refused", actor_id=g.staff.id, actor_label=g.staff.username,
                  action=action, username=username, role=role)
        db.commit()


ACCOUNT_ACTIONS = {
    "disable": ("已停用 {}，其登录已全部退出。",
                lambda name, **kw: set_active(desk(), name, False, **kw)),
    "enable": ("已启用 {}。", lambda name, **kw: set_active(desk(), name, True, **kw)),
    "unlock": ("已解锁 {}。", lambda name, **kw: unlock(desk(), name, **kw)),
    "reset-totp": ("已重置 {} 的两步验证，其登录已全部退出。",
                   lambda name, **kw: reset_second_factor(desk(), name, **kw)),
}


def _account(user_id: int) -> Any:
    found = next((a for a in list_users(desk(), now=now()) if a.id == user_id), None)
    if found is None:
        abort(404)
    return found


@bp.post("/users/<int:user_id>/<action>")
def user_action(user_id: int, action: str) -> Any:
    """停用 / 启用 / 解锁 / 重置两步验证 / 重置密码 of an account the member manages."""
    policy = _policy()
    if action not in ACCOUNT_ACTIONS and action != "reset-password":
        abort(404)
    user = _account(user_id)
    if not policy.manages(user) and not (policy.sees_all and action in SAFE_ACTIONS):
        if not policy.sees_all:
            abort(404)  # a team leader: accounts beyond their teams are not theirs to see
        _account_refused(action, user.username, user.role)
        return _render_users(policy, error=policy.refusal(user.role, list(user.teams)),
                             status=409)
    actor = {"actor_label": g.staff.username, "actor_id": g.staff.id}
    try:
        if action == "reset-password":
            password = reset_password(desk(), user.username, **actor)
            g.no_store = True  # shown once, here
            return _render_users(policy, reset=(user.username, password))
        message, act = ACCOUNT_ACTIONS[action]
        act(user.username, **actor)
    except StaffError as exc:
        return _render_users(policy, error=exc.message, status=409)
    flash(message.format(user.username))
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/access")
def user_access(user_id: int) -> Any:
    """修改角色和所属组: the role and the teams in one step; the account's sessions end."""
    policy = _policy()
    user = _account(user_id)
    role = request.form.get("role", "")
    teams = _form_teams(role)
    if not policy.manages(user) or (role in ROLE_NAMES and policy.refusal(role, teams)):
        if not policy.sees_all and not policy.manages(user):
            abort(404)
        _account_refused("access", user.username, role)
        why = policy.refusal(role if policy.manages(user) else user.role,
                             teams if policy.manages(user) else list(user.teams))
        return _render_users(policy, error=why or policy.refusal(role, teams), status=409)
    try:
        changed = set_role(desk(), user.username, role, teams=teams,
                           actor_label=g.staff.username, actor_id=g.staff.id)
    except StaffError as exc:
        return _render_users(policy, error=exc.message, status=409)
    flash(f"已将 {user.username} 设为{ROLE_NAMES[role]}，其登录已全部退出。" if changed
          else f"{user.username} 的角色和所属组未变。")
    return redirect(url_for("staff.users"))


# The duty desk's pages live under /staff and share its login and context.
from handlers.web.audit import bp as audit_bp  # noqa: E402
from handlers.web.casework import bp as casework_bp  # noqa: E402
from handlers.web.casework import db_panel as casework_panel  # noqa: E402
from handlers.web.desk import bp as desk_bp  # noqa: E402
from handlers.web.followup import bp as followup_bp  # noqa: E402
from handlers.web.ledger import bp as ledger_bp  # noqa: E402
from handlers.web.letters import bp as letters_bp  # noqa: E402
from handlers.web.publication import staff_bp as publication_bp  # noqa: E402
from handlers.web.reportdocs import bp as reports_bp  # noqa: E402
from handlers.web.rounds import bp as rounds_bp  # noqa: E402
from handlers.web.stats import register as register_stats  # noqa: E402

bp.register_blueprint(desk_bp, url_prefix="/desk")
bp.register_blueprint(casework_bp)  # the item page's 办理 steps and the transfer page
bp.register_blueprint(letters_bp, url_prefix="/letters")
bp.register_blueprint(audit_bp, url_prefix="/audit")
bp.register_blueprint(rounds_bp, url_prefix="/rounds")
bp.register_blueprint(followup_bp)  # /overdue, /digest, /notices/...
bp.register_blueprint(publication_bp, url_prefix="/rounds")
bp.register_blueprint(ledger_bp, url_prefix="/ledger")
bp.register_blueprint(reports_bp, url_prefix="/reports")
register_stats(bp)  # 统计: staff.stats, its charts and workbook
