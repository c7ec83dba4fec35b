"""The lead's life after triage: the ledger and its keeper, transfers and their replies,
repeats, closing, and the notices that tell reporters what happened.

Every function here is one step a member of staff takes, in one transaction: it checks the
role, finds the item inside the caller's scope (intake.scope: another team's item is simply
not found), checks the step is allowed from where the case stands, changes it, records a
signed `ItemStep` (the case's history) and an audit event, and where the reporter should hear
of it, a `Notice` (intake.notices). Refusals raise `LeadError`, whose `kind` the API turns into
a status: `not_found` 404, `forbidden` 403, `invalid` 400, `conflict` 409.

Statuses: received/triaged → accepted (a lead: numbered, one keeper) or transferred (to one or
more bodies) → closed (a disposal). A lead may also transfer parts of its matter; a transfer
returned (退回) with nothing else holding the item sends it back to triage. A repeat (重复件)
is closed as `repeat`, linked to the first item, and can be undone.

Numbers come from the round's own series (`round.numbering` in the round file, else
"{prefix}巡线〔{year}〕{n:03d}号" and "{prefix}巡转〔{year}〕{n}号"), taken by an atomic
increment of `RoundCounter` in the step's transaction: no gaps, no twins.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake import documents, notices
from intake.audit import db_record
from intake.desk import Desk
from intake.items import CLOSE_DAYS, EXTENSION_DAYS, close_due, zone_of
from intake.masking import mask_text
from intake.publication import find_font
from intake.round import Round
from intake.staff import may
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError
from intake.triage import AWAITING_TRIAGE, Actor
from intake.workdays import add_working_days

TRANSFER_ACCEPT_WORKING_DAYS = 5  # a receiving body accepts or re-routes (domain §4)
# ... and reports its result within the petition limit (60 days from dispatch, CLOSE_DAYS).
REOPEN_REPLY_WORKING_DAYS = 15  # a disputed result: a new answer within this
NOTE_MAX = 2000
ID_MAX = 2**31  # ids are 32-bit integers (as the paths' RowId): a larger number names no item
PART_MAX = 5000

# The disposals of the contract's `close` (and what a repeat is closed as).
DISPOSAL_NAMES = {
    "talk_inquiry": "谈话函询",
    "preliminary_check": "初步核实",
    "shelved": "暂存待查",
    "concluded": "予以了结",
    "handed_to_commission": "移交纪委监委",
    "transferred_done": "转办办结",
    "no_action": "不予处理",
    "repeat": "重复件",
}
CLOSE_DISPOSALS = tuple(d for d in DISPOSAL_NAMES if d != "repeat")
# Only a lead (an accepted item) is disposed of these ways.
LEAD_DISPOSALS = ("talk_inquiry", "preliminary_check", "shelved", "handed_to_commission")
TRANSFER_STATUS_NAMES = {"sent": "已转出，待受理", "accepted": "已受理，待反馈结果",
                         "answered": "已反馈结果", "returned": "已退回", "overdue": "已超期"}
REPLY_NAMES = {"accepted": "受理", "result": "办理结果", "returned": "退回"}
DISPATCH_NAMES = {"exchange": "机要交换", "post": "邮寄", "system": "系统推送", "hand": "当面递交"}
# Departments a transfer can go to: every receiving body but the team itself and the archive.
NOT_A_RECEIVER = ("accept", "none")
KEEPER_ROLES = ("triager", "team_leader")


class LeadError(IntakeError):
    """A step was refused; `message` is Chinese, for staff; `field` names the bad input."""

    def __init__(self, kind: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


def _forbidden(message: str = "您的角色不能办理这一步。") -> LeadError:
    return LeadError("forbidden", message)


def _not_found(what: str = "件") -> LeadError:
    return LeadError("not_found", f"没有找到这{what}。")


# -- numbers -----------------------------------------------------------------------------


def number_prefix(cfg: Round) -> str:
    """The short place name a round's numbers start with: 青山 for 青山镇."""
    places = [p for u in (cfg.units or (cfg.unit,)) for p in u.places] or [cfg.unit.short]
    return min(places, key=len) if places else ""


