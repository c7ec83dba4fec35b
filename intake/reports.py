"""The team's reports gathered from the database: the weekly intake report (周报) of a round's
ISO week, and the round's closing appendices (统计表, 问题线索移交清单, 转办情况一览表).

It owns which week a report covers (`parse_week`, `Week`: an ISO week, Monday to Sunday in the
round's time zone, numbered 第N周 from the week the round opened) and what each document
counts and lists. Counts come from intake.stats `db_counts`, rows from the round's ledger
(intake.ledgerdata `db_ledger`), plus a few GROUP BY queries of its own (triage outcome,
leads accepted, notices done). It runs in the caller's scope; the office's weekly report is
read past the scope by the caller (`db_viewer_weekly`), which is safe because the weekly report
holds no item text and names no one: the person reported on is given by post or group. Texts
in the appendices are the stored, masked ones; identities and sealed originals are never read.
The documents themselves are drawn by intake.reportdocs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake import scope
from intake.classify import DISCIPLINES
from intake.items import Period, QueryError, zone_of
from intake.leads import DISPOSAL_NAMES
from intake.ledger import LedgerRow, shorten
from intake.ledgerdata import Ledger, db_ledger
from intake.masking import mask_text
from intake.names import CHANNEL_NAMES, STATUS_NAMES, SUBJECT_ROLE_SHORT
from intake.reportdocs import (
    APPENDIX_TEMPLATES,
    APPENDIX_TITLES,
    CountRow,
    Heading,
    LeadEntry,
    LeadLine,
    OutcomeRow,
    OverdueLine,
    RoundStatistics,
    TransferEntry,
    TransferLine,
    WeeklyReport,
    leads_docx,
    statistics_docx,
    transfers_docx,
    weekly_report_docx,
)
from intake.rounds import RoundEntry
from intake.stats import db_counts
from intake.store import models as m
from intake.submission import CATEGORIES as DISCIPLINE_NAMES

WEEK = re.compile(r"(\d{4})-?W(\d{1,2})", re.IGNORECASE)
SUMMARY_CHARS = 80  # a lead's summary in the handover list
RESULT_CHARS = 60  # a receiving body's result in the transfer list
TRIAGE_ROWS = ("属于受理范围", "不属于受理范围", "待研判")
APPENDICES = tuple(APPENDIX_TITLES)  # statistics, leads, transfers
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Week:
    """An ISO week (`2026-W11`): Monday to Sunday."""

    year: int
    number: int

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def period(self, zone: tzinfo) -> Period:
        """The week's instants in `zone`: Monday 00:00 up to the next Monday 00:00."""
        return Period(datetime.combine(self.start, time(), zone),
                      datetime.combine(self.start + timedelta(days=7), time(), zone))


def week_of(day: date) -> Week:
    year, number, _ = day.isocalendar()
    return Week(year, number)


def last_week(now: datetime, zone: tzinfo) -> Week:
    """The week before the one `now` falls in (in `zone`): what a Monday's report covers."""
    return week_of(now.astimezone(zone).date() - timedelta(days=7))


def parse_week(value: str, now: datetime, zone: tzinfo) -> Week:
    """`YYYY-Www` (ISO 8601 week; empty: last week). QueryError (field `week`) for anything
    else, for a week number the year does not have (most years have 52 weeks, some 53)."""
    value = value.strip()
    if not value:
        return last_week(now, zone)
    found = WEEK.fullmatch(value)
    if found is None:
        raise QueryError("week", "周次格式不对，应为 ISO 周，如 2026-W11（2026 年第 11 周）。")
    year, number = int(found.group(1)), int(found.group(2))
    if not 2000 <= year <= 2100:
        raise QueryError("week", "周次的年份不对，请核对。")
    weeks = date(year, 12, 28).isocalendar()[1]  # 28 December is always in the last week
    if not 1 <= number <= weeks:
        raise QueryError("week", f"{year} 年只有 {weeks} 周（ISO 周），周次应为 1 到 {weeks}。")
    return Week(year, number)


def round_week(entry: RoundEntry, week: Week) -> int:
    """第N周: 1 for the week the round opened. QueryError (`week`) for a week before it."""
    opened = entry.cfg.opens.astimezone(zone_of(entry.cfg)).date()
    first = opened - timedelta(days=opened.weekday())
    if week.end < opened:
        raise QueryError("week", f"这一周早于本轮巡察开始（{opened:%Y-%m-%d}），没有周报。")
    return (week.start - first).days // 7 + 1


