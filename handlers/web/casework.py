"""The pages of a case after triage: the item page's 办理 panel (the lead's number and keeper,
the transfers and their clocks, the signed history of steps, and a form for each next step)
and the transfer page (its clocks, the matter as sent, the replies and reminders).

Nested under the staff blueprint (/staff), so every request has passed its login check and
runs inside the viewer's scope: another team's item or transfer is simply not found. A view
parses the form, calls one step of intake.leads (the functions the staff API calls) and turns
a refusal into the page again with its Chinese message and the input kept: 400 for bad input,
403 for a step that is not the viewer's, 409 for one the case does not allow from where it
stands; what the scope hides is 404 (and recorded as a denied access).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from handlers.web import staff
from handlers.web.context import desk, document, now, require
from intake import leads
from intake.audit import db_record
from intake.documents import receivers_file
from intake.items import transfer_overdue, zone_of
from intake.leads import (
    CLOSE_DISPOSALS,
    DISPATCH_NAMES,
    DISPOSAL_NAMES,
    KEEPER_ROLES,
    LEAD_DISPOSALS,
    NOT_A_RECEIVER,
    REPLY_NAMES,
    TRANSFER_STATUS_NAMES,
    LeadError,
)
from intake.names import STEP_NAMES
from intake.notices import DELIVERY_NAMES, NOTICE_NAMES, receiver_name
from intake.staff import ROLE_NAMES, may
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError

bp = Blueprint("casework", __name__)

REFUSAL_STATUS = {"invalid": 400, "forbidden": 403, "conflict": 409}


@dataclass(frozen=True)
class OpenForm:
    """The panel's form a refused step came from: shown open, with what was typed."""

    name: str
    values: Mapping[str, Any] = field(default_factory=dict)
    bad: str = ""  # the field the refusal named


# -- clocks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """One of a transfer's clocks as the pages say it: due, and met, late, waiting or off."""

    name: str
    due: date
    state: str  # "met", "met_late", "waiting", "overdue", "stopped"
    done_on: date | None = None

    @property
    def text(self) -> str:
        if self.state == "met":
            return f"已按期（{self.done_on}）"
        if self.state == "met_late":
            return f"超期后完成（{self.done_on}）"
        if self.state == "overdue":
            return "已超期"
        if self.state == "stopped":
            return "已停止计时"
        return "计时中"


def _clock(name: str, due: date, done: datetime | None, stopped: bool, zone: tzinfo,
           today: date) -> Clock:
    if done is not None:
        on = done.astimezone(zone).date()
        return Clock(name, due, "met" if on <= due else "met_late", on)
    if stopped:
        return Clock(name, due, "stopped")
    return Clock(name, due, "overdue" if today > due else "waiting")


def transfer_clocks(t: m.Transfer, zone: tzinfo, today: date) -> tuple[Clock, Clock]:
    """受理期限 (5 working days from dispatch) and 反馈结果期限: met when the body answered by
    then; a returned transfer stops both."""
    returned = t.status == "returned"
    accepted = t.accepted_at or t.answered_at
    return (_clock("受理期限", t.accept_due, accepted, returned, zone, today),
            _clock("反馈结果期限", t.reply_due, t.answered_at if t.status == "answered" else None,
                   returned, zone, today))


def _zone_today(round_id: int) -> tuple[tzinfo, date]:
    entry = desk().rounds.get(round_id)
    zone = zone_of(entry.cfg if entry is not None else None)
    return zone, now().astimezone(zone).date()


# -- the 办理 panel ----------------------------------------------------------------------------


def step_text(kind: str, detail: Mapping[str, Any], departments: Mapping[str, str]) -> str:
    """What a signed step did, in words (its note is shown beside it)."""
    d = detail
    number = d.get("number", "")
    if kind == "accepted":
        return f"受理为线索 {number}，承办人 {d.get('keeper', '')}"
    if kind == "keeper":
        return f"承办人由 {d.get('previous', '')} 改为 {d.get('keeper', '')}"
    if kind == "transferred":
        body = departments.get(d.get("department", ""), d.get("department", ""))
        part = "（部分事项）" if d.get("part") else ""
        how = DISPATCH_NAMES.get(d.get("dispatch", ""), "")
        return f"转办 {number} 至 {body}{part}" + (f"，{how}" if how else "")
    if kind == "reply":
        return f"登记 {number} 的答复：{REPLY_NAMES.get(d.get('reply', ''), '')}"
    if kind == "reminded":
        return f"督办 {number}（第 {d.get('count', 1)} 次）"
    if kind == "reopened":
        return f"{number} 重新交办，反馈期限 {d.get('reply_due', '')}"
    if kind == "repeat":
        return f"登记为 #{d.get('of', '')} 的重复件"
    if kind == "repeat_undone":
        return f"撤销重复件（原为 #{d.get('of', '')} 的重复件）"
    if kind == "extended":
        return f"办理期限延长 {d.get('days', '')} 天，至 {d.get('due', '')}"
    if kind == "closed":
        return f"办结：{DISPOSAL_NAMES.get(d.get('disposal', ''), '')}"
    if kind == "notice":
        text = (f"{NOTICE_NAMES.get(d.get('notice', ''), '告知')}"
                f"（{DELIVERY_NAMES.get(d.get('delivery', ''), '')}）")
        return text + ("，已完成" if d.get("done") else "")
    return STEP_NAMES.get(kind, kind)