LEAD_FORMAT = "{prefix}巡线〔{year}〕{n:03d}号"
TRANSFER_FORMAT = "{prefix}巡转〔{year}〕{n}号"


def format_number(cfg: Round, kind: str, n: int) -> str:
    fmt = (cfg.lead_format or LEAD_FORMAT) if kind == "lead" else (
        cfg.transfer_format or TRANSFER_FORMAT)
    return fmt.format(prefix=number_prefix(cfg), year=cfg.opens.year, n=n)


def db_next_number(session: Session, round_id: int, kind: str) -> int:
    """The next number of the round's `kind` series, in the caller's transaction (the row is
    locked until it commits, so two steps never take the same number)."""
    counter = session.get(m.RoundCounter, (round_id, kind), with_for_update=True)
    if counter is None:
        try:
            with session.begin_nested():
                session.add(m.RoundCounter(round_id=round_id, kind=kind, value=0))
        except IntegrityError:
            pass  # made meanwhile by another step
        counter = session.get(m.RoundCounter, (round_id, kind), with_for_update=True)
        assert counter is not None
    counter.value += 1
    return counter.value


# -- finding and checking ----------------------------------------------------------------


def _round(desk: Desk, row: m.Submission) -> Round:
    entry = desk.rounds.get(row.round_id)
    if entry is None:
        raise LeadError("conflict", "此件的巡察轮次已不存在。")
    return entry.cfg


def _item(session: Session, item_id: int) -> m.Submission:
    row = session.get(m.Submission, item_id, with_for_update=True)
    if row is None:
        raise _not_found()
    return row


def _lead(session: Session, item_id: int) -> m.Lead | None:
    return session.scalar(select(m.Lead).where(m.Lead.submission_id == item_id))


def _transfers(session: Session, item_id: int) -> list[m.Transfer]:
    return list(session.scalars(select(m.Transfer).where(m.Transfer.submission_id == item_id)
                                .order_by(m.Transfer.id)))


def _text(value: Any, field: str, limit: int = NOTE_MAX, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LeadError("invalid", "应为文字。", field)
    value = value.strip()
    if required and not value:
        raise LeadError("invalid", "请填写。", field)
    if len(value) > limit:
        raise LeadError("invalid", f"最多 {limit} 字。", field)
    return value


def _open_for_steps(row: m.Submission) -> None:
    if row.status == "spam":
        raise LeadError("conflict", "此件已标为垃圾信息，请先移出垃圾信息。")
    if row.repeat_of_id is not None:
        raise LeadError("conflict", f"此件已登记为第 {row.repeat_of_id} 号件的重复件，"
                        "不再单独办理；如登记有误，请先撤销重复件。")
    if row.status == "closed":
        raise LeadError("conflict", "此件已办结。")


def _step(session: Session, row: m.Submission, actor: Actor, kind: str, note: str = "",
          **detail: Any) -> m.ItemStep:
    step = m.ItemStep(submission_id=row.id, staff_id=actor.id, kind=kind, detail=detail,
                      note=note, at=m.utcnow())
    session.add(step)
    return step


def _keeper(session: Session, desk: Desk, row: m.Submission, username: Any) -> m.StaffUser:
    """The member of staff to keep the lead: an active triager or team leader of the round's
    team."""
    name = _text(username, "keeper", 100, required=True)
    team_id = desk.rounds.get(row.round_id).team_id  # type: ignore[union-attr]
    user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == name))
    member = user is not None and session.scalar(select(m.TeamMember.user_id).where(
        m.TeamMember.user_id == user.id, m.TeamMember.team_id == team_id)) is not None
    if user is None or not member or not user.active:
        raise LeadError("invalid", f"本组没有可用账号 {name}。", "keeper")
    if user.role not in KEEPER_ROLES:
        raise LeadError("invalid", f"{name} 不是研判员或组长，不能承办线索。", "keeper")
    return user