# -- the weekly report --------------------------------------------------------------------------


def subject_group(row: m.Submission) -> str:
    """Who is reported on, by post or group and never by name: the current classification's
    first subject's post, else the item's subject group (班子成员 …), else ""."""
    current = row.current
    subjects = current.subjects if current is not None else []
    if subjects and isinstance(subjects[0], dict) and subjects[0].get("post"):
        return str(subjects[0]["post"])
    role = row.subject_role or (current.subject_role if current is not None else "")
    return SUBJECT_ROLE_SHORT.get(role, "") if role else ""


def _triage(session: Session, round_id: int, period: Period) -> Counter[str]:
    """Items by where triage stands: awaiting (status received), else in or out of scope."""
    sub = m.Submission
    stmt = (select(sub.status, sub.in_scope, func.count())
            .where(sub.round_id == round_id, sub.status != "spam")
            .group_by(sub.status, sub.in_scope))
    if period.since is not None:
        stmt = stmt.where(sub.received_at >= period.since)
    if period.until is not None:
        stmt = stmt.where(sub.received_at < period.until)
    counts: Counter[str] = Counter()
    for status, in_scope, n in session.execute(stmt):
        counts[triage_row(status == "received", in_scope)] += n
    return counts


def triage_row(waiting: bool, in_scope: bool | None) -> str:
    """Where triage stands: 待研判 until decided, then in or out of the round's scope."""
    return TRIAGE_ROWS[2] if waiting else TRIAGE_ROWS[0] if in_scope else TRIAGE_ROWS[1]


def _notices(session: Session, round_id: int, span: Period) -> tuple[int, int]:
    """Notices to reporters done (受理, 转办, 结果告知) in the week, and up to its end."""
    # notices done when written (status page, e-mail) once kept no done_at: their creation
    # time stands in
    done_at = func.coalesce(m.Notice.done_at, m.Notice.created_at)
    stmt = (select(done_at).join(m.Submission, m.Submission.id == m.Notice.submission_id)
            .where(m.Submission.round_id == round_id, m.Notice.state == "done",
                   done_at < span.until))
    done = list(session.scalars(stmt))
    assert span.since is not None
    return sum(1 for at in done if at >= span.since), len(done)


def db_weekly_report(session: Session, entry: RoundEntry, week: Week,
                     now: datetime) -> WeeklyReport:
    """The weekly report of `entry` for `week`: this week's counts and the round's so far (up to
    the week's end), the leads accepted, transfers dispatched and cases closed in the week,
    repeats, notices done, and the items overdue at the week's end (or now, for this week).
    QueryError (`week`) for a week before the round opened. Runs in the caller's scope."""
    cfg = entry.cfg
    zone = zone_of(cfg)
    week_no = round_week(entry, week)
    span = week.period(zone)
    assert span.since is not None and span.until is not None
    upto = Period(None, span.until)
    this, sofar = (db_counts(session, [entry.id], p, zone) for p in (span, upto))
    as_of = min(now, span.until - timedelta(microseconds=1))
    ledger = db_ledger(session, entry, as_of)
    rows = [r for r in ledger.rows if r.received_at < span.until]

    def in_week(day: date | None) -> bool:
        return day is not None and week.start <= day <= week.end

    # The round's leads in number order, with the day each was accepted.
    accepted = [(item_id, at.astimezone(zone).date()) for item_id, at in session.execute(
        select(m.Lead.submission_id, m.Lead.accepted_at).where(m.Lead.round_id == entry.id)
        .order_by(m.Lead.seq))]
    by_id = {r.item_id: r for r in ledger.rows}
    leads = [LeadLine(number=row.number, accepted_on=day,
                      subject=subject_group(ledger.items[row.item_id]),
                      disciplines="、".join(row.disciplines), keeper=row.keeper,
                      disposal=row.disposal or row.status)
             for item_id, day in accepted if in_week(day) and (row := by_id.get(item_id))]
    transfers = [TransferLine(t.number, t.item_number, t.department, t.dispatched_on, t.status,
                              t.overdue)
                 for t in ledger.transfers if in_week(t.dispatched_on)]
    week_triage, total_triage = _triage(session, entry.id, span), _triage(session, entry.id, upto)
    closed_week = Counter(r.disposal or "其他" for r in ledger.rows if in_week(r.closed_on))
    closed_total = Counter(r.disposal or "其他" for r in ledger.rows
                           if r.closed_on is not None and r.closed_on <= week.end)
    notices_week, notices_total = _notices(session, entry.id, span)
    return WeeklyReport(
        team=entry.team or cfg.team, round_name=cfg.name, unit=_units(entry), week_no=week_no,
        iso_week=week.label, start=week.start, end=week.end,
        opened=cfg.opens.astimezone(zone).date(), as_of=as_of.astimezone(zone).date(),
        dated=now.astimezone(zone).date(),
        received=CountRow("合计", this["total"], sofar["total"]),
        channels=[CountRow(name, this["by_channel"].get(code, 0), sofar["by_channel"].get(code, 0))
                  for code, name in CHANNEL_NAMES.items()],
        triage=[CountRow(name, week_triage[name], total_triage[name]) for name in TRIAGE_ROWS],
        disciplines=[CountRow(DISCIPLINE_NAMES[code], this["by_discipline"].get(code, 0),
                              sofar["by_discipline"].get(code, 0)) for code in DISCIPLINES],
        leads=leads, leads_total=sum(1 for _, day in accepted if day <= week.end),
        transfers=transfers,
        transfers_total=sum(1 for t in ledger.transfers if t.dispatched_on <= week.end),
        closed=[CountRow(name, closed_week[name], closed_total[name])
                for name in [*DISPOSAL_NAMES.values(), "其他"] if closed_total[name]],
        overdue=[_overdue_line(r) for r in rows if r.overdue],
        repeats=CountRow("重复件", sum(1 for r in rows if r.repeat_of and r.received_at
                                      >= span.since), sum(1 for r in rows if r.repeat_of)),
        notices=CountRow("告知反映人", notices_week, notices_total),
    )


