"""What staff see of an item (ITEM of the staff API contract), its deadlines, and how they ask
for items: the API and the pages build both from here.

An ITEM carries the stored (masked) title and text and what was decided about the item, never
the reporter's identity and never the query code. Deadlines are computed, never stored: pure
functions of the receipt time, the rule and the round's calendar (chinese-calendar plus the
round file's corrections, intake.workdays). Visibility is not decided here: callers run inside
the viewer's scope (intake.scope), which keeps every query to their teams' rounds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.round import Round
from intake.rounds import RoundEntry, RoundRegistry
from intake.store import models as m
from intake.submission import IntakeError
from intake.triage import AWAITING_TRIAGE, PAGE_SIZE, OverdueCut, QueueFilters, decode_cursor
from intake.workdays import CHINA, add_working_days

TRIAGE_WORKING_DAYS = 15  # accept or route
REPLY_ACCEPT_WORKING_DAYS = 15  # a named reporter told whether it was accepted
CLOSE_DAYS = 60  # calendar days
EXTENSION_DAYS = 30  # once, with a reason (intake.leads.extend)
MAX_PAGE = 200
Q_MAX = 100


class QueryError(IntakeError):
    """A query parameter is invalid; `field` names it, `message` is Chinese, for staff."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    kind: str  # "triage", "reply_accept", "close", "transfer_accept", "transfer_reply"
    due: date
    done: bool
    transfer: str = ""  # the transfer's number, for the transfer clocks

    def overdue(self, today: date) -> bool:
        """Past due when today is after the due date and the step is not done."""
        return not self.done and today > self.due

    def as_dict(self, today: date) -> dict[str, Any]:
        found = {"kind": self.kind, "due": self.due.isoformat(), "overdue": self.overdue(today),
                 "done": self.done}
        if self.transfer:
            found["transfer"] = self.transfer
        return found


def zone_of(cfg: Round | None) -> tzinfo:
    """A round's time zone (its file's opening time's offset), else the service's (+08:00)."""
    return (cfg.opens.tzinfo if cfg is not None else None) or CHINA


@dataclass(frozen=True)
class Facts:
    """What the ledger knows of an item (intake.leads writes it), for ITEM and the pages."""

    lead_no: str | None = None
    keeper: str | None = None
    keeper_id: int | None = None
    transfers: tuple[m.Transfer, ...] = ()
    notified: bool = False  # a team message (an acceptance or transfer notice, a reply) went out


NO_FACTS = Facts()


def deadlines(row: m.Submission, cfg: Round, facts: Facts = NO_FACTS) -> list[Deadline]:
    """The item's clocks: `triage` (accept or route within 15 working days of receipt),
    `reply_accept` (for a named reporter, 15 working days; done by a team message), `close`
    (60 days, extended once by 30), and for each open transfer `transfer_accept` (5 working
    days from dispatch) then `transfer_reply` (its result). "N working days from a date" is
    the Nth working day after it, on the round's calendar; the receipt date is read in the
    round's time zone. Spam and repeats need no step."""
    received = row.received_at.astimezone(zone_of(cfg)).date()
    spam = row.status == "spam" or row.repeat_of_id is not None
    found = [Deadline("triage", add_working_days(received, TRIAGE_WORKING_DAYS, cfg),
                      spam or row.status not in AWAITING_TRIAGE)]
    if not row.anonymous:
        found.append(Deadline("reply_accept",
                              add_working_days(received, REPLY_ACCEPT_WORKING_DAYS, cfg),
                              spam or facts.notified))
    found.append(Deadline("close", close_due(row, cfg), spam or row.status == "closed"))
    for t in facts.transfers:
        if t.status in ("sent", "accepted"):
            found.append(Deadline("transfer_accept", t.accept_due, t.status != "sent", t.number))
        if t.status == "accepted":
            found.append(Deadline("transfer_reply", t.reply_due, False, t.number))
    return found


def close_due(row: m.Submission, cfg: Round) -> date:
    """60 days after receipt (in the round's zone), 90 once extended."""
    received = row.received_at.astimezone(zone_of(cfg)).date()
    return received + timedelta(days=CLOSE_DAYS + (row.close_extension_days or 0))


def transfer_overdue(t: m.Transfer, today: date) -> bool:
    return (t.status == "sent" and today > t.accept_due) or (
        t.status == "accepted" and today > t.reply_due)