def resting_status(session: Session, row: m.Submission) -> str:
    """Where an item stands when nothing closes it: a lead, else transferred (a transfer not
    returned), else triaged once a triager decided, else received."""
    if _lead(session, row.id) is not None:
        return "accepted"
    if any(t.status != "returned" for t in _transfers(session, row.id)):
        return "transferred"
    decided = session.scalar(select(m.Decision.id).where(m.Decision.submission_id == row.id)
                             .limit(1))
    return "triaged" if decided is not None else "received"


# -- accept: a numbered lead with one keeper ------------------------------------------------


def accept(desk: Desk, actor: Actor, item_id: int, *, keeper: Any, note: Any = "") -> str:
    """Make the item a lead in its round's ledger, kept by `keeper`; returns its number."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以受理线索。")
    note = _text(note, "note")
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        lead = _lead(session, row.id)
        if lead is not None:
            holder = session.get(m.StaffUser, lead.keeper_id)
            raise LeadError("conflict", f"此件已是线索 {lead.number}，承办人 "
                            f"{holder.username if holder else ''}；一条线索只有一名承办人，"
                            "更换承办人请由组长办理。")
        _open_for_steps(row)
        cfg = _round(desk, row)
        user = _keeper(session, desk, row, keeper)
        seq = db_next_number(session, row.round_id, "lead")
        number = format_number(cfg, "lead", seq)
        session.add(m.Lead(submission_id=row.id, round_id=row.round_id, seq=seq, number=number,
                           keeper_id=user.id, accepted_by=actor.id, accepted_at=m.utcnow()))
        row.status = "accepted"
        _step(session, row, actor, "accepted", note, number=number, keeper=user.username)
        db_record(session, "lead.accept", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, number=number, keeper=user.username)
        _notify(session, desk, row, "accepted", actor, cfg)
        session.commit()
        return number


def change_keeper(desk: Desk, actor: Actor, item_id: int, *, keeper: Any, reason: Any) -> None:
    """The team leader hands a lead to another keeper (专人专管: still one)."""
    if not may(actor.role, "assign_keeper"):
        raise _forbidden("只有组长可以更换承办人。")
    reason = _text(reason, "reason", 200, required=True)
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        lead = _lead(session, row.id)
        if lead is None:
            raise LeadError("conflict", "此件还不是线索，没有承办人。")
        if row.status == "closed":
            raise LeadError("conflict", "此线索已办结，不能更换承办人。")
        user = _keeper(session, desk, row, keeper)
        if user.id == lead.keeper_id:
            raise LeadError("invalid", f"{user.username} 已是承办人。", "keeper")
        before = session.get(m.StaffUser, lead.keeper_id)
        lead.keeper_id = user.id
        _step(session, row, actor, "keeper", reason, keeper=user.username,
              previous=before.username if before else "")
        db_record(session, "lead.keeper", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, keeper=user.username, reason=reason)
        session.commit()


# -- transfers ------------------------------------------------------------------------------


def transfer(desk: Desk, actor: Actor, item_id: int, *, department: Any, note: Any = "",
             part: Any = "", dispatch: Any = "exchange") -> int:
    """Transfer the item, or the part of it `part` describes, to a receiving body; returns
    the transfer's id. The matter sent is masked text only (the item's, or the part)."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以转办。")
    if not isinstance(department, str) or department not in desk.rules.departments \
            or department in NOT_A_RECEIVER:
        raise LeadError("invalid", "请选择受理单位（部门代码见 routing_rules/departments.yaml）。",
                        "department")
    dispatch = dispatch or "exchange"
    if dispatch not in DISPATCH_NAMES:
        raise LeadError("invalid", f"送达方式应为：{'、'.join(DISPATCH_NAMES)}。", "dispatch")
    note = _text(note, "note")
    part = _text(part, "part", PART_MAX)
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        _open_for_steps(row)
        cfg = _round(desk, row)
        if any(t.department == department and t.status != "returned"
               for t in _transfers(session, row.id)):
            raise LeadError("conflict", "此件已转办该单位，办理中；如需催办，请在转办记录上督办。",
                            "department")
        now = m.utcnow()
        today = now.astimezone(zone_of(cfg)).date()
        seq = db_next_number(session, row.round_id, "transfer")
        number = format_number(cfg, "transfer", seq)
        matter = mask_text(part) if part else row.text
        accept_due = add_working_days(today, TRANSFER_ACCEPT_WORKING_DAYS, cfg)
        found = m.Transfer(
            submission_id=row.id, round_id=row.round_id, seq=seq, number=number,
            department=department, department_name=notices.receiver_name(desk, department),
            matter=matter, note=note, dispatch_method=dispatch, dispatched_at=now,
            created_by=actor.id, accept_due=accept_due,
            reply_due=today + timedelta(days=CLOSE_DAYS), status="sent")
        session.add(found)
        session.flush()
        whole = row.status in AWAITING_TRIAGE
        if whole:
            row.status = "transferred"
        _step(session, row, actor, "transferred", note, transfer_id=found.id, number=number,
              department=department, part=bool(part), dispatch=dispatch)
        db_record(session, "transfer.create", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, transfer_id=found.id, number=number,
                  department=department)
        if whole:
            _notify(session, desk, row, "transferred", actor, cfg,
                    department_name=found.department_name)
        session.commit()
        return found.id