def db_panel(db: Any, row: m.Submission, form: OpenForm | None = None) -> dict[str, Any]:
    """Everything the 办理 panel shows of an item, and which of its forms the viewer gets."""
    departments = desk().rules.departments
    entry = desk().rounds.get(row.round_id)
    zone, today = _zone_today(row.round_id)
    lead = db.scalar(select(m.Lead).where(m.Lead.submission_id == row.id))
    transfers = list(db.scalars(select(m.Transfer).where(m.Transfer.submission_id == row.id)
                                .order_by(m.Transfer.id)))
    steps = list(db.scalars(select(m.ItemStep).where(m.ItemStep.submission_id == row.id)
                            .order_by(m.ItemStep.id)))
    names = {u.id: u for u in db.scalars(select(m.StaffUser).where(m.StaffUser.id.in_(
        {s.staff_id for s in steps if s.staff_id} | ({lead.keeper_id} if lead else set()))))}
    keeper = names.get(lead.keeper_id) if lead else None
    keepers = []
    if entry is not None:
        keepers = list(db.scalars(
            select(m.StaffUser).join(m.TeamMember, m.TeamMember.user_id == m.StaffUser.id)
            .where(m.TeamMember.team_id == entry.team_id, m.StaffUser.active.is_(True),
                   m.StaffUser.role.in_(KEEPER_ROLES)).order_by(m.StaffUser.username)))
    links = db.scalars(select(m.DuplicateLink).where(or_(
        m.DuplicateLink.submission_id == row.id, m.DuplicateLink.other_id == row.id)))
    linked = {link.other_id if link.submission_id == row.id else link.submission_id: link.reason
              for link in links}
    earlier = [(other.id, linked[other.id]) for other in db.scalars(
        select(m.Submission).where(m.Submission.id.in_(linked)).order_by(m.Submission.id))
        if (other.received_at, other.id) < (row.received_at, row.id)]
    repeats = list(db.scalars(select(m.Submission.id).where(m.Submission.repeat_of_id == row.id)
                              .order_by(m.Submission.id)))

    role = g.staff.role
    works = may(role, "work_leads")
    still_open = row.status not in ("closed", "spam") and row.repeat_of_id is None
    keeps = lead is None or lead.keeper_id == g.staff.id or role == "team_leader"
    result_in = any(t.status == "answered" for t in transfers) and not any(
        t.status in ("sent", "accepted") for t in transfers)
    disposals = [d for d in CLOSE_DISPOSALS
                 if (lead is not None or d not in LEAD_DISPOSALS)
                 and (d != "transferred_done" or result_in)]
    routes = [r for r in (row.current.routes if row.current else [])
              if r in departments and r not in NOT_A_RECEIVER]
    return {
        "lead": lead, "keeper": keeper,
        "transfers": [(t, transfer_clocks(t, zone, today),
                       TRANSFER_STATUS_NAMES["overdue" if transfer_overdue(t, today) else t.status])
                      for t in transfers],
        "steps": [(s, names.get(s.staff_id) if s.staff_id else None,
                   step_text(s.kind, s.detail, departments)) for s in steps],
        "repeats": repeats, "earlier": earlier,
        "keepers": keepers, "receivers": [(k, receiver_name(desk(), k)) for k in departments
                                          if k not in NOT_A_RECEIVER],
        "routes": routes, "disposals": disposals, "dispatch_names": DISPATCH_NAMES,
        "disposal_names": DISPOSAL_NAMES, "role_names": ROLE_NAMES,
        "can": {
            "accept": works and still_open and lead is None,
            "transfer": works and still_open,
            "repeat": works and still_open and lead is None and not transfers,
            "undo_repeat": works and row.repeat_of_id is not None,
            "extend": works and still_open and keeps and not row.close_extension_days,
            "close": works and still_open and keeps,
            "keeper": may(role, "assign_keeper") and lead is not None
            and row.status != "closed",
        },
        "form": form or OpenForm(""),
    }


