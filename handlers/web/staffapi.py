"""The staff API (contract: staff-api.md): items, one item, counts, and the steps after
triage (decision, accept, transfers and their replies, repeat, close), the letters and the
ledger.

Every call carries a personal token (`Authorization: Bearer …`, `intake users token`) and then
runs inside its user's scope exactly as their pages do (handlers/web/staff.py `enter_scope`):
an item of another team is simply not found (404, never 403, which would confirm it exists).
Views parse parameters, call intake.items / intake.stats / intake.leads (the same functions
the pages call), and answer in the public API's error shape: a refused step is 400 (`invalid`,
naming the field), 403, 404 or 409 (`conflict`: not from where the case stands).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from handlers.web.api import error, unauthorized
from handlers.web.context import desk, document, now
from handlers.web.ledger import ledger_download
from handlers.web.reportdocs import appendix_download, report_round, weekly_download, weekly_week
from handlers.web.staff import denied, enter_scope
from handlers.web.stats import count_request, workbook_download
from intake import leads, search, stats
from intake.audit import db_record
from intake.auth import apitokens
from intake.items import (
    QueryError,
    db_item_detail,
    db_item_views,
    parse_item_query,
    parse_period,
    transfer_view,
    zone_of,
)
from intake.leads import LeadError
from intake.ledgerdata import pick_round
from intake.reports import known_appendix
from intake.staff import StaffError, may
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError
from intake.triage import Actor, Correction, db_queue_page, decide

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
        # With q: where each item matched, a passage of its masked text.
        matches = search.db_matches(db, page.rows, search.parse(query.filters.text))
    for view in found:
        if (match := matches.get(view["id"])) is not None:
            view["match"] = {"field": match.field, "passage": match.passage}
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
            return jsonify(stats.db_viewer_counts(db, g.viewer, round_ids, period,
                                                  rounds=desk().rounds, now=now()))
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)


@bp.get("/stats.xlsx")
def stats_workbook() -> Any:
    """The statistics workbook (`round`, `team`, `since`, `until` as `/stats`), audited."""
    if (refusal := _admit("view_stats")) is not None:
        return refusal
    counted = count_request()
    if counted.error:
        return error(400, "invalid", counted.error, counted.field)
    return workbook_download(counted.counts, counted.heading, counted.period, via="api")


# -- the write side ----------------------------------------------------------------------------

LEAD_STATUS = {"not_found": 404, "forbidden": 403, "invalid": 400, "conflict": 409}


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise LeadError("invalid", "请求体应为 JSON 对象。")
    return body


def _refused(exc: LeadError) -> Any:
    code = {"not_found": "not_found", "forbidden": "forbidden", "invalid": "invalid",
            "conflict": "conflict"}[exc.kind]
    if exc.kind == "not_found":
        denied("item", request.view_args.get("item_id") if request.view_args else None,
               via="api")
    return error(LEAD_STATUS[exc.kind], code, exc.message, exc.field or None)


def _item_answer(item_id: int, status: int = 200) -> Any:
    with desk().sessions() as db:
        row = db.get(m.Submission, item_id)
        if row is None:
            return error(404, "not_found", "没有找到这件。")
        return jsonify(db_item_detail(db, row, desk().rounds, now())), status


def _transfer_answer(transfer_id: int, status: int = 200) -> Any:
    with desk().sessions() as db:
        found = db.get(m.Transfer, transfer_id)
        if found is None:
            return error(404, "not_found", "没有找到这份转办记录。")
        entry = desk().rounds.get(found.round_id)
        zone = zone_of(entry.cfg if entry is not None else None)
        return jsonify(transfer_view(found, zone, now().astimezone(zone).date())), status


def _step(permission: str, act: Any) -> Any:
    """Admit, run one step of intake.leads with the request's JSON body, map refusals."""
    if (refusal := _admit(permission)) is not None:
        return refusal
    try:
        return act(_body())
    except LeadError as exc:
        return _refused(exc)


