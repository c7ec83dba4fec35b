"""The 统计 page (/staff/stats): the staff API's counts as tables, for a chosen round or team
and date range. Registered on the staff blueprint as `staff.stats`, behind its login; the
counts come from intake.stats, as the API's do (the office's across all teams)."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request
from sqlalchemy import select

from handlers.web.context import desk, require
from intake import stats
from intake.items import Period, QueryError, parse_period
from intake.store import models as m


def stats_page() -> Any:
    require("view_stats")
    rounds = desk().rounds.all()
    viewer = g.viewer
    if viewer.role not in stats.ACROSS_TEAMS:  # the choices only; the scope does the hiding
        rounds = [e for e in rounds if e.team_id in viewer.team_ids]
    error, status = "", 200
    with desk().sessions() as db:
        teams = list(db.scalars(select(m.Team.name).where(m.Team.id.in_(
            {e.team_id for e in rounds})).order_by(m.Team.id)))
        try:
            period = parse_period(request.args)
            round_ids = stats.db_pick_rounds(db, desk().rounds, request.args)
        except QueryError as exc:
            error, status = exc.message, 400
            period, round_ids = Period(), None
        counts = stats.db_viewer_counts(db, viewer, round_ids, period)
    return render_template(
        "staff/stats.html", counts=counts, rounds=rounds, teams=teams, error=error,
        args=request.args, departments=desk().rules.departments,
    ), status
