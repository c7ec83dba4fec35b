"""The daily digest (工作日报): what a team's rounds took in and did on one day, and what is
coming due. Counts and numbers only: no item text, no reporter, no person reported on.

One `Digest` is built for a set of rounds and a day (Beijing time): received by channel,
accepted (lead numbers), transferred (transfer numbers and bodies), replies recorded,
closed, newly overdue (limits passed since the previous working day), due within the next
3 working days (the round's calendar: intake.workdays), and the notices still to deliver.
Clocks are those of intake.items.deadlines, read as the case stands now.

The staff page shows it for the viewer's rounds; `intake digest` prints it; and `intake
serve`, when a relay and `digest_recipients` are configured, mails each team its previous
day's digest once a day after `digest_hour` (DigestWorker), through the outbox. "Once" holds
with several processes: the team's row is locked and an outbox row of kind `digest` keyed by
team and day is looked for in the same write transaction.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TextIO

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from intake.desk import Desk, open_desk
from intake.items import CLOSE_DAYS, db_facts, deadlines
from intake.leads import DISPOSAL_NAMES, REPLY_NAMES
from intake.names import CHANNEL_NAMES, CLOCK_NAMES
from intake.outbox import compose_reply, db_queue
from intake.rounds import RoundEntry
from intake.settings import Settings
from intake.store import models as m
from intake.store.db import begin_write
from intake.workdays import CHINA, add_working_days, working_day

log = logging.getLogger(__name__)

DUE_SOON_WORKING_DAYS = 3
MAIL_KIND = "digest"
SUBJECT = "受理工作日报"


@dataclass(frozen=True)
class Clock:
    """A clock of an item: which step, due when (by reference, never by content)."""

    ref: str  # the lead number, else "第 N 号"
    item_id: int
    kind: str
    due: date
    transfer: str = ""

    @property
    def name(self) -> str:
        return CLOCK_NAMES[self.kind] + (f"（{self.transfer}）" if self.transfer else "")


@dataclass(frozen=True)
class Digest:
    day: date
    rounds: tuple[str, ...]
    received: dict[str, int]  # channel → count (spam left out)
    spam: int
    accepted: list[str]  # lead numbers
    transferred: list[tuple[str, str]]  # (transfer number, receiving body)
    replies: dict[str, list[str]]  # reply kind → transfer numbers
    closed: list[tuple[str, str]]  # (reference, disposal in Chinese)
    newly_overdue: list[Clock]
    due_soon: list[Clock]
    letters_pending: int
    calls_pending: int
    since: date = field(default=date.min)  # newly overdue: limits passed on or after this

    @property
    def received_total(self) -> int:
        return sum(self.received.values())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), CHINA)
    return start, start + timedelta(days=1)


def previous_working_day(day: date, entry: RoundEntry | None) -> date:
    found = day - timedelta(days=1)
    while entry is not None and not working_day(found, entry.cfg).working:
        found -= timedelta(days=1)
    return found


def db_digest(session: Session, entries: Sequence[RoundEntry], day: date) -> Digest:
    """The digest of `day` (Beijing time) for these rounds."""
    ids = [e.id for e in entries]
    start, end = day_bounds(day)
    sub = m.Submission
    received = dict.fromkeys(CHANNEL_NAMES, 0)
    spam = 0
    for channel, status, count in session.execute(
            select(sub.channel, sub.status, func.count()).where(
                sub.round_id.in_(ids), sub.received_at >= start, sub.received_at < end)
            .group_by(sub.channel, sub.status)):
        if status == "spam":
            spam += count
        else:
            received[channel] = received.get(channel, 0) + count
    accepted = list(session.scalars(select(m.Lead.number).where(
        m.Lead.round_id.in_(ids), m.Lead.accepted_at >= start, m.Lead.accepted_at < end)
        .order_by(m.Lead.round_id, m.Lead.seq)))
    transferred = [(n, body) for n, body in session.execute(
        select(m.Transfer.number, m.Transfer.department_name).where(
            m.Transfer.round_id.in_(ids), m.Transfer.dispatched_at >= start,
            m.Transfer.dispatched_at < end).order_by(m.Transfer.round_id, m.Transfer.seq))]
    replies: dict[str, list[str]] = {kind: [] for kind in REPLY_NAMES}
    for kind, number in session.execute(
            select(m.TransferReply.kind, m.Transfer.number)
            .join(m.Transfer, m.Transfer.id == m.TransferReply.transfer_id)
            .where(m.Transfer.round_id.in_(ids), m.TransferReply.recorded_at >= start,
                   m.TransferReply.recorded_at < end).order_by(m.TransferReply.id)):
        replies[kind].append(number)
    closed = [(number or f"第 {item_id} 号", DISPOSAL_NAMES.get(disposal or "", ""))
              for item_id, number, disposal in session.execute(
                  select(sub.id, m.Lead.number, sub.disposal)
                  .outerjoin(m.Lead, m.Lead.submission_id == sub.id)
                  .where(sub.round_id.in_(ids), sub.status == "closed",
                         sub.closed_at >= start, sub.closed_at < end).order_by(sub.id))]
    since = min((previous_working_day(day, e) for e in entries), default=day - timedelta(1))
    newly, soon = _clocks(session, entries, day, since)
    pending = dict(session.execute(
        select(m.Notice.delivery, func.count()).join(sub, sub.id == m.Notice.submission_id)
        .where(sub.round_id.in_(ids), m.Notice.state == "pending",
               m.Notice.delivery.in_(("letter", "callback")))
        .group_by(m.Notice.delivery)).all())
    return Digest(day, tuple(e.cfg.name for e in entries), received, spam, accepted,
                  transferred, replies, closed, newly, soon, pending.get("letter", 0),
                  pending.get("callback", 0), since)


def _clocks(session: Session, entries: Sequence[RoundEntry], day: date, since: date
            ) -> tuple[list[Clock], list[Clock]]:
    """Clocks not done whose limit passed in [since, day) (newly overdue on `day`), and those
    due from `day` to the 3rd working day after it."""
    sub = m.Submission
    by_id = {e.id: e for e in entries}
    # Open items, and closed ones with a transfer still awaiting its answer; received no
    # earlier than any clock could still concern (the close limit with its extension).
    horizon = datetime.combine(day - timedelta(days=CLOSE_DAYS + 60), time(), CHINA)
    open_transfer = exists().where(m.Transfer.submission_id == sub.id,
                                   m.Transfer.status.in_(("sent", "accepted")))
    rows = list(session.scalars(select(sub).where(
        sub.round_id.in_(list(by_id)), sub.status != "spam", sub.repeat_of_id.is_(None),
        or_(and_(sub.status != "closed", sub.received_at >= horizon), open_transfer))
        .order_by(sub.id)))
    facts = db_facts(session, [r.id for r in rows])
    newly: list[Clock] = []
    soon: list[Clock] = []
    for row in rows:
        entry = by_id[row.round_id]
        until = add_working_days(day, DUE_SOON_WORKING_DAYS, entry.cfg)
        ref = facts[row.id].lead_no or f"第 {row.id} 号"
        for d in deadlines(row, entry.cfg, facts[row.id]):
            if d.done:
                continue
            clock = Clock(ref, row.id, d.kind, d.due, d.transfer)
            if since <= d.due < day:
                newly.append(clock)
            elif day <= d.due <= until:
                soon.append(clock)
    newly.sort(key=lambda c: (c.due, c.item_id))
    soon.sort(key=lambda c: (c.due, c.item_id))
    return newly, soon


def digest_text(d: Digest, team: str = "") -> str:
    """The digest as plain text (the e-mail, the command)."""
    def numbers(values: Sequence[str]) -> str:
        return f"：{'、'.join(values)}" if values else ""

    def clocks(values: Sequence[Clock]) -> list[str]:
        return [f"  {c.ref} {c.name} 期限 {c.due.isoformat()}" for c in values]

    lines = [f"{team + ' ' if team else ''}受理工作日报 {d.day.isoformat()}（北京时间）",
             f"轮次：{'、'.join(d.rounds) or '无'}", "",
             f"收件 {d.received_total} 件" + (
                 "：" + "，".join(f"{CHANNEL_NAMES.get(c, c)} {n}" for c, n in d.received.items()
                                 if n) if d.received_total else "")
             + (f"（另有垃圾信息 {d.spam} 件）" if d.spam else ""),
             f"受理为线索 {len(d.accepted)} 件{numbers(d.accepted)}",
             f"转办 {len(d.transferred)} 件" + numbers(
                 [f"{n}（{body}）" for n, body in d.transferred]),
             "登记转办答复 " + ("，".join(
                 f"{REPLY_NAMES[k]} {len(v)} 件{numbers(v)}" for k, v in d.replies.items() if v)
                 or "0 件"),
             f"办结 {len(d.closed)} 件" + numbers([f"{ref}（{name}）" for ref, name in d.closed]),
             f"新增超期 {len(d.newly_overdue)} 项", *clocks(d.newly_overdue),
             f"{DUE_SOON_WORKING_DAYS} 个工作日内到期 {len(d.due_soon)} 项", *clocks(d.due_soon),
             f"待寄告知书 {d.letters_pending} 份，待回访电话 {d.calls_pending} 个", "",
             "本日报只含数量和编号，不含举报内容和人员信息。"]
    return "\n".join(lines) + "\n"


# -- the e-mail ------------------------------------------------------------------------------


def team_rounds(desk: Desk, team_id: int) -> list[RoundEntry]:
    """The rounds a team's digest covers: all of its rounds but the archived ones."""
    return [e for e in desk.rounds.all() if e.team_id == team_id and e.state != "archived"]


