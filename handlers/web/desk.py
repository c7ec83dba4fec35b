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
    url_for,
)
from sqlalchemy import func, select

from handlers.web.context import desk, now_local, parse_local, require
from intake import appointments, duty
from intake.protect import Identity
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.submission import InvalidSubmissionError

bp = Blueprint("desk", __name__)

CHANNEL_TITLES = {"hotline": "记录来电", "visit": "记录来访"}
RECENT = 20


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
    return render_template("staff/desk.html", recent=recent, waiting=waiting)


@bp.route("/log/<channel>", methods=["GET", "POST"])
def log_entry(channel: str) -> Any:
    """The call or visit log: keyboard first, time defaults to now, the officer is recorded."""
    require("desk")
    if channel not in CHANNEL_TITLES:
        abort(404)
    rounds = _officer_rounds()
    if request.method == "GET":
        return render_template("staff/desk_log.html", channel=channel, values={},
                               now=now_local(), title=CHANNEL_TITLES[channel],
                               form_key=secrets.token_urlsafe(16), rounds=rounds)
    form = request.form
    try:
        round_id = _chosen_round(rounds, form.get("round", ""))
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
                round_id=round_id,
            ),
            staff_id=g.staff.id,
            # One key per opened form: sent twice (a reload, a double press), it is one item.
            external_id=form.get("form_key") or None,
        )
    except duty.DuplicateCallError as exc:
        return render_template("staff/desk_receipt.html", duplicate=exc.submission_id,
                               channel=channel), 409
    except InvalidSubmissionError as exc:
        return render_template("staff/desk_log.html", channel=channel, values=form,
                               now=now_local(), title=CHANNEL_TITLES[channel], error=exc,
                               form_key=form.get("form_key", ""), rounds=rounds), 400
    return render_template("staff/desk_receipt.html", receipt=receipt, channel=channel)


def _officer_rounds() -> list[RoundEntry]:
    """The rounds the officer's calls and visits are filed under: their teams' open rounds
    (else those still taking items). Empty for a member of no team (the one open round)."""
    found: dict[int, RoundEntry] = {}
    for team_id in sorted(g.viewer.team_ids):
        found.update((e.id, e) for e in desk().rounds.for_team(team_id))
    return list(found.values())


def _chosen_round(rounds: list[RoundEntry], slug: str) -> int | None:
    if slug:
        chosen = next((e for e in rounds if e.slug == slug), None)
        if chosen is None:
            raise InvalidSubmissionError("round", "请从列表中选择本组受理中的巡察轮次。")
        return chosen.id
    if len(rounds) > 1:
        raise InvalidSubmissionError("round", "您所在的组有多个受理中的轮次，请选择所属轮次。")
    return rounds[0].id if rounds else None


@bp.get("/appointments")
def appointment_list() -> str:
    require("desk")
    return render_template(
        "staff/desk_appointments.html",
        slots=appointments.slots(desk()),
        requests=appointments.requests(desk()),
        decided=appointments.requests(desk(), status="confirmed"),
        now=now_local(),
    )


@bp.post("/slots")
def slot_create() -> Any:
    require("desk")
    form = request.form
    published = 0
    try:
        start = parse_local(form.get("starts_at", ""), "starts_at")
        minutes = int(form.get("minutes", "30") or 30)
        count = int(form.get("count", "1") or 1)
        if not (10 <= minutes <= 480 and 1 <= count <= 20):
            raise InvalidSubmissionError("minutes", "每个时段 10 到 480 分钟，一次最多 20 个。")
        for i in range(count):  # a morning of consecutive slots in one go
            begins = start + i * timedelta(minutes=minutes)
            appointments.create_slot(desk(), begins, begins + timedelta(minutes=minutes),
                                     form.get("place", ""), staff_id=g.staff.id)
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
    """Call-centre systems allowed to push call logs; a token is shown once, at creation."""
    require("manage_devices")
    token = None
    if request.method == "POST":
        try:
            token = duty.create_device(desk(), request.form.get("name", ""),
                                       actor_id=g.staff.id, actor_label=g.staff.username)
        except InvalidSubmissionError as exc:
            flash(exc.message)
    return render_template("staff/desk_devices.html", devices=duty.list_devices(desk()),
                           token=token)


@bp.post("/devices/<int:device_id>/revoke")
def device_revoke(device_id: int) -> Any:
    require("manage_devices")
    duty.revoke_device(desk(), device_id, actor_id=g.staff.id, actor_label=g.staff.username)
    flash("已停用该设备的令牌。")
    return redirect(url_for("staff.desk.devices"))
