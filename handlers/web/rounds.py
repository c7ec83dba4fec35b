"""The rounds page (/staff/rounds): every round with its team, window, state and item count;
an administrator loads or updates round files and moves rounds through their lifecycle
(close, reopen, hand over, archive after a confirmation that says what archiving means).

Team leaders see their own teams' rounds and the office (巡察办) all of them, read-only. The
item counts are counts only, computed past the item scope (an administrator reads no item).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from handlers.web.context import desk, require
from intake import scope
from intake.round import RoundFileError, parse_round
from intake.rounds import STATE_NAMES, TRANSITIONS, RoundError, db_load_round, set_state
from intake.staff import may
from intake.store import models as m
from intake.store.models import utcnow

bp = Blueprint("rounds", __name__)
MAX_FILE_BYTES = 256 * 1024
REASON_MAX = 500
LOADED = {"created": "已新建轮次 {}。", "updated": "已更新轮次 {}。",
          "unchanged": "轮次 {} 的文件与已载入的相同，未作改动。"}
# The button for each target state.
ACTIONS = {"closed": "截止受理", "open": "重新开放", "handed_over": "标记已移交",
           "archived": "归档…"}


def _may_view() -> None:
    require("view_rounds")


def _visible(db: Any) -> list[m.Round]:
    stmt = select(m.Round).order_by(m.Round.id.desc())
    if g.staff.role == "team_leader":  # their own teams' rounds only
        stmt = stmt.where(m.Round.team_id.in_(g.viewer.team_ids or {-1}))
    return list(db.scalars(stmt))


def _render(*, error: str = "", status: int = 200) -> Any:
    with desk().sessions() as db, scope.unscoped(db):
        rows = _visible(db)
        teams = dict(db.execute(select(m.Team.id, m.Team.name)).all())
        counts = dict(db.execute(select(m.Submission.round_id, func.count(m.Submission.id))
                                 .group_by(m.Submission.round_id)).all())
    return render_template(
        "staff/rounds.html", rows=rows, teams=teams, counts=counts, error=error,
        state_names=STATE_NAMES, transitions=TRANSITIONS, actions=ACTIONS,
        manage=may(g.staff.role, "manage_rounds"), max_kb=MAX_FILE_BYTES // 1024,
        now=utcnow()), status


@bp.get("")
def page() -> Any:
    _may_view()
    return _render()


@bp.post("/load")
def load() -> Any:
    """Load a new round file, or update the round with its slug."""
    require("manage_rounds")
    upload = request.files.get("round_file")
    if upload is None or not upload.filename:
        return _render(error="请选择要上传的轮次文件（YAML）。", status=400)
    raw = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return _render(error=f"轮次文件超过 {MAX_FILE_BYTES // 1024} KB，不像是轮次文件。",
                       status=400)
    try:
        cfg = parse_round(raw.decode("utf-8-sig"))
        with desk().sessions() as db, scope.unscoped(db):
            loaded = db_load_round(db, cfg, actor_label=g.staff.username, actor_id=g.staff.id)
            db.commit()
    except UnicodeDecodeError:
        return _render(error="轮次文件不是 UTF-8 编码，请另存为 UTF-8 后再上传。", status=400)
    except RoundFileError as exc:
        where = f"字段 {exc.field}：" if exc.field else ""
        message = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
        return _render(error=f"轮次文件有误，未载入。{where}{message}", status=400)
    except RoundError as exc:
        return _render(error=f"未载入：{exc.message}", status=409)
    desk().rounds.refresh(force=True)
    flash(LOADED[loaded.outcome].format(loaded.slug))
    return redirect(url_for(".page"), 303)


def _round(slug: str) -> m.Round:
    with desk().sessions() as db, scope.unscoped(db):
        row = db.scalar(select(m.Round).where(m.Round.slug == slug))
    if row is None:
        abort(404)
    return row


def _purge_date(at: datetime) -> datetime | None:
    days = desk().settings.round_retention_days
    return at + timedelta(days=days) if days > 0 else None


@bp.get("/<slug>/archive")
def confirm_archive(slug: str) -> Any:
    """What archiving means, and the reason it needs, before the round is archived."""
    require("manage_rounds")
    return _render_confirm(_round(slug))


def _render_confirm(row: m.Round, *, error: str = "", status: int = 200) -> Any:
    with desk().sessions() as db, scope.unscoped(db):
        count = db.scalar(select(func.count(m.Submission.id)).where(
            m.Submission.round_id == row.id)) or 0
    return render_template(
        "staff/rounds_archive.html", row=row, count=count, error=error,
        state_names=STATE_NAMES, allowed="archived" in TRANSITIONS.get(row.state, ()),
        retention_days=desk().settings.round_retention_days,
        purge_on=_purge_date(utcnow()), reason_max=REASON_MAX), status


@bp.post("/<slug>/state")
def change_state(slug: str) -> Any:
    """截止受理 / 重新开放 / 标记已移交 / 归档 (archiving only with a reason and confirmed)."""
    require("manage_rounds")
    row = _round(slug)
    target = request.form.get("to", "")
    if target not in STATE_NAMES:
        abort(400)
    reason = request.form.get("reason", "").strip()
    if len(reason) > REASON_MAX:
        return _render(error=f"理由请写在 {REASON_MAX} 字以内。", status=400)
    if target == "archived":
        if request.form.get("confirm") != "yes":
            return redirect(url_for(".confirm_archive", slug=slug), 303)
        if not reason:
            return _render_confirm(row, error="请写明归档理由（将记入审计记录）。", status=400)
    try:
        changed = set_state(desk().sessions, slug, target, actor_id=g.staff.id,
                            actor_label=g.staff.username, reason=reason)
    except RoundError as exc:
        return _render(error=exc.message, status=409)
    desk().rounds.refresh(force=True)
    flash(f"轮次 {changed.slug} 现为「{STATE_NAMES[changed.state]}」。")
    return redirect(url_for(".page"), 303)
