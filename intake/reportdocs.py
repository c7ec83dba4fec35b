"""The team's reports as Word documents: the weekly intake report (信访举报受理情况周报) and the
round's three closing appendices (信访举报受理情况统计表, 问题线索移交清单, 转办情况一览表).

This module owns what each document holds and how its template is filled. It is pure: a frozen
dataclass in, DOCX bytes out, each from an editable docxtpl template in `intake/templates/`
(built by scripts/make_report_templates.py; an office may put edited copies in the folder of
the setting `report_templates_dir`). What goes into the dataclasses is gathered by
intake.reports. None of them has a field for a reporter: their name, phone, ID number, address,
e-mail address or query code cannot be put into a report. The weekly report holds no item
text at all (the person reported on is given by post or group only), so the office (巡察办),
which never reads texts, may have it; the leads list holds the masked summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from intake.documents import TEMPLATES, _docx, _line, cn_date, cn_date_upper

WEEKLY_TEMPLATE = "weekly_report.docx"
STATISTICS_TEMPLATE = "round_statistics.docx"
LEADS_TEMPLATE = "round_leads.docx"
TRANSFERS_TEMPLATE = "round_transfers.docx"
# The appendices as a round's closing documents number them (附件1 …), and their titles.
APPENDIX_TITLES = {"statistics": "信访举报受理情况统计表", "leads": "问题线索移交清单",
                   "transfers": "转办情况一览表"}
APPENDIX_TEMPLATES = {"statistics": STATISTICS_TEMPLATE, "leads": LEADS_TEMPLATE,
                      "transfers": TRANSFERS_TEMPLATE}


@dataclass(frozen=True)
class CountRow:
    """One line of a count table: a name, this week's count and the round's so far."""

    name: str
    week: int
    total: int


@dataclass(frozen=True)
class LeadLine:
    """A lead accepted in the week: who is reported on by post or group, never by name."""

    number: str
    accepted_on: date
    subject: str  # post ("镇财政所所长") or group ("班子成员"); never a name
    disciplines: str
    keeper: str
    disposal: str  # the disposal so far, else the status


@dataclass(frozen=True)
class TransferLine:
    number: str
    item_number: str
    department: str
    dispatched_on: date
    status: str
    overdue: bool


@dataclass(frozen=True)
class OverdueLine:
    number: str
    clocks: str  # "研判、办结"
    due: date  # the earliest overdue deadline


@dataclass(frozen=True)
class WeeklyReport:
    """The weekly intake report (周报) of one round's week."""

    team: str
    round_name: str
    unit: str
    week_no: int  # the round's week, 1 for the week it opened (第N周 stays Arabic)
    iso_week: str  # "2026-W11"
    start: date  # Monday
    end: date  # Sunday
    opened: date
    as_of: date
    dated: date
    received: CountRow
    channels: Sequence[CountRow]
    triage: Sequence[CountRow]  # 属于受理范围, 不属于受理范围, 待研判
    disciplines: Sequence[CountRow]
    leads: Sequence[LeadLine]
    leads_total: int
    transfers: Sequence[TransferLine]
    transfers_total: int
    closed: Sequence[CountRow]
    overdue: Sequence[OverdueLine]
    repeats: CountRow
    notices: CountRow


def weekly_summary(r: WeeklyReport) -> str:
    """The report's opening paragraph, generated from its counts."""
    week = r.received.week
    by_channel = "、".join(f"{c.name}{c.week}件" for c in r.channels if c.week)
    parts = [f"本周共受理信访举报{week}件"]
    if by_channel:
        parts[0] += f"（{by_channel}）"
    scope = {c.name: c.week for c in r.triage}
    parts.append(f"其中属于本轮巡察受理范围{scope.get('属于受理范围', 0)}件，"
                 f"不属于受理范围{scope.get('不属于受理范围', 0)}件，"
                 f"待研判{scope.get('待研判', 0)}件")
    closed = sum(c.week for c in r.closed)
    parts.append(f"本周受理为问题线索{len(r.leads)}件，转办{len(r.transfers)}件，"
                 f"办结{closed}件，登记重复件{r.repeats.week}件，告知反映人{r.notices.week}次")
    opening = "；".join(parts) + "。"
    overdue = (f"截至{cn_date(r.as_of)}，超期未办{len(r.overdue)}件，需抓紧办理。"
               if r.overdue else f"截至{cn_date(r.as_of)}，无超期未办件。")
    return (f"{opening}自{cn_date(r.opened)}巡察开始以来，累计受理信访举报{r.received.total}件，"
            f"形成问题线索{r.leads_total}件，转办{r.transfers_total}件。{overdue}")


def span_words(start: date, end: date) -> str:
    """2026年3月9日至3月15日; the year is said again only when the span crosses it."""
    return f"{cn_date(start)}至{cn_date(end) if end.year != start.year else cn_date(end)[5:]}"


def _rows(rows: Sequence[CountRow]) -> list[dict[str, Any]]:
    return [{"name": _line(c.name), "week": c.week, "total": c.total} for c in rows]