def mail_key(team_id: int, day: date) -> str:
    """What marks a team's digest of a day as queued (the outbox row's recipient key)."""
    return f"digest-{team_id}-{day.isoformat()}"


def queue_digest(desk: Desk, team: str, day: date) -> bool:
    """Queue the team's digest of `day` to its `digest_recipients`, once: False when it was
    queued already (by this or another process), or the team has no recipients or rounds."""
    recipients = desk.settings.digest_recipients.get(team, ())
    if not recipients:
        return False
    with desk.sessions() as session:
        begin_write(session)
        found = session.scalar(select(m.Team).where(m.Team.name == team).with_for_update())
        if found is None:
            log.warning("digest_recipients names no team %r", team)
            return False
        key = mail_key(found.id, day)
        if session.scalar(select(m.OutboxMail.id).where(
                m.OutboxMail.kind == MAIL_KIND, m.OutboxMail.recipient_lookup == key)):
            return False
        entries = team_rounds(desk, found.id)
        if not entries:
            return False
        body = digest_text(db_digest(session, entries, day), team)
        msg = compose_reply(desk, to=", ".join(recipients), body=body,
                            subject=f"{SUBJECT} {day.isoformat()}", round_=entries[0].cfg)
        msg.replace_header("Auto-Submitted", "auto-generated")
        db_queue(session, desk, msg, kind=MAIL_KIND, recipient_key=key, submission_id=None)
        session.commit()
        log.info("digest of %s queued for team %s", day, found.id)
        return True