def triage_overdue_before(entries: Iterable[RoundEntry], now: datetime
                          ) -> tuple[tuple[int, datetime], ...]:
    """For each round, the time before which an item's 15-working-day limits have passed by
    `now`: the start of the day after the latest receipt date whose deadline is before today."""
    cutoffs = []
    for entry in entries:
        zone = zone_of(entry.cfg)
        today = now.astimezone(zone).date()
        day = today - timedelta(days=TRIAGE_WORKING_DAYS + 1)  # due no earlier than day + 15
        while add_working_days(day, TRIAGE_WORKING_DAYS, entry.cfg) >= today:
            day -= timedelta(days=1)
        cutoffs.append((entry.id, datetime.combine(day + timedelta(days=1), time(), zone)))
    return tuple(cutoffs)


def overdue_cuts(entries: Iterable[RoundEntry], now: datetime) -> tuple[OverdueCut, ...]:
    """The queue's `overdue` filter for these rounds: an item is overdue when any deadline
    of `deadlines` is (the same rules, as instants the queue compares receipt times with)."""
    cuts = []
    listed = list(entries)
    for (round_id, working), entry in zip(triage_overdue_before(listed, now), listed,
                                          strict=True):
        zone = zone_of(entry.cfg)
        today = now.astimezone(zone).date()
        # close due = received + N days; overdue when today > due, i.e. received < today - N
        cuts.append(OverdueCut(
            round_id, working,
            datetime.combine(today - timedelta(days=CLOSE_DAYS), time(), zone),
            datetime.combine(today - timedelta(days=CLOSE_DAYS + EXTENSION_DAYS), time(), zone),
            today))
    return tuple(cuts)


# -- ITEM ------------------------------------------------------------------------------------


def _labels(row: m.Submission) -> tuple[list[str], list[str]]:
    current = row.current
    if current is None:
        return [], []
    return list(current.disciplines), list(current.routes)


def item_view(row: m.Submission, entry: RoundEntry | None, now: datetime,
              facts: Facts = NO_FACTS) -> dict[str, Any]:
    """ITEM: the contract's shape. No identity field exists on it, by construction."""
    cfg = entry.cfg if entry is not None else None
    zone = zone_of(cfg)
    today = now.astimezone(zone).date()
    disciplines, routes = _labels(row)
    return {
        "id": row.id,
        "round": entry.slug if entry is not None else None,
        "channel": row.channel,
        "received_at": row.received_at.astimezone(zone).isoformat(),
        "title": row.title,
        "text": row.text,
        "status": row.status,
        "late": row.late,
        "lead_no": facts.lead_no,
        "keeper": facts.keeper,
        "in_scope": row.in_scope,
        "subject_role": row.subject_role,
        "disciplines": disciplines,
        "routes": routes,
        "repeat_of": row.repeat_of_id,
        "disposal": row.disposal,
        "closed_at": row.closed_at.astimezone(zone).isoformat() if row.closed_at else None,
        "deadlines": [d.as_dict(today) for d in deadlines(row, cfg, facts)]
        if cfg is not None else [],
    }


def transfer_view(t: m.Transfer, zone: tzinfo, today: date) -> dict[str, Any]:
    """TRANSFER: the contract's shape (status `overdue` when an answer is late)."""
    return {
        "id": t.id,
        "item": t.submission_id,
        "transfer_no": t.number,
        "department": t.department,
        "department_name": t.department_name,
        "dispatch": t.dispatch_method,
        "dispatched_at": t.dispatched_at.astimezone(zone).isoformat(),
        "accept_due": t.accept_due.isoformat(),
        "reply_due": t.reply_due.isoformat(),
        "status": "overdue" if transfer_overdue(t, today) else t.status,
        "stage": t.status,
        "accepted_at": t.accepted_at.astimezone(zone).isoformat() if t.accepted_at else None,
        "answered_at": t.answered_at.astimezone(zone).isoformat() if t.answered_at else None,
        "returned_at": t.returned_at.astimezone(zone).isoformat() if t.returned_at else None,
        "reminders": t.reminders,
        "letter_docx": f"/api/v1/staff/transfers/{t.id}/letter.docx",
        "letter_pdf": f"/api/v1/staff/transfers/{t.id}/letter.pdf",
    }


def db_facts(session: Session, item_ids: Sequence[int]) -> dict[int, Facts]:
    """What the ledger knows of several items, in three queries."""
    if not item_ids:
        return {}
    leads = {lead.submission_id: (lead, name) for lead, name in session.execute(
        select(m.Lead, m.StaffUser.username).join(m.StaffUser, m.StaffUser.id == m.Lead.keeper_id)
        .where(m.Lead.submission_id.in_(item_ids)))}
    transfers: dict[int, list[m.Transfer]] = {}
    for t in session.scalars(select(m.Transfer).where(m.Transfer.submission_id.in_(item_ids))
                             .order_by(m.Transfer.id)):
        transfers.setdefault(t.submission_id, []).append(t)
    replied = db_replied(session, item_ids)
    found = {}
    for item_id in item_ids:
        lead, name = leads.get(item_id, (None, None))
        found[item_id] = Facts(lead.number if lead else None, name,
                               lead.keeper_id if lead else None,
                               tuple(transfers.get(item_id, ())), item_id in replied)
    return found


