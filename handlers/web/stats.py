"""The 统计 page (/staff/stats): the counts as charts with their tables, for a chosen round or
team and date range; each chart as SVG (on the page) or PNG (下载图片), and the statistics
workbook (下载 Excel). Registered on the staff blueprint as `staff.stats`, `staff.stats_chart`
and `staff.stats_workbook`, behind its login; the counts come from intake.stats, as the API's
do (the office's across all teams), the charts from intake.charts, the workbook from
intake.statsbook. Counts carry no text: the office sees them as the teams do.

The page's charts are separate requests with the page's parameters; the counts the page has
just taken are kept a minute for them (per member and parameters), so a page of a dozen charts
counts once, and a chart once drawn is kept (by its counts) until 96 others were drawn.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Response, abort, g, render_template, request, url_for
from sqlalchemy import select

from handlers.web.context import desk, document, now, require
from intake import charts, stats
from intake.audit import db_record
from intake.items import Period, QueryError, parse_period, zone_of
from intake.publication import FontMissingError
from intake.reports import last_week
from intake.rounds import RoundEntry
from intake.statsbook import period_words, stats_xlsx
from intake.store import models as m
from intake.store.db import begin_write
from intake.workdays import CHINA

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARAMS = ("round", "team", "since", "until")
KEEP_SECONDS = 60
KEEP_MAX = 64
# Shown only when there is more than one of them to compare.
COMPARISONS = ("by_team", "by_round")

DRAWINGS_MAX = 96

_kept: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
_drawings: dict[tuple[Any, ...], bytes] = {}
_kept_lock = threading.Lock()


@dataclass(frozen=True)
class Counted:
    """What a request asked to count and what it got."""

    counts: dict[str, Any]
    heading: str  # what was counted: a round's name, a team, 全部巡察组
    period: str  # the dates, in words
    error: str
    field: str  # the parameter the error is about
    rounds: list[RoundEntry]  # the choices the viewer has
    teams: list[str]

    @property
    def subtitle(self) -> str:
        return f"{self.heading}  收到时间：{self.period}"


def _count(*, reuse: bool) -> Counted:
    """The counts the request's round, team, since and until ask for, as the viewer may see
    them; with `reuse`, those the page counted within the minute."""
    viewer = g.viewer
    registry = desk().rounds
    rounds = registry.all()
    if viewer.role not in stats.ACROSS_TEAMS:  # the choices only; the scope does the hiding
        rounds = [e for e in rounds if e.team_id in viewer.team_ids]
    error = field = ""
    with desk().sessions() as db:
        teams = list(db.scalars(select(m.Team.name).where(m.Team.id.in_(
            {e.team_id for e in rounds})).order_by(m.Team.id)))
        try:
            period = parse_period(request.args)
            round_ids = stats.db_pick_rounds(db, registry, request.args)
        except QueryError as exc:
            error, field = exc.message, exc.field
            period, round_ids = Period(), None
        key = (viewer.user_id, viewer.role, None if round_ids is None else tuple(round_ids),
               period.since, period.until)
        counts = _reused(key) if reuse else None
        if counts is None:
            counts = stats.db_viewer_counts(db, viewer, round_ids, period, rounds=registry,
                                            now=now())
            _keep(key, counts)
    return Counted(counts, _heading(round_ids, teams), _period(period), error, field,
                   rounds, teams)


def _reused(key: tuple[Any, ...]) -> dict[str, Any] | None:
    with _kept_lock:
        found = _kept.get(key)
    if found is None or time.monotonic() - found[0] > KEEP_SECONDS:
        return None
    return found[1]


def _keep(key: tuple[Any, ...], counts: dict[str, Any]) -> None:
    with _kept_lock:
        if len(_kept) >= KEEP_MAX:
            _kept.pop(min(_kept, key=lambda k: _kept[k][0]))
        _kept[key] = (time.monotonic(), counts)


def _heading(round_ids: list[int] | None, teams: list[str]) -> str:
    chosen = request.args.get("team", "").strip()
    if round_ids is not None and len(round_ids) == 1:
        entry = desk().rounds.get(round_ids[0])
        if entry is not None:
            return entry.cfg.name
    if chosen:
        return chosen
    if g.viewer.role in stats.ACROSS_TEAMS:
        return "全部巡察组"
    return "、".join(teams) or "本组"


def _period(period: Period) -> str:
    def local(moment: datetime | None, *, end: bool) -> Any:
        if moment is None:
            return None
        return (moment - timedelta(microseconds=1) if end else moment).astimezone(CHINA).date()

    return period_words(local(period.since, end=False), local(period.until, end=True))


def _sections() -> tuple[stats.Section, ...]:
    names = {e.slug: e.cfg.name for e in desk().rounds.all()}
    return stats.sections(desk().rules.departments, names)


def _shown(sections: tuple[stats.Section, ...], counts: dict[str, Any]) -> list[stats.Section]:
    return [s for s in sections if s.key in counts
            and (s.key not in COMPARISONS or len(counts[s.key]) > 1)]


def _args() -> dict[str, str]:
    return {k: v for k in PARAMS if (v := request.args.get(k, "").strip())}


def _font_problem() -> str:
    try:
        charts.chart_font(desk().settings.pdf_font)
    except FontMissingError as exc:
        return exc.message
    return ""


def stats_page() -> Any:
    require("view_stats")
    counted = _count(reuse=False)
    sections = _shown(_sections(), counted.counts)
    args = _args()
    # One round chosen: its weekly report (周报) from here too, the office's way to it.
    chosen = next((e for e in counted.rounds if e.slug == request.args.get("round")), None)
    report_week = last_week(now(), zone_of(chosen.cfg)).label if chosen is not None else ""
    return render_template(
        "staff/stats.html", counts=counted.counts, counted=counted, rounds=counted.rounds,
        teams=counted.teams, error=counted.error, args=request.args, sections=sections,
        figures=[(name, counted.counts[key]) for key, name in stats.FIGURES
                 if key in counted.counts],
        font_problem=_font_problem(),
        chart_url=lambda s, fmt, **more: url_for("staff.stats_chart", name=s.slug, fmt=fmt,
                                               **args, **more),
        workbook_url=url_for("staff.stats_workbook", **args),
        report_round=chosen.slug if chosen is not None else "", report_week=report_week,
    ), 400 if counted.error else 200


def stats_chart(name: str, fmt: str) -> Any:
    """One chart of the page, `name` a section's slug (channel, day, unit …), as SVG or PNG."""
    require("view_stats")
    if fmt not in charts.FORMATS:
        abort(404)
    section = next((s for s in _sections() if s.slug == name), None)
    if section is None:
        abort(404)
    counted = _count(reuse=True)
    if counted.error:
        abort(400)
    if section.key not in counted.counts:
        abort(404)
    try:
        content = _drawn(section, counted, fmt)
    except FontMissingError as exc:
        return Response(exc.message, status=503, mimetype="text/plain")
    response = Response(content, mimetype=charts.FORMATS[fmt])
    if request.args.get("download") == "1":  # 下载图片
        name = f"统计图-{section.title.split('（')[0]}.{fmt}"
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    g.no_store = True
    return response