def digest_day(now: datetime, hour: int) -> date | None:
    """The day whose digest is due at `now`: yesterday's, from `hour` o'clock Beijing time."""
    local = now.astimezone(CHINA)
    if local.hour < hour:
        return None
    return local.date() - timedelta(days=1)


class DigestWorker:
    """`intake serve`'s daily digest mail: looks every few minutes whether a team's digest of
    yesterday is due (after `digest_hour`) and not yet queued. Safe in several processes."""

    def __init__(self, desk: Desk, *, poll_seconds: float = 300.0) -> None:
        self.desk = desk
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        s = self.desk.settings
        return bool(s.mail_relay_host and s.digest_recipients)

    def start(self) -> None:
        if not self.configured:
            return
        self._thread = threading.Thread(target=self._run, name="digest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def run_once(self, now: datetime | None = None) -> int:
        """Queue what is due at `now`; returns how many digests were queued."""
        day = digest_day(now or m.utcnow(), self.desk.settings.digest_hour)
        if day is None:
            return 0
        return sum(queue_digest(self.desk, team, day)
                   for team in self.desk.settings.digest_recipients)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("digest run failed; trying again later")
            self._stop.wait(self.poll_seconds)


def run_digest(settings: Settings, *, team: str = "", day: str = "", send: bool = False,
               out: TextIO | None = None) -> int:
    """`intake digest`: print the digest of each team (or one), and queue it with `send`."""
    out = out or sys.stdout
    try:
        wanted = date.fromisoformat(day) if day else datetime.now(CHINA).date()
    except ValueError:
        print(f"intake digest: 日期格式不对：{day}（应为 2026-10-27）", file=sys.stderr)
        return 2
    desk = open_desk(settings)
    try:
        with desk.sessions() as session:
            teams = list(session.execute(select(m.Team.id, m.Team.name).order_by(m.Team.id)))
            if team:
                teams = [t for t in teams if t.name == team]
                if not teams:
                    print(f"intake digest: 没有巡察组 {team}", file=sys.stderr)
                    return 2
            for found in teams:
                entries = team_rounds(desk, found.id)
                if entries:
                    out.write(digest_text(db_digest(session, entries, wanted), found.name))
                    out.write("\n")
        if send:
            for found in teams:
                if not settings.digest_recipients.get(found.name):
                    print(f"{found.name}：未配置 digest_recipients，未发送。", file=out)
                elif queue_digest(desk, found.name, wanted):
                    print(f"{found.name}：已放入发件队列。", file=out)
                else:
                    print(f"{found.name}：这一天的日报已发送过（或没有轮次），未重复发送。",
                          file=out)
    finally:
        desk.close()
    return 0