def _transfer(session: Session, transfer_id: int) -> tuple[m.Transfer, m.Submission]:
    found = session.get(m.Transfer, transfer_id, with_for_update=True)
    if found is None:
        raise _not_found("份转办记录")
    return found, _item(session, found.submission_id)


AT_FORMAT = "时间格式不对，应为 2026-03-05 或 2026-03-05T09:30+08:00。"


def parse_at(value: Any, zone: Any, now: datetime) -> datetime:
    """When a body answered: ISO date or datetime (in the round's zone without an offset);
    empty means now. Never in the future."""
    if value in (None, ""):
        return now
    if not isinstance(value, str):
        raise LeadError("invalid", AT_FORMAT, "at")
    try:
        if len(value.strip()) == 10:
            at = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time(), zone)
            at = at.replace(hour=12)
        else:
            at = datetime.fromisoformat(value.strip())
            at = at if at.tzinfo else at.replace(tzinfo=zone)
    except ValueError:
        raise LeadError("invalid", AT_FORMAT, "at") from None
    if at > now + timedelta(minutes=5):
        raise LeadError("invalid", "答复时间不能晚于现在。", "at")
    return min(at, now)


def add_reply(desk: Desk, actor: Actor, transfer_id: int, *, kind: Any, text: Any = "",
              at: Any = None) -> int:
    """Record a receiving body's answer: `accepted` stops the acceptance clock, `result` the
    reply clock, `returned` (退回) sends the item back to triage when nothing else holds it."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以登记答复。")
    if kind not in REPLY_NAMES:
        raise LeadError("invalid", "答复类型应为 accepted（受理）、result（办理结果）或 "
                        "returned（退回）。", "kind")
    text = _text(text, "text", PART_MAX, required=kind != "accepted")
    with desk.sessions() as session:
        begin_write(session)
        found, row = _transfer(session, transfer_id)
        cfg = _round(desk, row)
        now = m.utcnow()
        when = parse_at(at, zone_of(cfg), now)
        if when < found.dispatched_at - timedelta(minutes=5):
            raise LeadError("invalid", "答复时间不能早于转出时间。", "at")
        if found.status == "returned":
            raise LeadError("conflict", f"{found.number} 已被退回，不能再登记答复。")
        if row.status == "closed":
            raise LeadError("conflict", "此件已办结；对办理结果有异议的，请先重新交办。")
        if kind == "result" and found.status == "answered":
            raise LeadError("conflict", f"{found.number} 已登记办理结果；对结果有异议的，"
                            "请重新交办。", "kind")
        if kind == "accepted" and found.status != "sent":
            raise LeadError("conflict", f"{found.number} 已登记受理。", "kind")
        if kind == "returned" and found.status == "answered":
            raise LeadError("conflict", f"{found.number} 已反馈办理结果，不能退回；"
                            "对结果有异议的，请重新交办。", "kind")
        reply = m.TransferReply(transfer_id=found.id, kind=kind, text=mask_text(text) if text
                                else "", at=when, recorded_by=actor.id, recorded_at=now)
        session.add(reply)
        if kind == "accepted":
            found.status, found.accepted_at = "accepted", when
        elif kind == "result":
            found.status, found.answered_at = "answered", when
            found.accepted_at = found.accepted_at or when
        else:
            found.status, found.returned_at = "returned", when
            if row.status == "transferred":
                row.status = resting_status(session, row)
        session.flush()
        _step(session, row, actor, "reply", "", transfer_id=found.id, number=found.number,
              reply=kind, reply_id=reply.id)
        db_record(session, "transfer.reply", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, transfer_id=found.id, kind=kind)
        session.commit()
        return reply.id


def remind(desk: Desk, actor: Actor, transfer_id: int, *, note: Any = "") -> None:
    """督办: a reminder to a body whose answer is awaited, counted on the transfer."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以督办。")
    note = _text(note, "note")
    with desk.sessions() as session:
        begin_write(session)
        found, row = _transfer(session, transfer_id)
        if found.status not in ("sent", "accepted"):
            raise LeadError("conflict", f"{found.number} 不在等待答复，无需督办。")
        found.reminders += 1
        found.reminded_at = m.utcnow()
        _step(session, row, actor, "reminded", note, transfer_id=found.id, number=found.number,
              count=found.reminders)
        db_record(session, "transfer.remind", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, transfer_id=found.id)
        session.commit()


