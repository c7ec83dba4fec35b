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
from intake.triage import AWAITING_TRIAGE, PAGE_SIZE, QueueFilters, decode_cursor
from intake.workdays import CHINA, add_working_days

TRIAGE_WORKING_DAYS = 15  # accept or route
REPLY_ACCEPT_WORKING_DAYS = 15  # a named reporter told whether it was accepted
CLOSE_DAYS = 60  # calendar days (the extension by 30 comes with leads)
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
    kind: str  # "triage", "reply_accept", "close"
    due: date
    done: bool

    def overdue(self, today: date) -> bool:
        """Past due when today is after the due date and the step is not done."""
        return not self.done and today > self.due

    def as_dict(self, today: date) -> dict[str, Any]:
        return {"kind": self.kind, "due": self.due.isoformat(), "overdue": self.overdue(today)}


def zone_of(cfg: Round | None) -> tzinfo:
    """A round's time zone (its file's opening time's offset), else the service's (+08:00)."""
    return (cfg.opens.tzinfo if cfg is not None else None) or CHINA


def deadlines(row: m.Submission, cfg: Round, *, replied: bool) -> list[Deadline]:
    """The item's clocks: `triage` (accept or route within 15 working days of receipt),
    `reply_accept` (for a named reporter, 15 working days; done by a team message), `close`
    (60 days). "N working days from a date" is the Nth working day after it, on the round's
    calendar; the receipt date is read in the round's time zone. Spam needs no step."""
    received = row.received_at.astimezone(zone_of(cfg)).date()
    spam = row.status == "spam"
    found = [Deadline("triage", add_working_days(received, TRIAGE_WORKING_DAYS, cfg),
                      spam or row.status not in AWAITING_TRIAGE)]
    if not row.anonymous:
        found.append(Deadline("reply_accept",
                              add_working_days(received, REPLY_ACCEPT_WORKING_DAYS, cfg),
                              spam or replied))
    found.append(Deadline("close", received + timedelta(days=CLOSE_DAYS),
                          spam or row.status == "closed"))
    return found


def triage_overdue_before(entries: Iterable[RoundEntry], now: datetime
                          ) -> tuple[tuple[int, datetime], ...]:
    """For each round, the time before which an item's triage deadline has passed by `now`:
    the start of the day after the latest receipt date whose deadline is before today."""
    cutoffs = []
    for entry in entries:
        zone = zone_of(entry.cfg)
        today = now.astimezone(zone).date()
        day = today - timedelta(days=TRIAGE_WORKING_DAYS + 1)  # due no earlier than day + 15
        while add_working_days(day, TRIAGE_WORKING_DAYS, entry.cfg) >= today:
            day -= timedelta(days=1)
        cutoffs.append((entry.id, datetime.combine(day + timedelta(days=1), time(), zone)))
    return tuple(cutoffs)


# -- ITEM ------------------------------------------------------------------------------------


def _labels(row: m.Submission) -> tuple[list[str], list[str]]:
    current = row.current
    if current is None:
        return [], []
    return list(current.disciplines), list(current.routes)


def item_view(row: m.Submission, entry: RoundEntry | None, now: datetime, *,
              replied: bool) -> dict[str, Any]:
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
        "lead_no": None,  # leads come with the next issue
        "keeper": None,
        "in_scope": row.in_scope,
        "subject_role": row.subject_role,
        "disciplines": disciplines,
        "routes": routes,
        "repeat_of": None,
        "deadlines": [d.as_dict(today) for d in deadlines(row, cfg, replied=replied)]
        if cfg is not None else [],
    }


def db_replied(session: Session, item_ids: Sequence[int]) -> set[int]:
    """Which of these items have a message from the team (the reporter was answered)."""
    if not item_ids:
        return set()
    return set(session.scalars(select(m.Message.submission_id).distinct().where(
        m.Message.submission_id.in_(item_ids), m.Message.author == "team")))


def db_item_views(session: Session, rows: Sequence[m.Submission], rounds: RoundRegistry,
                  now: datetime) -> list[dict[str, Any]]:
    """ITEMs for a page of rows (one query for what the deadlines need)."""
    replied = db_replied(session, [r.id for r in rows])
    return [item_view(r, rounds.get(r.round_id), now, replied=r.id in replied) for r in rows]


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
    view["transfers"] = []  # transfers come with the next issue
    view["history"] = db_history(session, row, zone)
    links = session.scalars(select(m.DuplicateLink).where(or_(
        m.DuplicateLink.submission_id == row.id, m.DuplicateLink.other_id == row.id))
        .order_by(m.DuplicateLink.id))
    view["duplicates"] = [
        {"id": link.other_id if link.submission_id == row.id else link.submission_id,
         "reason": link.reason} for link in links]
    return view


# Audit actions that changed an item's status outside a decision, as history events.
STATUS_EVENTS = {"item.spam": "spam", "item.not_spam": "not_spam"}


def db_history(session: Session, row: m.Submission, zone: tzinfo) -> list[dict[str, Any]]:
    """What happened to the item, oldest first: received, each classification version (the
    service's suggestion, a triager's confirmation or correction: who and when), and the
    status changes recorded in the audit log. Decision notes are left out: they are free
    text staff typed, which may name anyone."""
    classifications = list(session.scalars(select(m.Classification).where(
        m.Classification.submission_id == row.id).order_by(m.Classification.version)))
    actions = {d.result_id: d.action for d in session.scalars(
        select(m.Decision).where(m.Decision.submission_id == row.id))}
    events = list(session.scalars(select(m.AuditEvent).where(
        m.AuditEvent.submission_id == row.id, m.AuditEvent.action.in_(STATUS_EVENTS))
        .order_by(m.AuditEvent.seq)))
    user_ids = {c.created_by for c in classifications if c.created_by is not None}
    names = dict(session.execute(select(m.StaffUser.id, m.StaffUser.username)
                                 .where(m.StaffUser.id.in_(user_ids))).all())

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
        cutoffs = triage_overdue_before([e for e in rounds.all() if e.id in ids], now)
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
                     keeper=args.get("keeper", "").strip(), overdue_before=cutoffs),
        cursor, int(limit_text) if limit_text else PAGE_SIZE)