@bp.post("/items/<int:item_id>/decision")
def decision(item_id: int) -> Any:
    """A triager's confirmation (no `in_scope` given) or correction of the classification."""
    def act(body: dict[str, Any]) -> Any:
        with desk().sessions() as db:
            row = db.get(m.Submission, item_id)
            if row is None:
                raise LeadError("not_found", "没有找到这件。")
            reviewed = row.current_classification_id
        correction = None
        if "in_scope" in body:
            in_scope, role = body.get("in_scope"), body.get("subject_role", "unknown")
            disciplines, routes = body.get("disciplines", []), body.get("routes", [])
            if not isinstance(in_scope, bool):
                raise LeadError("invalid", "in_scope 应为 true 或 false。", "in_scope")
            for name, value in (("disciplines", disciplines), ("routes", routes)):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise LeadError("invalid", "应为文字列表。", name)
            if not isinstance(role, str):
                raise LeadError("invalid", "应为文字。", "subject_role")
            dropped = body.get("drop_subjects", [])
            if not isinstance(dropped, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) for i in dropped):
                raise LeadError("invalid", "应为人员序号（从 0 起）的列表。", "drop_subjects")
            correction = Correction(in_scope, role, tuple(disciplines), tuple(routes),
                                    dropped=tuple(dropped))
        note = body.get("note", "")
        try:
            decide(desk(), g.staff, item_id, reviewed_id=reviewed, correction=correction,
                   note=note if isinstance(note, str) else "")
        except StaffError as exc:
            raise LeadError(exc.kind, exc.message) from None
        return _item_answer(item_id)
    return _step("decide", act)