def db_replied(session: Session, item_ids: Sequence[int]) -> set[int]:
    """Which of these items have a message from the team (the reporter was answered)."""
    if not item_ids:
        return set()
    return set(session.scalars(select(m.Message.submission_id).distinct().where(
        m.Message.submission_id.in_(item_ids), m.Message.author == "team")))


def db_item_views(session: Session, rows: Sequence[m.Submission], rounds: RoundRegistry,
                  now: datetime) -> list[dict[str, Any]]:
    """ITEMs for a page of rows (a few queries for what the deadlines need)."""
    facts = db_facts(session, [r.id for r in rows])
    return [item_view(r, rounds.get(r.round_id), now, facts[r.id]) for r in rows]


def db_item_deadlines(session: Session, row: m.Submission, rounds: RoundRegistry,
                      now: datetime) -> list[dict[str, Any]]:
    """The item's deadlines as ITEM carries them (for the item page)."""
    return list(db_item_views(session, [row], rounds, now)[0]["deadlines"])


def db_item_detail(session: Session, row: m.Submission, rounds: RoundRegistry,
                   now: datetime) -> dict[str, Any]:
    """ITEM with `transfers`, `history` and `duplicates` (those the viewer may see)."""
    view = db_item_views(session, [row], rounds, now)[0]
    entry = rounds.get(row.round_id)
    zone = zone_of(entry.cfg if entry is not None else None)
    today = now.astimezone(zone).date()
    view["transfers"] = [transfer_view(t, zone, today) for t in session.scalars(
        select(m.Transfer).where(m.Transfer.submission_id == row.id).order_by(m.Transfer.id))]
    view["history"] = db_history(session, row, zone)
    links = session.scalars(select(m.DuplicateLink).where(or_(
        m.DuplicateLink.submission_id == row.id, m.DuplicateLink.other_id == row.id))
        .order_by(m.DuplicateLink.id))
    view["duplicates"] = [
        {"id": link.other_id if link.submission_id == row.id else link.submission_id,
         "reason": link.reason} for link in links]
    view["repeats"] = list(session.scalars(select(m.Submission.id).where(
        m.Submission.repeat_of_id == row.id).order_by(m.Submission.id)))
    return view


# Audit actions that changed an item's status outside a decision, as history events.
STATUS_EVENTS = {"item.spam": "spam", "item.not_spam": "not_spam"}


def db_history(session: Session, row: m.Submission, zone: tzinfo) -> list[dict[str, Any]]:
    """What happened to the item, oldest first: received, each classification version (the
    service's suggestion, a triager's confirmation or correction: who and when), and the
    status changes recorded in the audit log, and the signed steps after triage (accepted,
    transferred, replies, closed …, intake.leads). Notes are left out: they are free text staff
    typed, which may name anyone (the item page shows them to the team)."""
    classifications = list(session.scalars(select(m.Classification).where(
        m.Classification.submission_id == row.id).order_by(m.Classification.version)))
    actions = {d.result_id: d.action for d in session.scalars(
        select(m.Decision).where(m.Decision.submission_id == row.id))}
    events = list(session.scalars(select(m.AuditEvent).where(
        m.AuditEvent.submission_id == row.id, m.AuditEvent.action.in_(STATUS_EVENTS))
        .order_by(m.AuditEvent.seq)))
    user_ids = {c.created_by for c in classifications if c.created_by is not None}
    names: dict[int, str] = dict(session.execute(  # type: ignore[arg-type]
        select(m.StaffUser.id, m.StaffUser.username).where(m.StaffUser.id.in_(user_ids))).all())

    def at(value: datetime) -> str:
        return value.astimezone(zone).isoformat()

    history: list[tuple[datetime, dict[str, Any]]] = [
        (row.received_at, {"at": at(row.received_at), "event": "received", "by": None})]
    for c in classifications:
        event = "suggested" if c.source == "service" else {
            "confirm": "confirmed", "correct": "corrected"}.get(actions.get(c.id, ""), "decided")
        history.append((c.created_at, {
            "at": at(c.created_at), "event": event,
            "by": names.get(c.created_by) if c.created_by is not None else None,
            "version": c.version, "in_scope": c.in_scope, "subject_role": c.subject_role,
            "disciplines": list(c.disciplines), "routes": list(c.routes)}))
    for e in events:
        history.append((e.at, {"at": at(e.at), "event": STATUS_EVENTS[e.action],
                               "by": e.actor_label}))
    steps = list(session.scalars(select(m.ItemStep).where(m.ItemStep.submission_id == row.id)
                                 .order_by(m.ItemStep.id)))
    signers = {s.staff_id for s in steps if s.staff_id is not None} - set(names)
    if signers:
        names.update(session.execute(select(m.StaffUser.id, m.StaffUser.username)
                                     .where(m.StaffUser.id.in_(signers))).all())
    for step in steps:
        history.append((step.at, {"at": at(step.at), "event": step.kind,
                                  "by": names.get(step.staff_id) if step.staff_id else None,
                                  **step.detail}))
    history.sort(key=lambda pair: pair[0])
    return [entry for _, entry in history]


