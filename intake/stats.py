"""Intake statistics: counts of items by channel, status, discipline, subject group, route and
day, for the staff API's `/stats`, the 统计 page and (later) the weekly report.

Counts come from GROUP BY queries on the submissions' indexed columns and the labels table;
no item row or text is read. Spam is left out of every count but `by_status`. Who may count
what: team roles count under their scope (intake.scope keeps them to their teams' rounds);
the office (巡察办) counts across all teams, past the scope, because counts carry no text.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from intake import scope
from intake.classify import DISCIPLINES
from intake.items import Period, QueryError, parse_round
from intake.rounds import RoundRegistry
from intake.store import models as m
from intake.workdays import CHINA

# Roles whose counts span every team (the scope would show them no item at all).
ACROSS_TEAMS = ("office",)


def db_counts(session: Session, round_ids: Collection[int] | None, period: Period,
              zone: tzinfo = CHINA) -> dict[str, Any]:
    """The counts of items received in `period` in these rounds (None: every round the
    session's scope lets it see). `by_day` keys are dates `YYYY-MM-DD` in `zone`."""
    sub = m.Submission

    def grouped(column: Any, *, spam: bool = False, labels: str = "") -> dict[str, int]:
        stmt: Select = select(column, func.count()).select_from(sub)
        if labels:
            label = m.SubmissionLabel
            stmt = stmt.join(label, (label.submission_id == sub.id) & (label.kind == labels))
        stmt = _where(stmt, round_ids, period, spam=spam).group_by(column)
        counts: dict[str, int] = {}
        for key, count in session.execute(stmt):
            name = "unknown" if key is None else str(key)  # no suggestion yet: not known
            counts[name] = counts.get(name, 0) + count
        return counts

    by_status = grouped(sub.status, spam=True)
    return {
        "total": sum(n for status, n in by_status.items() if status != "spam"),
        "by_channel": _with_zeros(m.CHANNELS, grouped(sub.channel)),
        "by_status": _with_zeros(m.STATUSES, by_status),
        "by_discipline": _with_zeros(DISCIPLINES, grouped(m.SubmissionLabel.value,
                                                          labels="discipline")),
        "by_subject_role": _with_zeros(m.SUBJECT_ROLES, grouped(sub.subject_role)),
        "by_route": dict(sorted(grouped(m.SubmissionLabel.value, labels="route").items())),
        "by_day": dict(sorted(grouped(_local_day(session, sub.received_at, zone)).items())),
    }


def db_viewer_counts(session: Session, viewer: scope.Viewer, round_ids: Collection[int] | None,
                     period: Period, zone: tzinfo = CHINA) -> dict[str, Any]:
    """`db_counts` as `viewer` may see them: the office across all teams (past the scope, which
    shows it no item), everyone else within their scope."""
    if viewer.role in ACROSS_TEAMS:
        with scope.unscoped(session):
            return db_counts(session, round_ids, period, zone)
    return db_counts(session, round_ids, period, zone)


def db_pick_rounds(session: Session, rounds: RoundRegistry,
                   args: Mapping[str, str]) -> list[int] | None:
    """The rounds `round=SLUG` and `team=NAME` narrow counts to (None: every round the viewer
    may count); QueryError for a round or team that does not exist."""
    entry = parse_round(args, rounds)
    team = args.get("team", "").strip()
    if not team:
        return [entry.id] if entry is not None else None
    team_id = session.scalar(select(m.Team.id).where(m.Team.name == team))
    if team_id is None:
        raise QueryError("team", f"没有巡察组「{team}」。")
    return [e.id for e in rounds.all()
            if e.team_id == team_id and (entry is None or e.id == entry.id)]


def _where(stmt: Select, round_ids: Collection[int] | None, period: Period, *,
           spam: bool) -> Select:
    sub = m.Submission
    if not spam:
        stmt = stmt.where(sub.status != "spam")
    if round_ids is not None:
        stmt = stmt.where(sub.round_id.in_(list(round_ids)))
    if period.since is not None:
        stmt = stmt.where(sub.received_at >= period.since)
    if period.until is not None:
        stmt = stmt.where(sub.received_at < period.until)
    return stmt


def _local_day(session: Session, column: Any, zone: tzinfo) -> ColumnElement[Any]:
    """The date of a UTC timestamp column in `zone` (a fixed offset), as `YYYY-MM-DD` text."""
    offset = zone.utcoffset(None) or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return func.to_char(column + func.make_interval(0, 0, 0, 0, 0, minutes), "YYYY-MM-DD")


def _with_zeros(codes: Collection[str], found: dict[str, int]) -> dict[str, int]:
    """Every known code (0 when none), then any other found (e.g. an old code)."""
    return {**dict.fromkeys(codes, 0), **found}