def db_viewer_weekly(session: Session, viewer: scope.Viewer, entry: RoundEntry, week: Week,
                     now: datetime) -> WeeklyReport:
    """`db_weekly_report` as `viewer` may have it: the office (巡察办) reads any team's round
    past the scope (the report holds counts, numbers, posts and staff names, no item text);
    everyone else within their scope."""
    if viewer.role == "office":
        with scope.unscoped(session):
            return db_weekly_report(session, entry, week, now)
    return db_weekly_report(session, entry, week, now)


def _overdue_line(row: LedgerRow) -> OverdueLine:
    late = [(kind, due) for kind, due, overdue in row.deadlines if overdue]
    return OverdueLine(row.ledger_number(), "、".join(dict.fromkeys(k for k, _ in late)),
                       min(due for _, due in late))


def _units(entry: RoundEntry) -> str:
    cfg = entry.cfg
    return "、".join(u.name for u in cfg.units) if cfg.units else cfg.unit.name


def weekly_filename(entry: RoundEntry, week: Week) -> str:
    return f"{entry.cfg.name}信访举报受理情况周报-{week.label}.docx"


def weekly_docx(session: Session, viewer: scope.Viewer, entry: RoundEntry, week: Week,
                now: datetime, folder: str = "") -> tuple[str, bytes]:
    """The weekly report's file name and DOCX bytes, as `viewer` may have it."""
    report = db_viewer_weekly(session, viewer, entry, week, now)
    return weekly_filename(entry, week), weekly_report_docx(report, folder)


# -- the round's closing appendices ------------------------------------------------------------


def heading(ledger: Ledger, now: datetime) -> Heading:
    entry = ledger.entry
    zone = zone_of(entry.cfg)
    day = now.astimezone(zone).date()
    return Heading(team=entry.team or entry.cfg.team, round_name=entry.cfg.name,
                   unit=_units(entry), opened=entry.cfg.opens.astimezone(zone).date(),
                   as_of=day, dated=day)


def _outcome(row: LedgerRow) -> str:
    if row.number:
        return "leads"
    if row.transfer_numbers:
        return "transferred"
    if row.repeat_of:
        return "repeats"
    if row.closed_on is not None:
        return "closed"
    return "pending"