def reopen_transfer(desk: Desk, actor: Actor, transfer_id: int, *, reason: Any) -> None:
    """A disputed result: the body answers again within 15 working days; a case closed on
    that result is open again."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以重新交办。")
    reason = _text(reason, "reason", 500, required=True)
    with desk.sessions() as session:
        begin_write(session)
        found, row = _transfer(session, transfer_id)
        if found.status != "answered":
            raise LeadError("conflict", f"{found.number} 还没有反馈结果。")
        cfg = _round(desk, row)
        today = m.utcnow().astimezone(zone_of(cfg)).date()
        found.status = "accepted"
        found.reply_due = add_working_days(today, REOPEN_REPLY_WORKING_DAYS, cfg)
        if row.status == "closed" and row.disposal == "transferred_done":
            row.status, row.disposal, row.closed_at = resting_status(session, row), None, None
        _step(session, row, actor, "reopened", reason, transfer_id=found.id,
              number=found.number, reply_due=found.reply_due.isoformat())
        db_record(session, "transfer.reopen", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, transfer_id=found.id, reason=reason)
        session.commit()


# -- repeats --------------------------------------------------------------------------------


def mark_repeat(desk: Desk, actor: Actor, item_id: int, *, of: Any) -> int:
    """Register the item as a repeat (重复件) of an earlier one: counted, not handled twice;
    its reporter's later messages are shown with the first item. Returns the first item's id
    (the head of a chain of repeats)."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以登记重复件。")
    if isinstance(of, bool) or not isinstance(of, int) or not 0 < of < ID_MAX:
        raise LeadError("invalid", "请给出原件的编号（数字）。", "of")
    if of == item_id:
        raise LeadError("invalid", "不能标为自己的重复件。", "of")
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        first = session.get(m.Submission, of)
        if first is None:  # the same answer for another team's item: nothing is confirmed
            raise LeadError("invalid", f"没有找到第 {of} 号件。", "of")
        while first.repeat_of_id is not None:
            first = session.get(m.Submission, first.repeat_of_id)
            if first is None:
                raise _not_found()
        if first.id == row.id:
            raise LeadError("invalid", "原件本身是此件的重复件，请先撤销。", "of")
        if first.status == "spam":
            raise LeadError("invalid", "原件是垃圾信息。", "of")
        if (first.received_at, first.id) > (row.received_at, row.id):
            raise LeadError("invalid", "只能登记为更早收到的件的重复件。", "of")
        _open_for_steps(row)
        if _lead(session, row.id) is not None or _transfers(session, row.id):
            raise LeadError("conflict", "此件已受理或转办，不能再登记为重复件。")
        row.repeat_of_id = first.id
        row.status, row.disposal, row.closed_at = "closed", "repeat", m.utcnow()
        for later in session.scalars(select(m.Submission).where(
                m.Submission.repeat_of_id == row.id)):
            later.repeat_of_id = first.id
        _step(session, row, actor, "repeat", "", of=first.id)
        db_record(session, "item.repeat", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, of=first.id)
        _tell_as_first(session, desk, row, first, actor)
        session.commit()
        return first.id


