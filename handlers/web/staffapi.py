"""The staff API's read side (contract: staff-api.md): items, one item, counts.

Every call carries a personal token (`Authorization: Bearer …`, `intake users token`) and then
runs inside its user's scope exactly as their pages do (handlers/web/staff.py `enter_scope`):
an item of another team is simply not found (404, never 403, which would confirm it exists).
Views parse parameters, call intake.items / intake.stats, and answer in the public API's error
shape.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from handlers.web.api import error, unauthorized
from handlers.web.context import desk, now
from handlers.web.staff import denied, enter_scope
from intake import stats
from intake.audit import db_record
from intake.auth import apitokens
from intake.items import (
    QueryError,
    db_item_detail,
    db_item_views,
    parse_item_query,
    parse_period,
)
from intake.staff import may
from intake.store import models as m
from intake.store.db import begin_write
from intake.triage import Actor, db_queue_page

bp = Blueprint("staff_api", __name__)


def _admit(permission: str) -> Any | None:
    """401 without a valid token, 403 for a role without `permission`; else None, with the
    request in the token user's scope (left at the app's teardown). Called inside each view,
    not as a before-request hook, so the failure limiter wrapped around the view sees 401s."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return unauthorized("请在 Authorization 头中提供个人接口令牌：Bearer 令牌。")
    user = apitokens.authenticate(desk(), token)
    if user is None:
        return unauthorized("个人接口令牌无效、已吊销，或账号已停用。")
    g.staff = Actor(user.id, user.username, user.role)
    enter_scope(user.id, user.role)
    if not may(user.role, permission):
        return error(403, "forbidden", "您的角色没有这项操作的权限。")
    return None


@bp.get("/items")
def items() -> Any:
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    try:
        query = parse_item_query(request.args, desk().rounds, g.viewer.round_ids, now())
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)
    with desk().sessions() as db:
        page = db_queue_page(db, query.filters, query.cursor, query.limit)
        found = db_item_views(db, page.rows, desk().rounds, now())
    return jsonify(items=found, next=page.next_cursor)


@bp.get("/items/<int:item_id>")
def item(item_id: int) -> Any:
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    with desk().sessions() as db:
        begin_write(db)
        row = db.get(m.Submission, item_id)
        if row is None:
            db.rollback()
            denied("item", item_id, via="api")
            return error(404, "not_found", "没有找到这件。")
        # An access record of who read which item (domain §4), as the item page keeps.
        db_record(db, "item.view", actor_id=g.staff.id, actor_label=g.staff.username,
                  submission_id=item_id, via="api")
        view = db_item_detail(db, row, desk().rounds, now())
        db.commit()
    return jsonify(view)


@bp.get("/stats")
def counts() -> Any:
    if (refusal := _admit("view_stats")) is not None:
        return refusal
    try:
        period = parse_period(request.args)
        with desk().sessions() as db:
            round_ids = stats.db_pick_rounds(db, desk().rounds, request.args)
            return jsonify(stats.db_viewer_counts(db, g.viewer, round_ids, period))
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)