def _weekly_context(r: WeeklyReport) -> dict[str, Any]:
    return {
        "team": _line(r.team), "round_name": _line(r.round_name), "unit": _line(r.unit),
        "week_no": r.week_no, "iso_week": r.iso_week,
        "period": span_words(r.start, r.end), "opened": cn_date(r.opened),
        "as_of": cn_date(r.as_of), "dated": cn_date_upper(r.dated),
        "summary": weekly_summary(r),
        "received": {"week": r.received.week, "total": r.received.total},
        "channels": _rows(r.channels), "triage": _rows(r.triage),
        "disciplines": _rows(r.disciplines),
        "leads": [{"n": n, "number": _line(x.number), "accepted_on": cn_date(x.accepted_on),
                   "subject": _line(x.subject) or "—", "disciplines": _line(x.disciplines) or "—",
                   "keeper": _line(x.keeper), "disposal": _line(x.disposal)}
                  for n, x in enumerate(r.leads, 1)],
        "transfers": [{"n": n, "number": _line(t.number), "item": _line(t.item_number),
                       "department": _line(t.department),
                       "dispatched_on": cn_date(t.dispatched_on), "status": _line(t.status),
                       "overdue": "是" if t.overdue else "否"}
                      for n, t in enumerate(r.transfers, 1)],
        "closed": _rows(r.closed), "closed_week": sum(c.week for c in r.closed),
        "closed_total": sum(c.total for c in r.closed),
        "overdue": [{"n": n, "number": _line(o.number), "clocks": _line(o.clocks),
                     "due": cn_date(o.due)} for n, o in enumerate(r.overdue, 1)],
        "overdue_count": len(r.overdue),
        "repeats": {"week": r.repeats.week, "total": r.repeats.total},
        "notices": {"week": r.notices.week, "total": r.notices.total},
    }


def template_path(name: str, folder: str = "") -> Path:
    """The template `name`: the office's edited copy in `folder` (the setting
    `report_templates_dir`) when it has one, else the shipped one in intake/templates."""
    if folder:
        own = Path(folder).expanduser() / name
        if own.is_file():
            return own
    return TEMPLATES / name


def weekly_report_docx(report: WeeklyReport, folder: str = "") -> bytes:
    """The weekly report as DOCX (weekly_report.docx)."""
    return _docx(template_path(WEEKLY_TEMPLATE, folder), _weekly_context(report))


# -- the round's closing appendices ------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """What every appendix says at its top."""

    team: str
    round_name: str
    unit: str
    opened: date
    as_of: date  # the data's date
    dated: date


@dataclass(frozen=True)
class OutcomeRow:
    """A channel's items by what became of them (each item counted once, under the first of
    lead, transferred, repeat, closed otherwise, still open that fits it)."""

    name: str
    received: int
    leads: int
    transferred: int
    repeats: int
    closed: int
    pending: int


@dataclass(frozen=True)
class RoundStatistics:
    heading: Heading
    channels: Sequence[OutcomeRow]  # the last row is 合计
    disciplines: Sequence[tuple[str, int, int]]  # name, items, of which leads
    scope: Sequence[tuple[str, int]]  # 属于受理范围 / 不属于受理范围 / 待研判


@dataclass(frozen=True)
class LeadEntry:
    """One lead of the handover list. The summary is the stored, masked text, cut short."""

    number: str
    received_on: date
    subject: str  # as triage recorded them: the person reported on, never the reporter
    disciplines: str
    summary: str
    keeper: str
    disposal: str
    steps: str


@dataclass(frozen=True)
class TransferEntry:
    number: str
    item_number: str
    department: str
    dispatched_on: date
    accepted_on: date | None
    result: str  # the body's reported result (masked, cut short), or ""
    status: str
    overdue: bool


def _heading(h: Heading, kind: str) -> dict[str, Any]:
    team, round_name = _line(h.team), _line(h.round_name)
    # a round is usually named after its team (县委第一巡察组2026年第二轮…): said once
    round_line = round_name if round_name.startswith(team) else f"{team}　{round_name}"
    return {"title": APPENDIX_TITLES[kind], "team": team, "round_name": round_name,
            "round_line": round_line, "unit": _line(h.unit),
            "opened": cn_date(h.opened), "as_of": cn_date(h.as_of),
            "dated": cn_date_upper(h.dated)}


def statistics_docx(s: RoundStatistics, folder: str = "") -> bytes:
    """信访举报受理情况统计表 as DOCX (round_statistics.docx)."""
    context = {**_heading(s.heading, "statistics"),
               "channels": [vars(r) for r in s.channels],
               "disciplines": [{"name": n, "count": i, "leads": ld}
                               for n, i, ld in s.disciplines],
               "scope": [{"name": n, "count": c} for n, c in s.scope]}
    return _docx(template_path(STATISTICS_TEMPLATE, folder), context)


def leads_docx(heading: Heading, leads: Sequence[LeadEntry], folder: str = "") -> bytes:
    """问题线索移交清单 as DOCX (round_leads.docx): every lead of the round."""
    context = {**_heading(heading, "leads"), "count": len(leads), "leads": [
        {"n": n, "number": _line(x.number), "received_on": cn_date(x.received_on),
         "subject": _line(x.subject) or "—", "disciplines": _line(x.disciplines) or "—",
         "summary": _line(x.summary), "keeper": _line(x.keeper),
         "disposal": _line(x.disposal), "steps": _line(x.steps)}
        for n, x in enumerate(leads, 1)]}
    return _docx(template_path(LEADS_TEMPLATE, folder), context)


def transfers_docx(heading: Heading, transfers: Sequence[TransferEntry],
                   folder: str = "") -> bytes:
    """转办情况一览表 as DOCX (round_transfers.docx): every transfer of the round."""
    context = {**_heading(heading, "transfers"), "count": len(transfers), "transfers": [
        {"n": n, "number": _line(t.number), "item": _line(t.item_number),
         "department": _line(t.department), "dispatched_on": cn_date(t.dispatched_on),
         "accepted_on": cn_date(t.accepted_on) if t.accepted_on else "—",
         "result": _line(t.result) or "—", "status": _line(t.status),
         "overdue": "是" if t.overdue else "否"}
        for n, t in enumerate(transfers, 1)]}
    return _docx(template_path(TRANSFERS_TEMPLATE, folder), context)