def undo_repeat(desk: Desk, actor: Actor, item_id: int) -> None:
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以撤销重复件。")
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        if row.repeat_of_id is None:
            raise LeadError("conflict", "此件不是重复件。")
        first = row.repeat_of_id
        row.repeat_of_id = None
        row.disposal, row.closed_at = None, None
        row.status = resting_status(session, row)
        _step(session, row, actor, "repeat_undone", "", of=first)
        db_record(session, "item.repeat_undo", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, of=first)
        session.commit()


def _notify(session: Session, desk: Desk, row: m.Submission, kind: str, actor: Actor,
            cfg: Round, **words: str) -> None:
    """The step's notice to the item's reporter and to the reporters of its repeats, who
    reported the same matter (件件有回音)."""
    notices.db_notify(session, desk, row, kind, actor, cfg, **words)
    for repeat in session.scalars(select(m.Submission).where(
            m.Submission.repeat_of_id == row.id).order_by(m.Submission.id)):
        notices.db_notify(session, desk, repeat, kind, actor, cfg, **words)


def _tell_as_first(session: Session, desk: Desk, row: m.Submission, first: m.Submission,
                   actor: Actor) -> None:
    """A new repeat's reporter hears where the first item stands (accepted, transferred or
    closed); nothing while it awaits triage."""
    cfg = _round(desk, row)
    if first.status == "accepted":
        notices.db_notify(session, desk, row, "accepted", actor, cfg)
    elif first.status == "transferred":
        sent = next((t for t in _transfers(session, first.id) if t.status != "returned"), None)
        notices.db_notify(session, desk, row, "transferred", actor, cfg,
                          department_name=sent.department_name if sent else "")
    elif first.status == "closed" and first.disposal:
        notices.db_notify(session, desk, row, "result", actor, cfg, disposal=first.disposal)


def _check_names_nobody(session: Session, row: m.Submission, cfg: Round, text: str) -> None:
    """What the reporter is told names no one on the round's roster nor the person this item
    accuses: a notice goes to whoever holds the query code."""
    if not text:
        return
    names = {member.name for member in cfg.roster}
    current = row.current
    if current is not None:
        names |= {s.get("name", "") for s in current.subjects if isinstance(s, dict)}
    named = sorted(n for n in names if len(n) >= 2 and n in text)
    if named:
        raise LeadError("invalid", f"告知举报人的内容不能出现被反映人或名册人员的姓名"
                        f"（{'、'.join(named)}），请改写。", "reply")


# -- extending and closing ------------------------------------------------------------------


