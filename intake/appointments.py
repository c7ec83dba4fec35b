"""Face-to-face appointments (预约面谈): slots the team publishes, requests from the public.

A request is an item like a report (channel "visit", with a query code and password); the
`Appointment` row carries the slot and its state. Officers confirm, move or decline; the
database refuses a second confirmed booking of one slot (`appointments.booked_slot_id` is
unique). Every decision is also posted as a team message, so the requester reads it on the
status page with their code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.desk import Desk
from intake.pipeline import ingest
from intake.protect import Identity
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import utcnow
from intake.submission import IntakeError, InvalidSubmissionError, Receipt, Submission
from intake.workdays import CHINA

MAX_SLOT = timedelta(hours=8)


class SlotTakenError(IntakeError):
    """The slot is already confirmed for someone else (or is no longer offered)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AppointmentRequest:
    slot_id: int
    text: str  # what they want to talk about, briefly
    password: str
    anonymous: bool = True
    identity: Identity = field(default_factory=Identity)
    suspected_bot: bool = False
    round_id: int | None = None  # the round whose slots were offered (None: any)


@dataclass(frozen=True)
class SlotView:
    id: int
    starts_at: datetime
    ends_at: datetime
    place: str
    published: bool
    booked: bool  # confirmed for someone
    requests: int  # requests waiting for a decision
    round_id: int = 0


def slot_label(slot: m.AppointmentSlot | SlotView) -> str:
    start, end = slot.starts_at.astimezone(CHINA), slot.ends_at.astimezone(CHINA)
    text = f"{start:%Y年%m月%d日} {start:%H:%M}–{end:%H:%M}"
    return f"{text}（{slot.place}）" if slot.place else text


def create_slot(
    desk: Desk, starts_at: datetime, ends_at: datetime, place: str, *, staff_id: int | None,
    round_id: int | None = None,
) -> int:
    """Offer a slot in a round (default: the one open round)."""
    round_id = round_id or desk.round_id
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidSubmissionError("starts_at", "时间必须带时区。")
    if ends_at <= starts_at:
        raise InvalidSubmissionError("ends_at", "结束时间必须晚于开始时间。")
    if ends_at - starts_at > MAX_SLOT:
        raise InvalidSubmissionError("ends_at", "一个时段最长 8 小时。")
    place = place.strip()
    if len(place) > 200:
        raise InvalidSubmissionError("place", "地点最多 200 字。")
    with desk.sessions() as session:
        begin_write(session)
        overlap = session.scalar(
            select(m.AppointmentSlot.id).where(
                m.AppointmentSlot.round_id == round_id,
                m.AppointmentSlot.published.is_(True),
                m.AppointmentSlot.place == place,
                m.AppointmentSlot.starts_at < ends_at,
                m.AppointmentSlot.ends_at > starts_at,
            )
        )
        if overlap is not None:
            raise InvalidSubmissionError("starts_at", "同一地点已有与此重叠的时段。")
        slot = m.AppointmentSlot(round_id=round_id, starts_at=starts_at, ends_at=ends_at,
                                 place=place, created_by=staff_id)
        session.add(slot)
        session.commit()
        return slot.id


def withdraw_slot(desk: Desk, slot_id: int) -> None:
    """Stop offering a slot; requests and bookings already made stay for officers to handle."""
    with desk.sessions() as session:
        begin_write(session)
        slot = session.get(m.AppointmentSlot, slot_id)
        if slot is not None:
            slot.published = False
            session.commit()


def slots(desk: Desk, round_id: int | None = None, *,
          upcoming_only: bool = True) -> list[SlotView]:
    """Slots with whether each is booked and how many requests wait on it, by start time: of
    one round, or of every round the viewer may see (intake.scope)."""
    with desk.sessions() as session:
        query = select(m.AppointmentSlot)
        if round_id is not None:
            query = query.where(m.AppointmentSlot.round_id == round_id)
        if upcoming_only:
            query = query.where(m.AppointmentSlot.ends_at > utcnow())
        rows = list(session.scalars(query.order_by(m.AppointmentSlot.starts_at)))
        booked = set(session.scalars(
            select(m.Appointment.booked_slot_id).where(m.Appointment.booked_slot_id.is_not(None))
        ))
        waiting: dict[int, int] = {}
        for slot_id in session.scalars(
            select(m.Appointment.slot_id).where(m.Appointment.status == "requested")
        ):
            waiting[slot_id] = waiting.get(slot_id, 0) + 1
        return [SlotView(s.id, s.starts_at, s.ends_at, s.place, s.published, s.id in booked,
                         waiting.get(s.id, 0), s.round_id) for s in rows]


def open_slots(desk: Desk, round_id: int | None = None) -> list[SlotView]:
    """What the public may ask for: published, not yet started, not confirmed for anyone."""
    now = utcnow()
    return [s for s in slots(desk, round_id)
            if s.published and not s.booked and s.starts_at > now]