def round_statistics(ledger: Ledger, now: datetime) -> RoundStatistics:
    """信访举报受理情况统计表: the round's items by channel and outcome, by discipline (items and
    leads; an item alleging two disciplines counts under both), and by triage outcome."""
    outcomes: dict[str, Counter[str]] = {name: Counter() for name in CHANNEL_NAMES.values()}
    for row in ledger.rows:
        outcomes.setdefault(row.channel, Counter())[_outcome(row)] += 1
    total: Counter[str] = Counter()
    channels = []
    for name, counts in outcomes.items():
        total.update(counts)
        channels.append(_outcome_row(name, counts))
    channels.append(_outcome_row("合计", total))
    items, leads = Counter[str](), Counter[str]()
    for row in ledger.rows:
        items.update(row.disciplines)
        if row.number:
            leads.update(row.disciplines)
    scope_counts = Counter(triage_row(row.status == STATUS_NAMES["received"], row.in_scope)
                           for row in ledger.rows)
    return RoundStatistics(
        heading=heading(ledger, now), channels=channels,
        disciplines=[(DISCIPLINE_NAMES[c], items[DISCIPLINE_NAMES[c]], leads[DISCIPLINE_NAMES[c]])
                     for c in DISCIPLINES],
        scope=[(name, scope_counts[name]) for name in TRIAGE_ROWS])


def _outcome_row(name: str, counts: Counter[str]) -> OutcomeRow:
    return OutcomeRow(name, sum(counts.values()), counts["leads"], counts["transferred"],
                      counts["repeats"], counts["closed"], counts["pending"])


def round_leads(ledger: Ledger) -> list[LeadEntry]:
    """问题线索移交清单: every lead, in number order, with its masked summary cut short and its
    signed steps."""
    zone = zone_of(ledger.entry.cfg)
    return [LeadEntry(number=r.number, received_on=r.received_at.astimezone(zone).date(),
                      subject=r.subject or r.subject_role, disciplines="、".join(r.disciplines),
                      summary=shorten(r.title + "：" + r.summary if r.title else r.summary,
                                      SUMMARY_CHARS),
                      keeper=r.keeper, disposal=r.disposal or r.status,
                      steps=r.history)
            for r in sorted((r for r in ledger.rows if r.number), key=lambda r: r.number)]


def db_round_transfers(session: Session, ledger: Ledger) -> list[TransferEntry]:
    """转办情况一览表: every transfer of the round with the receiving body's reported result
    (masked once more: staff typed it), in number order."""
    results: dict[str, str] = {}
    for number, text in session.execute(
            select(m.Transfer.number, m.TransferReply.text)
            .join(m.Transfer, m.Transfer.id == m.TransferReply.transfer_id)
            .where(m.Transfer.round_id == ledger.entry.id, m.TransferReply.kind == "result")
            .order_by(m.TransferReply.at)):
        results[number] = shorten(mask_text(text or "已反馈"), RESULT_CHARS)
    return [TransferEntry(number=t.number, item_number=t.item_number, department=t.department,
                          dispatched_on=t.dispatched_on, accepted_on=t.accepted_on,
                          result=results.get(t.number, ""), status=t.status, overdue=t.overdue)
            for t in ledger.transfers]


def appendix_filename(entry: RoundEntry, kind: str) -> str:
    return f"{entry.cfg.name}{APPENDIX_TITLES[kind]}.docx"


def db_appendix(session: Session, ledger: Ledger, kind: str, now: datetime,
                folder: str = "") -> bytes:
    """One closing appendix (`statistics`, `leads` or `transfers`) of the ledger's round."""
    if kind == "statistics":
        return statistics_docx(round_statistics(ledger, now), folder)
    if kind == "leads":
        return leads_docx(heading(ledger, now), round_leads(ledger), folder)
    if kind == "transfers":
        return transfers_docx(heading(ledger, now), db_round_transfers(session, ledger), folder)
    raise ValueError(f"unknown appendix {kind!r}; one of {', '.join(APPENDIX_TEMPLATES)}")


def db_appendices(session: Session, ledger: Ledger, now: datetime,
                  folder: str = "") -> list[tuple[str, bytes]]:
    """All three appendices as (file name in the bundle, DOCX bytes), numbered 附件1 … 3."""
    return [(f"附件{n}_{APPENDIX_TITLES[kind]}.docx", db_appendix(session, ledger, kind, now,
                                                                folder))
            for n, kind in enumerate(APPENDICES, 1)]


def known_appendix(kind: str) -> bool:
    return kind in APPENDIX_TITLES