@bp.post("/items/<int:item_id>/accept")
def accept(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.accept(desk(), g.staff, item_id, keeper=body.get("keeper"),
                     note=body.get("note", ""))
        return _item_answer(item_id)
    return _step("work_leads", act)


@bp.post("/items/<int:item_id>/keeper")
def keeper(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.change_keeper(desk(), g.staff, item_id, keeper=body.get("keeper"),
                            reason=body.get("reason", ""))
        return _item_answer(item_id)
    return _step("assign_keeper", act)


@bp.post("/items/<int:item_id>/transfers")
def create_transfer(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        found = leads.transfer(desk(), g.staff, item_id, department=body.get("department"),
                               note=body.get("note", ""), part=body.get("part", ""),
                               dispatch=body.get("dispatch", "exchange"))
        return _transfer_answer(found, 201)
    return _step("work_leads", act)


@bp.get("/transfers/<int:transfer_id>")
def one_transfer(transfer_id: int) -> Any:
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    return _transfer_answer(transfer_id)


@bp.post("/transfers/<int:transfer_id>/replies")
def transfer_reply(transfer_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        reply = leads.add_reply(desk(), g.staff, transfer_id, kind=body.get("kind"),
                                text=body.get("text", ""), at=body.get("at"))
        answer, status = _transfer_answer(transfer_id, 201)
        payload = answer.get_json()
        return jsonify(id=reply, kind=body.get("kind"), transfer=payload), status
    return _step("work_leads", act)


@bp.post("/transfers/<int:transfer_id>/remind")
def transfer_remind(transfer_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.remind(desk(), g.staff, transfer_id, note=body.get("note", ""))
        return _transfer_answer(transfer_id)
    return _step("work_leads", act)


@bp.post("/transfers/<int:transfer_id>/reopen")
def transfer_reopen(transfer_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.reopen_transfer(desk(), g.staff, transfer_id, reason=body.get("reason", ""))
        return _transfer_answer(transfer_id)
    return _step("work_leads", act)


@bp.post("/items/<int:item_id>/repeat")
def repeat(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.mark_repeat(desk(), g.staff, item_id, of=body.get("of"))
        return _item_answer(item_id)
    return _step("work_leads", act)


@bp.delete("/items/<int:item_id>/repeat")
def undo_repeat(item_id: int) -> Any:
    if (refusal := _admit("work_leads")) is not None:
        return refusal
    try:
        leads.undo_repeat(desk(), g.staff, item_id)
    except LeadError as exc:
        return _refused(exc)
    return _item_answer(item_id)


@bp.post("/items/<int:item_id>/extend")
def extend(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.extend(desk(), g.staff, item_id, reason=body.get("reason", ""))
        return _item_answer(item_id)
    return _step("work_leads", act)


@bp.post("/items/<int:item_id>/close")
def close(item_id: int) -> Any:
    def act(body: dict[str, Any]) -> Any:
        leads.close(desk(), g.staff, item_id, disposal=body.get("disposal"),
                    note=body.get("note", ""), reply=body.get("reply", ""))
        return _item_answer(item_id)
    return _step("work_leads", act)


@bp.get("/transfers")
def transfers() -> Any:
    """The viewer's transfers, newest first: `round=SLUG`, `status=` (a stage or `overdue`)."""
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    status = request.args.get("status", "").strip()
    if status and status not in (*m.TRANSFER_STATUSES, "overdue"):
        return error(400, "invalid", "status 应为 sent、accepted、answered、returned 或 "
                     "overdue。", "status")
    stmt = select(m.Transfer).order_by(m.Transfer.id.desc()).limit(500)
    slug = request.args.get("round", "").strip()
    if slug:
        entry = desk().rounds.by_slug(slug)
        if entry is None:
            return error(400, "invalid", f"没有轮次 {slug}。", "round")
        stmt = stmt.where(m.Transfer.round_id == entry.id)
    if status and status != "overdue":
        stmt = stmt.where(m.Transfer.status == status)
    found = []
    at: datetime = now()
    with desk().sessions() as db:
        for t in db.scalars(stmt):
            entry = desk().rounds.get(t.round_id)
            zone = zone_of(entry.cfg if entry is not None else None)
            view = transfer_view(t, zone, at.astimezone(zone).date())
            if status != "overdue" or view["status"] == "overdue":
                found.append(view)
    return jsonify(transfers=found)


@bp.get("/transfers/<int:transfer_id>/letter.<fmt>")
def transfer_letter(transfer_id: int, fmt: str) -> Any:
    """The numbered transfer letter (转办函): `letter.docx` or `letter.pdf`."""
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    if fmt not in leads.LETTER_TYPES:
        return error(404, "not_found", "转办函只有 docx 和 pdf 两种格式。")
    try:
        name, content = leads.transfer_letter(desk(), g.staff, transfer_id, fmt)
    except LeadError as exc:
        return _refused(exc)
    except IntakeError as exc:  # no Chinese font for the PDF, a bad county template
        return error(503, "unavailable", str(exc))
    return document(content, name, leads.LETTER_TYPES[fmt])


@bp.get("/ledger.xlsx")
def ledger_workbook() -> Any:
    """The round's ledger (台账): `round=SLUG`, needed when the viewer has several rounds;
    another team's round is not found (404), as its items are."""
    if (refusal := _admit("view_queue")) is not None:
        return refusal
    try:
        entry = pick_round(desk().rounds, g.viewer.round_ids, request.args.get("round", ""))
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)
    if entry is None:
        return error(404, "not_found", "没有找到这个轮次。")
    return ledger_download(entry, via="api")


@bp.get("/reports/weekly.docx")
def weekly_report() -> Any:
    """The weekly intake report (周报): `round=SLUG` (required) and `week=YYYY-Www` (ISO
    week; empty: last week). Triagers and team leaders of the round's team, and the office
    (the report holds no item text); another team's round is not found (404)."""
    if (refusal := _admit("view_stats")) is not None:
        return refusal
    try:
        entry = report_round(request.args.get("round", ""))
        if entry is None:
            return error(404, "not_found", "没有找到这个轮次。")
        return weekly_download(entry, weekly_week(entry, request.args.get("week", "")),
                               via="api")
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)


@bp.get("/reports/<kind>.docx")
def round_appendix(kind: str) -> Any:
    """A closing appendix of the round: `statistics.docx` (信访举报受理情况统计表),
    `leads.docx` (问题线索移交清单) or `transfers.docx` (转办情况一览表), `round=SLUG`. The
    team's triagers and leader; another team's round is not found (404)."""
    if (refusal := _admit("round_reports")) is not None:
        return refusal
    if not known_appendix(kind):
        return error(404, "not_found", "只有 statistics、leads、transfers 三种附件。")
    try:
        entry = report_round(request.args.get("round", ""))
    except QueryError as exc:
        return error(400, "invalid", exc.message, exc.field)
    if entry is None or entry.id not in g.viewer.round_ids:
        return error(404, "not_found", "没有找到这个轮次。")
    return appendix_download(entry, kind, via="api")