def request_appointment(desk: Desk, req: AppointmentRequest) -> Receipt:
    """Take in a request as an item with a query code; raise InvalidSubmissionError/SlotTaken."""
    offered = {s.id: s for s in open_slots(desk, req.round_id)}
    slot = offered.get(req.slot_id)
    if slot is None:
        raise SlotTakenError("这个时段已被预约或不再开放，请另选一个时段。")
    if not req.text.strip():
        raise InvalidSubmissionError("text", "请简要说明想当面反映的事项。")

    def book(session: Session, row: m.Submission, _code: str) -> None:
        if req.suspected_bot:
            return  # kept as an item (marked spam), but it takes no officer's time
        session.add(m.Appointment(submission_id=row.id, requested_slot_id=slot.id,
                                  slot_id=slot.id, status="requested"))

    return ingest(
        desk,
        Submission(
            channel="visit",
            received_at=utcnow(),
            text=req.text,
            password=req.password,
            title=f"预约面谈：{slot_label(slot)}",
            anonymous=req.anonymous,
            identity=req.identity,
            suspected_bot=req.suspected_bot,
            round_id=slot.round_id,
        ),
        in_transaction=book,
    )


def appointment_of(desk: Desk, submission_id: int) -> tuple[m.Appointment, str] | None:
    """The appointment carried by an item, with its slot's label, if the item is a request."""
    with desk.sessions() as session:
        appt = session.scalar(
            select(m.Appointment).where(m.Appointment.submission_id == submission_id)
        )
        if appt is None:
            return None
        label = slot_label(appt.slot)
        session.expunge(appt)
        return appt, label


def requests(desk: Desk, *, status: str | None = "requested") -> list[tuple[m.Appointment, str]]:
    with desk.sessions() as session:
        query = select(m.Appointment).join(m.Appointment.slot).order_by(
            m.AppointmentSlot.starts_at, m.Appointment.id)
        if status:
            query = query.where(m.Appointment.status == status)
        out = [(a, slot_label(a.slot)) for a in session.scalars(query)]
        session.expunge_all()
        return out


def confirm(desk: Desk, appointment_id: int, *, staff_id: int, staff_label: str,
            note: str = "") -> None:
    _decide(desk, appointment_id, "confirmed", None, note, staff_id, staff_label)


def move(desk: Desk, appointment_id: int, slot_id: int, *, staff_id: int, staff_label: str,
         note: str = "") -> None:
    """Move to another slot (agreed with the requester) and confirm it there."""
    _decide(desk, appointment_id, "confirmed", slot_id, note, staff_id, staff_label)


def decline(desk: Desk, appointment_id: int, *, staff_id: int, staff_label: str,
            note: str = "") -> None:
    if not note.strip():
        raise InvalidSubmissionError("note", "请写明原因或其他反映途径，申请人会在查询页看到。")
    _decide(desk, appointment_id, "declined", None, note, staff_id, staff_label)


def _decide(
    desk: Desk, appointment_id: int, status: str, slot_id: int | None, note: str,
    staff_id: int, staff_label: str,
) -> None:
    note = note.strip()
    if len(note) > 1000:
        raise InvalidSubmissionError("note", "说明最多 1000 字。")
    try:
        with desk.sessions() as session:
            begin_write(session)
            appt = session.get(m.Appointment, appointment_id)
            if appt is None:
                raise InvalidSubmissionError("appointment", "没有这个预约。")
            if slot_id is not None:
                slot = session.get(m.AppointmentSlot, slot_id)
                current = session.get_one(m.AppointmentSlot, appt.slot_id)
                if slot is None or slot.round_id != current.round_id:
                    raise InvalidSubmissionError("slot", "没有这个时段。")
                appt.slot_id = slot_id
            if status == "confirmed":
                holder = session.scalar(select(m.Appointment.id).where(
                    m.Appointment.booked_slot_id == appt.slot_id,
                    m.Appointment.id != appt.id))
                if holder is not None:
                    raise SlotTakenError("这个时段已确认给另一位预约人，请改约其他时段。")
                appt.booked_slot_id = appt.slot_id
            else:
                appt.booked_slot_id = None
            appt.status = status
            appt.note = note
            appt.decided_by = staff_id
            appt.decided_at = utcnow()
            session.flush()  # the unique booking is checked here, before anything is told
            label = slot_label(session.get_one(m.AppointmentSlot, appt.slot_id))
            if status == "confirmed":
                text = f"面谈时间已确认：{label}。请按时到达，如需改期请来电。"
            else:
                text = "很抱歉，这次面谈未能安排。"
            if note:
                text += f"\n{note}"
            session.add(m.Message(submission_id=appt.submission_id, author="team", text=text,
                                  staff_id=staff_id))
            db_record(session, f"appointment_{status}", actor_id=staff_id,
                      actor_label=staff_label, submission_id=appt.submission_id,
                      slot_id=appt.slot_id)
            session.commit()
    except IntegrityError as exc:
        # Another officer confirmed someone else for this slot at the same moment.
        raise SlotTakenError("这个时段刚刚被确认给另一位预约人，请改约其他时段。") from exc
