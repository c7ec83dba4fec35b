"""The duty desk: hotline call log, walk-in visits, appointment slots and requests, and the
call-centre devices allowed to push calls. Nested under the staff blueprint (/staff/desk)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from handlers.web.context import desk, now_local, parse_local, require
from intake import appointments, duty
from intake.followup import db_pending_counts
from intake.protect import Identity
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.submission import InvalidSubmissionError

bp = Blueprint("desk", __name__)

CHANNEL_TITLES = {"hotline": "记录来电", "visit": "记录来访"}
RECENT = 20
LAST_ROUND = "desk_round"  # the session remembers the round an officer last filed under


def officer_rounds() -> list[RoundEntry]:
    """The rounds the signed-in officer may file under: their teams' rounds taking items."""
    return desk().rounds.taking(g.viewer.team_ids)


def preselected(rounds: list[RoundEntry]) -> str:
    """The round a form offers first: the last one chosen, else the one open round."""
    last = session.get(LAST_ROUND)
    if any(e.slug == last for e in rounds):
        return str(last)
    open_now = [e for e in rounds if e.state == "open"]
    return open_now[0].slug if len(open_now) == 1 else ""


def chosen_round(rounds: list[RoundEntry], slug: str | None) -> RoundEntry:
    """The officer's round named in a form (remembered for the next form); raises
    InvalidSubmissionError for a round that is not theirs, or none chosen of several."""
    entry = duty.pick_round(rounds, slug)
    if len(rounds) > 1:
        session[LAST_ROUND] = entry.slug
    return entry


@bp.get("/")
def index() -> str:
    require("desk")
    with desk().sessions() as db:
        recent = db.execute(
            select(m.Submission, m.DeskEntry, m.StaffUser.display_name)
            .join(m.DeskEntry, m.DeskEntry.submission_id == m.Submission.id)
            .outerjoin(m.StaffUser, m.StaffUser.id == m.DeskEntry.recorded_by)
            .order_by(m.DeskEntry.recorded_at.desc()).limit(RECENT)
        ).all()
        waiting = db.scalar(select(func.count()).select_from(m.Appointment)
                            .where(m.Appointment.status == "requested"))
        pending = db_pending_counts(db)
    rounds = officer_rounds()
    return render_template("staff/desk.html", recent=recent, waiting=waiting, rounds=rounds,
                           pending=pending,
                           round_names={e.id: e.cfg.name for e in desk().rounds.all()})


@bp.route("/log/<channel>", methods=["GET", "POST"])
def log_entry(channel: str) -> Any:
    """The call or visit log: keyboard first, time defaults to now, the officer is recorded.
    It is filed under one of the officer's teams' rounds: asked for only when there are
    several."""
    require("desk")
    if channel not in CHANNEL_TITLES:
        abort(404)
    rounds = officer_rounds()
    page = {"channel": channel, "now": now_local(), "title": CHANNEL_TITLES[channel],
            "rounds": rounds}
    if request.method == "GET":
        return render_template("staff/desk_log.html", values={}, selected=preselected(rounds),
                               form_key=secrets.token_urlsafe(16), **page)
    form = request.form
    try:
        round_ = chosen_round(rounds, form.get("round"))
        anonymous = form.get("anonymous", "true") != "false"
        phone = form.get("phone", "")
        identity = Identity(phone=phone) if anonymous else Identity(
            name=form.get("name", ""), phone=phone, address=form.get("address", ""))
        receipt = duty.log_entry(
            desk(),
            duty.DeskLog(
                channel=channel,
                received_at=parse_local(form.get("received_at", ""), "received_at"),
                text=form.get("text", ""),
                title=form.get("title", ""),
                anonymous=anonymous,
                identity=identity,
                subject_name=form.get("subject_name", ""),
                subject_unit=form.get("subject_unit", ""),
                subject_post=form.get("subject_post", ""),
                round_id=round_.id,
            ),
            staff_id=g.staff.id,
            # One key per opened form: sent twice (a reload, a double press), it is one item.
            external_id=form.get("form_key") or None,
        )
    except duty.DuplicateCallError as exc:
        return render_template("staff/desk_receipt.html", duplicate=exc.submission_id,
                               channel=channel), 409
    except InvalidSubmissionError as exc:
        return render_template("staff/desk_log.html", values=form, error=exc,
                               selected=form.get("round") or preselected(rounds),
                               form_key=form.get("form_key", ""), **page), 400
    return render_template("staff/desk_receipt.html", receipt=receipt, channel=channel,
                           filed_under=desk().rounds.get(receipt.round_id))