def _drawn(section: stats.Section, counted: Counted, fmt: str) -> bytes:
    """The chart's bytes; the same counts drawn again come from a small cache (a chart takes
    a tenth of a second or more to draw, a page has a dozen)."""
    values = counted.counts[section.key]
    key = (section.key, fmt, counted.subtitle, json.dumps(values, sort_keys=True),
           desk().settings.pdf_font)
    with _kept_lock:
        found = _drawings.get(key)
    if found is not None:
        return found
    font = desk().settings.pdf_font
    if section.daily:
        content = charts.day_chart(section.title, values, fmt, font=font,
                                   subtitle=counted.subtitle)
    else:
        content = charts.bar_chart(section.title, section.rows(counted.counts), fmt,
                                   font=font, subtitle=counted.subtitle)
    with _kept_lock:
        if len(_drawings) >= DRAWINGS_MAX:
            _drawings.pop(next(iter(_drawings)))  # the oldest
        _drawings[key] = content
    return content


def stats_workbook() -> Any:
    """下载 Excel: the workbook of what the page shows, audited `stats.download`."""
    require("view_stats")
    counted = _count(reuse=False)
    if counted.error:
        abort(400)
    return workbook_download(counted.counts, counted.heading, counted.period, via="web")


def workbook_download(counts: dict[str, Any], heading: str, period: str, *, via: str) -> Any:
    """The statistics workbook as a download (the page's and the API's), audited."""
    at = now()
    content = stats_xlsx(counts, _shown(_sections(), counts), heading=heading, period=period,
                         generated_at=at, zone=CHINA)
    with desk().sessions() as db:
        begin_write(db)
        db_record(db, "stats.download", actor_id=g.staff.id, actor_label=g.staff.username,
                  scope=heading, period=period, items=int(counts.get("total", 0)), via=via,
                  **{k: request.args[k] for k in PARAMS if request.args.get(k)})
        db.commit()
    local = at.astimezone(CHINA)
    return document(content, f"{heading}受理情况统计-{local:%Y%m%d}.xlsx", XLSX)


def count_request() -> Counted:
    """The counts the request asks for (the staff API's `/stats.xlsx`, once admitted)."""
    return _count(reuse=False)


def register(bp: Any) -> None:
    """The page's routes on the staff blueprint."""
    bp.add_url_rule("/stats", "stats", stats_page)  # 统计: staff.stats
    bp.add_url_rule("/stats/chart/<name>.<fmt>", "stats_chart", stats_chart)
    bp.add_url_rule("/stats.xlsx", "stats_workbook", stats_workbook)