def extend(desk: Desk, actor: Actor, item_id: int, *, reason: Any) -> date:
    """Extend the close limit once by 30 days, with a reason; returns the new due date."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以延期。")
    reason = _text(reason, "reason", 500, required=True)
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        _open_for_steps(row)
        _may_keep(session, actor, row)
        if row.close_extension_days:
            raise LeadError("conflict", "办理期限只能延长一次。")
        cfg = _round(desk, row)
        row.close_extension_days = EXTENSION_DAYS
        due = close_due(row, cfg)
        for t in _transfers(session, row.id):
            if t.status in ("sent", "accepted"):
                t.reply_due += timedelta(days=EXTENSION_DAYS)
        _step(session, row, actor, "extended", reason, days=EXTENSION_DAYS, due=due.isoformat())
        db_record(session, "item.extend", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, due=due.isoformat(), reason=reason)
        session.commit()
        return due


def _may_keep(session: Session, actor: Actor, row: m.Submission) -> None:
    """A lead's steps are its keeper's (or the team leader's)."""
    lead = _lead(session, row.id)
    if lead is not None and lead.keeper_id != actor.id and actor.role != "team_leader":
        raise _forbidden(f"线索 {lead.number} 由承办人办理；您不是它的承办人。")


def close(desk: Desk, actor: Actor, item_id: int, *, disposal: Any, note: Any = "",
          reply: Any = "") -> None:
    """Close the case with a disposal; the reporter is told the result (`reply`: what to tell
    them, else the standard words)."""
    if not may(actor.role, "work_leads"):
        raise _forbidden("只有研判员和组长可以办结。")
    if disposal not in CLOSE_DISPOSALS:
        raise LeadError("invalid", f"处置方式应为：{'、'.join(CLOSE_DISPOSALS)}。", "disposal")
    note = _text(note, "note")
    reply = _text(reply, "reply", NOTE_MAX)
    with desk.sessions() as session:
        begin_write(session)
        row = _item(session, item_id)
        _open_for_steps(row)
        _may_keep(session, actor, row)
        lead = _lead(session, row.id)
        transfers = _transfers(session, row.id)
        if disposal in LEAD_DISPOSALS and lead is None:
            raise LeadError("conflict", f"“{DISPOSAL_NAMES[disposal]}”只用于已受理的线索，"
                            "请先受理。", "disposal")
        if disposal == "transferred_done":
            if not any(t.status == "answered" for t in transfers):
                raise LeadError("conflict", "还没有收到受理单位的办理结果。", "disposal")
            if any(t.status in ("sent", "accepted") for t in transfers):
                raise LeadError("conflict", "还有转办未反馈结果。", "disposal")
        cfg = _round(desk, row)
        row.status, row.disposal, row.closed_at = "closed", disposal, m.utcnow()
        _step(session, row, actor, "closed", note, disposal=disposal)
        db_record(session, "item.close", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, disposal=disposal)
        _check_names_nobody(session, row, cfg, reply)
        _notify(session, desk, row, "result", actor, cfg, result=reply, disposal=disposal)
        session.commit()


# -- the transfer letter ----------------------------------------------------------------------

# How a letter names the channel a matter came by.
CHANNEL_WORDS = {"web": "网络举报", "api": "网络举报", "email": "电子邮件", "hotline": "来电",
                 "letter": "来信", "box": "意见箱来信", "visit": "来访"}
LETTER_TYPES = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "pdf": "application/pdf"}


def transfer_letter(desk: Desk, actor: Actor, transfer_id: int, fmt: str) -> tuple[str, bytes]:
    """The numbered transfer letter (转办函) as DOCX (from the editable template) or PDF, and
    its file name. It carries the masked matter as sent and the team's request, never the
    reporter (intake.documents.TransferLetter has no field for them). Audited."""
    if not may(actor.role, "view_queue"):
        raise _forbidden()
    with desk.sessions() as session:
        begin_write(session)
        found = session.get(m.Transfer, transfer_id)
        if found is None:
            raise _not_found("份转办记录")
        row = session.get(m.Submission, found.submission_id)
        if row is None:
            raise _not_found("份转办记录")
        cfg = _round(desk, row)
        zone = zone_of(cfg)
        generic = documents.Receiver(found.department, found.department_name)
        receiver = replace(desk.receivers.get(found.department, generic),
                           name=found.department_name)
        letter = documents.TransferLetter(
            number=found.number, team=cfg.team or cfg.name, round_name=cfg.name,
            unit_name=cfg.unit.name, receiver=receiver, item_ref=f"第 {row.id} 号信访件",
            received_on=row.received_at.astimezone(zone).date(),
            channel=CHANNEL_WORDS.get(row.channel, "来信"), title=row.title,
            matter=found.matter, request=found.note, accept_due=found.accept_due,
            reply_due=found.reply_due, dated=found.dispatched_at.astimezone(zone).date(),
            contact=f"联系电话：{cfg.hotline_number}" if cfg.hotline_number else "")
        db_record(session, "transfer.letter", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, transfer_id=found.id, format=fmt)
        session.commit()
    if fmt == "docx":
        template = desk.settings.transfer_letter_template
        content = documents.transfer_letter_docx(letter, Path(template) if template else None)
    else:
        content = documents.transfer_letter_pdf(letter, find_font(desk.settings.pdf_font))
    return f"转办函-{letter.number}.{fmt}", content