@bp.get("/appointments")
def appointment_list() -> str:
    require("desk")
    return _appointments_page()


def _appointments_page(error: str = "") -> str:
    rounds = officer_rounds()
    return render_template(
        "staff/desk_appointments.html",
        slots=appointments.slots(desk()),
        requests=appointments.requests(desk()),
        decided=appointments.requests(desk(), status="confirmed"),
        now=now_local(),
        rounds=rounds,
        selected=preselected(rounds),
        round_names={e.id: e.cfg.name for e in desk().rounds.all()},
        error=error,
    )


@bp.post("/slots")
def slot_create() -> Any:
    """Publish slots in one of the officer's rounds (its public page offers them)."""
    require("desk")
    form = request.form
    published = 0
    try:
        round_ = chosen_round(officer_rounds(), form.get("round"))
    except InvalidSubmissionError as exc:
        return _appointments_page(exc.message), 400
    try:
        start = parse_local(form.get("starts_at", ""), "starts_at")
        minutes = int(form.get("minutes", "30") or 30)
        count = int(form.get("count", "1") or 1)
        if not (10 <= minutes <= 480 and 1 <= count <= 20):
            raise InvalidSubmissionError("minutes", "每个时段 10 到 480 分钟，一次最多 20 个。")
        for i in range(count):  # a morning of consecutive slots in one go
            begins = start + i * timedelta(minutes=minutes)
            appointments.create_slot(desk(), begins, begins + timedelta(minutes=minutes),
                                     form.get("place", ""), staff_id=g.staff.id,
                                     round_id=round_.id)
            published += 1
    except ValueError:
        flash("时长和个数应为数字。")
    except InvalidSubmissionError as exc:
        flash((f"已发布 {published} 个时段；其余未发布：" if published else "") + exc.message)
    else:
        flash(f"已发布 {published} 个时段。")
    return redirect(url_for("staff.desk.appointment_list"))


@bp.post("/slots/<int:slot_id>/withdraw")
def slot_withdraw(slot_id: int) -> Any:
    require("desk")
    appointments.withdraw_slot(desk(), slot_id)
    flash("该时段已停止预约；已有的申请仍需处理。")
    return redirect(url_for("staff.desk.appointment_list"))


@bp.post("/appointments/<int:appointment_id>")
def appointment_decide(appointment_id: int) -> Any:
    require("desk")
    form = request.form
    action = form.get("action", "")
    kwargs = {"staff_id": g.staff.id, "staff_label": g.staff.username,
              "note": form.get("note", "")}
    try:
        if action == "confirm":
            appointments.confirm(desk(), appointment_id, **kwargs)
        elif action == "move":
            appointments.move(desk(), appointment_id, int(form.get("slot", "0") or 0), **kwargs)
        elif action == "decline":
            appointments.decline(desk(), appointment_id, **kwargs)
        else:
            abort(400)
    except appointments.SlotTakenError as exc:
        flash(exc.message)
    except InvalidSubmissionError as exc:
        flash(exc.message)
    except ValueError:
        flash("请选择要改约的时段。")
    else:
        done = {"confirm": "已确认。", "move": "已改约并确认。", "decline": "已告知未能安排。"}
        flash(done[action] + "申请人可在查询页看到。")
    return redirect(url_for("staff.desk.appointment_list"))


@bp.route("/devices", methods=["GET", "POST"])
def devices() -> Any:
    """Call-centre systems allowed to push call logs, each bound to a team (its calls go to
    that team's open round); a token is shown once, at creation."""
    require("manage_devices")
    token = None
    status = 200
    if request.method == "POST":
        try:
            token = duty.create_device(desk(), request.form.get("name", ""),
                                       actor_id=g.staff.id, actor_label=g.staff.username,
                                       team=request.form.get("team") or None)
        except InvalidSubmissionError as exc:
            flash(exc.message)
            status = 400
    return render_template("staff/desk_devices.html", devices=duty.device_listing(desk()),
                           teams=duty.team_names(desk()), token=token), status


@bp.post("/devices/<int:device_id>/revoke")
def device_revoke(device_id: int) -> Any:
    require("manage_devices")
    duty.revoke_device(desk(), device_id, actor_id=g.staff.id, actor_label=g.staff.username)
    flash("已停用该设备的令牌。")
    return redirect(url_for("staff.desk.devices"))