# -- asking for items ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Received in [since, until); either end open."""

    since: datetime | None = None
    until: datetime | None = None


def parse_moment(value: str, field: str, zone: tzinfo, *, end: bool) -> datetime | None:
    """A date `YYYY-MM-DD` (a whole day in `zone`: its start, or with `end` the next day's
    start) or an ISO datetime (without an offset: in `zone`; with `end`, that instant
    included). Empty: None."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(field, "日期格式不对，应为 2026-03-05 或 2026-03-05T09:30:00+08:00。"
                         ) from None
    if not 2000 <= moment.year <= 2100:
        raise QueryError(field, "日期不对，请核对年份。")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    return moment + timedelta(microseconds=1) if end else moment


def parse_period(args: Mapping[str, str], zone: tzinfo = CHINA) -> Period:
    period = Period(parse_moment(args.get("since", ""), "since", zone, end=False),
                    parse_moment(args.get("until", ""), "until", zone, end=True))
    if period.since and period.until and period.until <= period.since:
        raise QueryError("until", "截止日期不能早于起始日期。")
    return period


def parse_round(args: Mapping[str, str], rounds: RoundRegistry) -> RoundEntry | None:
    """The round a `round=SLUG` parameter names; QueryError for a slug no round has (rounds are
    public: slugs are on posters). Whether the viewer may see it is the scope's business."""
    slug = args.get("round", "").strip()
    if not slug:
        return None
    entry = rounds.by_slug(slug)
    if entry is None:
        raise QueryError("round", f"没有轮次 {slug}。")
    return entry


@dataclass(frozen=True)
class ItemQuery:
    filters: QueueFilters
    cursor: str | None
    limit: int


def parse_item_query(args: Mapping[str, str], rounds: RoundRegistry, visible: Iterable[int],
                     now: datetime) -> ItemQuery:
    """The staff API's item list parameters (round, status, q, since, until, overdue, keeper,
    cursor, limit) as queue filters; QueryError naming the first bad one. `visible`: the
    rounds the viewer reads (for the per-round overdue cutoffs)."""
    entry = parse_round(args, rounds)
    status = args.get("status", "").strip()
    if status and status not in m.STATUSES:
        raise QueryError("status", f"未知状态 {status}，可选：{'、'.join(m.STATUSES)}。")
    text = args.get("q", "").strip()
    if len(text) > Q_MAX:
        raise QueryError("q", f"检索词最多 {Q_MAX} 个字。")
    period = parse_period(args, zone_of(entry.cfg if entry else None))
    overdue = args.get("overdue", "").strip().lower()
    if overdue not in ("", "true", "false"):
        raise QueryError("overdue", "overdue 只能为 true 或 false。")
    cutoffs = None
    if overdue == "true":
        ids = set(visible) if entry is None else {entry.id} & set(visible)
        cutoffs = overdue_cuts([e for e in rounds.all() if e.id in ids], now)
    cursor = args.get("cursor", "").strip() or None
    if cursor is not None and decode_cursor(cursor) is None:
        raise QueryError("cursor", "翻页游标无效，请用上一页返回的 next。")
    limit_text = args.get("limit", "").strip()
    if limit_text and not (limit_text.isascii() and limit_text.isdigit()
                           and 1 <= int(limit_text) <= MAX_PAGE):
        raise QueryError("limit", f"每页条数应为 1 到 {MAX_PAGE}。")
    return ItemQuery(
        QueueFilters(status=status, round_id=entry.id if entry else None,
                     text=text, since=period.since, until=period.until,
                     keeper=args.get("keeper", "").strip(), overdue=cutoffs),
        cursor, int(limit_text) if limit_text else PAGE_SIZE)