# -- the steps on an item ----------------------------------------------------------------------


def _item_step(item_id: int, name: str, act: Any, permission: str = "work_leads") -> Any:
    """Run one step from the item page's form `name`; on success flash `act`'s message and go
    back to the panel (or where `act` says)."""
    require(permission)
    try:
        message, target = act(request.form)
    except LeadError as exc:
        if exc.kind == "not_found":
            staff.denied("item", item_id)
            abort(404)
        return staff._render_item(item_id, error=exc.message,
                                  status=REFUSAL_STATUS[exc.kind],
                                  casework_form=OpenForm(name, request.form, exc.field))
    flash(message)
    return redirect(target or url_for("staff.item", item_id=item_id, _anchor="casework"))


@bp.post("/items/<int:item_id>/accept")
def accept(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        keeper = form.get("keeper", "")
        number = leads.accept(desk(), g.staff, item_id, keeper=keeper, note=form.get("note"))
        return f"已受理为线索 {number}，承办人 {keeper}。", ""
    return _item_step(item_id, "accept", act)


@bp.post("/items/<int:item_id>/keeper")
def keeper(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        keeper = form.get("keeper", "")
        leads.change_keeper(desk(), g.staff, item_id, keeper=keeper,
                            reason=form.get("reason"))
        return f"承办人已改为 {keeper}。", ""
    return _item_step(item_id, "keeper", act, "assign_keeper")


@bp.post("/items/<int:item_id>/transfers")
def transfer(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        found = leads.transfer(desk(), g.staff, item_id, department=form.get("department"),
                               note=form.get("note"), part=form.get("part"),
                               dispatch=form.get("dispatch") or "exchange")
        return "已转办，请下载转办函送达受理单位。", url_for(".transfer_page", transfer_id=found)
    return _item_step(item_id, "transfer", act)


def _item_number(value: str) -> Any:
    """An item number as typed (#12 or 12), as an int; anything else as it is (refused)."""
    value = value.strip().lstrip("#＃").strip()
    return int(value) if value.isascii() and value.isdigit() else value or None


@bp.post("/items/<int:item_id>/repeat")
def repeat(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        first = leads.mark_repeat(desk(), g.staff, item_id,
                                  of=_item_number(form.get("of_typed", "") or
                                                  form.get("of", "")))
        return f"已登记为 #{first} 的重复件，不再单独办理。", ""
    return _item_step(item_id, "repeat", act)


@bp.post("/items/<int:item_id>/repeat/undo")
def undo_repeat(item_id: int) -> Any:
    def act(_form: Mapping[str, str]) -> tuple[str, str]:
        leads.undo_repeat(desk(), g.staff, item_id)
        return "已撤销重复件，此件恢复单独办理。", ""
    return _item_step(item_id, "undo_repeat", act)


@bp.post("/items/<int:item_id>/extend")
def extend(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        due = leads.extend(desk(), g.staff, item_id, reason=form.get("reason"))
        return f"办理期限已延长至 {due}。", ""
    return _item_step(item_id, "extend", act)


@bp.post("/items/<int:item_id>/close")
def close(item_id: int) -> Any:
    def act(form: Mapping[str, str]) -> tuple[str, str]:
        disposal = form.get("disposal", "")
        leads.close(desk(), g.staff, item_id, disposal=disposal, note=form.get("note"),
                    reply=form.get("reply"))
        return f"已办结：{DISPOSAL_NAMES.get(disposal, disposal)}，已告知举报人。", ""
    return _item_step(item_id, "close", act)


# -- the transfer page -------------------------------------------------------------------------


@bp.get("/transfers/<int:transfer_id>")
def transfer_page(transfer_id: int) -> Any:
    require("view_queue")
    with desk().sessions() as db:  # an access record, as for the item page (domain §4)
        begin_write(db)
        found = db.get(m.Transfer, transfer_id)
        if found is not None:
            db_record(db, "item.view", actor_id=g.staff.id, actor_label=g.staff.username,
                      submission_id=found.submission_id, transfer_id=transfer_id)
            db.commit()
    if found is None:
        staff.denied("transfer", transfer_id)
        abort(404)
    return _render_transfer(transfer_id)


def _render_transfer(transfer_id: int, *, error: str = "", status: int = 200,
                     form: OpenForm | None = None) -> Any:
    with desk().sessions() as db:
        found = db.get(m.Transfer, transfer_id)
        if found is None:
            abort(404)
        row = db.get_one(m.Submission, found.submission_id)
        zone, today = _zone_today(found.round_id)
        replies = list(db.scalars(select(m.TransferReply).where(
            m.TransferReply.transfer_id == found.id).order_by(m.TransferReply.at,
                                                              m.TransferReply.id)))
        steps = [s for s in db.scalars(select(m.ItemStep).where(
            m.ItemStep.submission_id == row.id, m.ItemStep.kind.in_(
                ("transferred", "reminded", "reopened"))).order_by(m.ItemStep.id))
            if s.detail.get("transfer_id") == found.id]
        users = {u.id: u for u in db.scalars(select(m.StaffUser).where(m.StaffUser.id.in_(
            {r.recorded_by for r in replies} | {s.staff_id for s in steps if s.staff_id}
            | {found.created_by})))}
        works = may(g.staff.role, "work_leads")
        body = render_template(
            "staff/transfer.html", t=found, row=row, replies=replies, steps=steps,
            users=users, clocks=transfer_clocks(found, zone, today), zone=zone,
            status_name=TRANSFER_STATUS_NAMES["overdue" if transfer_overdue(found, today)
                                              else found.status],
            reply_names=REPLY_NAMES, dispatch_names=DISPATCH_NAMES,
            step_text=lambda s: step_text(s.kind, s.detail, desk().rules.departments),
            can={"reply": works and found.status in ("sent", "accepted")
                 and row.status != "closed",
                 "remind": works and found.status in ("sent", "accepted"),
                 "reopen": works and found.status == "answered"},
            now_value=now().astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
            error=error, form=form or OpenForm(""),
            generic_names=receivers_file(desk().settings.departments_file) is None,
        )
        return body, status


def _transfer_step(transfer_id: int, name: str, act: Any) -> Any:
    require("work_leads")
    try:
        message = act(request.form)
    except LeadError as exc:
        if exc.kind == "not_found":
            staff.denied("transfer", transfer_id)
            abort(404)
        return _render_transfer(transfer_id, error=exc.message,
                                status=REFUSAL_STATUS[exc.kind],
                                form=OpenForm(name, request.form, exc.field))
    flash(message)
    return redirect(url_for(".transfer_page", transfer_id=transfer_id))


@bp.post("/transfers/<int:transfer_id>/replies")
def reply(transfer_id: int) -> Any:
    def act(form: Mapping[str, str]) -> str:
        kind = form.get("kind", "")
        leads.add_reply(desk(), g.staff, transfer_id, kind=kind, text=form.get("text"),
                        at=form.get("at", ""))
        return f"已登记答复：{REPLY_NAMES.get(kind, kind)}。"
    return _transfer_step(transfer_id, "reply", act)


@bp.post("/transfers/<int:transfer_id>/remind")
def remind(transfer_id: int) -> Any:
    def act(form: Mapping[str, str]) -> str:
        leads.remind(desk(), g.staff, transfer_id, note=form.get("note"))
        return "已记录督办。"
    return _transfer_step(transfer_id, "remind", act)


@bp.post("/transfers/<int:transfer_id>/reopen")
def reopen(transfer_id: int) -> Any:
    def act(form: Mapping[str, str]) -> str:
        leads.reopen_transfer(desk(), g.staff, transfer_id, reason=form.get("reason"))
        return "已重新交办，受理单位应在 15 个工作日内重新反馈。"
    return _transfer_step(transfer_id, "reopen", act)


@bp.get("/transfers/<int:transfer_id>/letter.<fmt>")
def letter(transfer_id: int, fmt: str) -> Any:
    """The numbered transfer letter (转办函) as Word or PDF, as the staff API gives it."""
    require("view_queue")
    if fmt not in leads.LETTER_TYPES:
        abort(404)
    try:
        name, content = leads.transfer_letter(desk(), g.staff, transfer_id, fmt)
    except LeadError as exc:
        if exc.kind == "not_found":
            staff.denied("transfer", transfer_id)
            abort(404)
        abort(REFUSAL_STATUS[exc.kind])
    except IntakeError as exc:  # no Chinese font for the PDF, a bad county template
        return _render_transfer(transfer_id, error=str(exc), status=503)
    return document(content, name, leads.LETTER_TYPES[fmt])
