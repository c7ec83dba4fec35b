"""The duty desk's own channels: hotline calls and walk-in visits, logged by an officer or pushed
by a call-centre system with a device token.

A call or visit becomes an item through the same `ingest()` as every other channel, filed under
a round of the officer's teams (`pick_round`) or of the device's team (`team_round`). The service
gives a query code and a password made to be read out over the phone, so the caller can use the
status page or call back with the code. Calls outside the published hours, on a holiday or
after the round closed are flagged (`DeskEntry.flags`), never refused.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.desk import Desk
from intake.pipeline import ingest, round_for
from intake.protect import Identity
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import utcnow
from intake.submission import IntakeError, InvalidSubmissionError, Submission
from intake.tokens import find_holder, token_lookup
from intake.workdays import hotline_flags, round_flags

log = logging.getLogger(__name__)

DESK_CHANNELS = ("hotline", "visit")
SPOKEN_PASSWORD_LENGTH = 8  # digits: easy to read out and to key in on a phone
TOKEN_PREFIX = "xczdev_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot
FUTURE_SLACK = timedelta(minutes=5)
EXTERNAL_ID_MAX = 100  # desk_entries.external_id


class DuplicateCallError(IntakeError):
    """A call (or a log form) sent again that is already stored as `submission_id`: a
    call-centre's retry with the same call id, or an officer's form submitted twice."""

    def __init__(self, submission_id: int) -> None:
        super().__init__(f"call already stored as item {submission_id}")
        self.submission_id = submission_id


@dataclass(frozen=True)
class DeskLog:
    """A call or visit as the duty officer (or a call-centre system) recorded it."""

    channel: str  # "hotline" or "visit"
    received_at: datetime
    text: str
    title: str = ""
    anonymous: bool = True
    identity: Identity = field(default_factory=Identity)  # a caller's number is identity too
    subject_name: str = ""
    subject_unit: str = ""
    subject_post: str = ""
    round_id: int | None = None  # None: the one open round


@dataclass(frozen=True)
class DeskReceipt:
    """What the officer reads out: shown once, after the commit; neither is stored."""

    submission_id: int
    code: str
    password: str
    received_at: datetime
    late: bool
    flags: tuple[str, ...]
    round_id: int = 0  # the round it was filed under


def spoken_password() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(SPOKEN_PASSWORD_LENGTH))


def desk_flags(desk: Desk, entry: DeskLog) -> list[str]:
    """Hotline hours apply to calls; visits are welcome whenever the desk is staffed."""
    round_ = round_for(desk, entry.round_id).cfg
    if entry.channel == "hotline":
        return hotline_flags(entry.received_at, round_)
    return round_flags(entry.received_at, round_)


def pick_round(choices: Sequence[RoundEntry], slug: str | None) -> RoundEntry:
    """The round an officer files a call, visit, scan batch or appointment slot under, among
    `choices` (their teams' rounds taking items): the one named by slug, else the only one.
    InvalidSubmissionError (`round`) for a round that is not theirs, or none named of several.
    """
    if not choices:
        raise InvalidSubmissionError(
            "round", "您所在的巡察组目前没有受理中的巡察轮次，不能在值班台记录；"
                     "请联系系统管理员核对所属巡察组和轮次。")
    slug = (slug or "").strip().lower()
    if slug:
        found = next((e for e in choices if e.slug == slug), None)
        if found is None:
            raise InvalidSubmissionError(
                "round", "所选轮次不属于您所在的巡察组，或已不再受理，请重新选择。")
        return found
    if len(choices) == 1:
        return choices[0]
    raise InvalidSubmissionError("round", "您所在的巡察组有多个受理中的轮次，请选择所属轮次。")


def team_round(desk: Desk, team_id: int | None, slug: str | None = None) -> int:
    """The round a team's call or visit is filed under: the one named by slug (among the
    team's), else the team's one open round. InvalidSubmissionError (`round`) otherwise."""
    choices = desk.rounds.for_team(team_id)
    if slug:
        found = [e for e in choices if e.slug == slug.strip().lower()]
        if not found:
            raise InvalidSubmissionError("round", f"本组没有代号为 {slug[:40]} 的受理中轮次。")
        return found[0].id
    if len(choices) == 1:
        return choices[0].id
    if not choices:
        raise InvalidSubmissionError("round", "本组目前没有受理中的巡察轮次。")
    raise InvalidSubmissionError(
        "round", "本组有多个受理中的轮次，请注明轮次代号（" +
                 "、".join(e.slug for e in choices) + "）。")


def log_entry(
    desk: Desk,
    entry: DeskLog,
    *,
    staff_id: int | None = None,
    device_id: int | None = None,
    external_id: str | None = None,
) -> DeskReceipt:
    """Store a call or visit as an item; raise InvalidSubmissionError naming a bad field."""
    if entry.channel not in DESK_CHANNELS:
        raise InvalidSubmissionError("channel", f"值班台不受理 {entry.channel} 渠道")
    if entry.received_at.tzinfo is None:
        raise InvalidSubmissionError("received_at", "时间必须带时区。")
    if not 2000 <= entry.received_at.year <= 2100:
        raise InvalidSubmissionError("received_at", "来电或来访时间不对，请核对年份。")
    if entry.received_at > utcnow() + FUTURE_SLACK:
        raise InvalidSubmissionError("received_at", "来电或来访时间不能晚于现在。")
    if not entry.anonymous and not entry.identity.name:
        raise InvalidSubmissionError("name", "实名反映请填写姓名，或改为匿名。")
    external_id = (external_id or "").strip() or None
    if external_id is not None and len(external_id) > EXTERNAL_ID_MAX:
        raise InvalidSubmissionError("call_id", f"call_id 最多 {EXTERNAL_ID_MAX} 个字符。")
    if external_id is not None:
        existing = _stored_before(desk, device_id, staff_id, external_id)
        if existing is not None:
            raise DuplicateCallError(existing)
    entry_round = round_for(desk, entry.round_id)
    flags = desk_flags(desk, entry)
    password = spoken_password()
    # A caller's name or number typed into the log is identity: ingest() masks it in the text
    # and seals the original with the identity.
    text = entry.text

    def record(session: Session, row: m.Submission, _code: str) -> None:
        session.add(m.DeskEntry(submission_id=row.id, recorded_by=staff_id,
                                device_id=device_id, external_id=external_id, flags=flags))

    submission = Submission(
        channel=entry.channel,
        received_at=entry.received_at,
        text=text,
        password=password,
        title=entry.title,
        subject_name=entry.subject_name,
        subject_unit=entry.subject_unit,
        subject_post=entry.subject_post,
        anonymous=entry.anonymous,
        identity=entry.identity,
        round_id=entry_round.id,
    )
    try:
        receipt = ingest(desk, submission, in_transaction=record)
    except IntegrityError:
        # Two pushes of one call raced; the other one stored it.
        if external_id is not None:
            existing = _stored_before(desk, device_id, staff_id, external_id)
            if existing is not None:
                raise DuplicateCallError(existing) from None
        raise
    return DeskReceipt(receipt.submission_id, receipt.code, password, receipt.received_at,
                       receipt.late, tuple(flags), entry_round.id)


def _stored_before(
    desk: Desk, device_id: int | None, staff_id: int | None, external_id: str
) -> int | None:
    """The item already stored under this id by this device, or by this officer's form."""
    source = (m.DeskEntry.device_id == device_id if device_id is not None
              else m.DeskEntry.device_id.is_(None) & (m.DeskEntry.recorded_by == staff_id))
    with desk.sessions() as session:
        return session.scalar(select(m.DeskEntry.submission_id).where(
            source, m.DeskEntry.external_id == external_id))


# --- Call-centre devices ---------------------------------------------------------------------


def create_device(desk: Desk, name: str, *, actor_id: int | None, actor_label: str,
                  team: str | None = None) -> str:
    """Register a call-centre system of a team (its calls go to the team's open round; the
    only team when none is named); return its token (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidSubmissionError("name", "请填写设备名称（100 字以内）。")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with desk.sessions() as session:
        begin_write(session)
        teams = list(session.scalars(select(m.Team).order_by(m.Team.id)))
        if team:
            chosen = next((t for t in teams if t.name == team.strip()), None)
            if chosen is None:
                raise InvalidSubmissionError("team", f"没有名为「{team}」的巡察组。")
        elif len(teams) == 1:
            chosen = teams[0]
        else:
            raise InvalidSubmissionError("team", "有多个巡察组，请指明设备属于哪个组（--team）。")
        device = m.Device(name=name, token_lookup=token_lookup(token), created_by=actor_id,
                          team_id=chosen.id)
        session.add(device)
        session.flush()
        db_record(session, "device_create", actor_id=actor_id, actor_label=actor_label,
                  device_id=device.id, name=name, team=chosen.name)
        session.commit()
    return token


def revoke_device(desk: Desk, device_id: int, *, actor_id: int | None, actor_label: str) -> None:
    with desk.sessions() as session:
        begin_write(session)
        device = session.get(m.Device, device_id)
        if device is None or device.revoked_at is not None:
            return
        device.revoked_at = utcnow()
        db_record(session, "device_revoke", actor_id=actor_id, actor_label=actor_label,
                  device_id=device_id, name=device.name)
        session.commit()


def authenticate_device(desk: Desk, token: str) -> m.Device | None:
    """The active device holding `token`, or None; notes when it was last used."""
    return find_holder(desk, m.Device, token, TOKEN_PREFIX)


def device_listing(desk: Desk) -> list[tuple[m.Device, str | None]]:
    """Every device with the name of its team (None: a device of the service's one round)."""
    with desk.sessions() as session:
        rows = [(device, team) for device, team in session.execute(
            select(m.Device, m.Team.name).outerjoin(m.Team, m.Team.id == m.Device.team_id)
            .order_by(m.Device.id))]
        session.expunge_all()
        return rows


def team_names(desk: Desk) -> list[str]:
    """The teams a device can be bound to, in the order they were created."""
    with desk.sessions() as session:
        return list(session.scalars(select(m.Team.name).order_by(m.Team.id)))


def list_devices(desk: Desk) -> list[m.Device]:
    with desk.sessions() as session:
        devices = list(session.scalars(select(m.Device).order_by(m.Device.id)))
        session.expunge_all()
        return devices
