"""The public JSON API of the service contract (what a "码上巡察" mini-program calls)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from handlers.web.guard import WorkRequired, bearer_client, guard
from handlers.web.reports import parse_bool, submission_from_request
from intake import duty, pow
from intake.pipeline import add_reporter_message, check_status, ingest
from intake.protect import Identity
from intake.submission import (
    AttachmentTooLargeError,
    CaseNotFoundError,
    InvalidSubmissionError,
)

bp = Blueprint("api", __name__)

NOT_FOUND = "查询码或密码不正确。"


def error(status: int, code: str, message: str, field: str | None = None) -> Any:
    return jsonify(error={"code": code, "message": message, "field": field}), status


@bp.post("/reports")
def create_report() -> Any:
    desk = current_app.extensions["desk"]
    sent_token, client = bearer_client()
    if sent_token and client is None:
        return unauthorized("客户端令牌无效或已停用。")
    if client is not None:
        if not guard().within_client_limit(client):
            return error(429, "rate_limited", "本客户端的提交已达限额，请稍后再试。")
    elif (refusal := guard().admit()) is not None:
        return work_required(refusal)
    try:
        receipt = ingest(desk, submission_from_request("api"))
    except AttachmentTooLargeError as exc:
        return error(413, "too_large", exc.message, exc.field)
    except InvalidSubmissionError as exc:
        return error(400, "invalid", exc.message, exc.field)
    return jsonify(code=receipt.code, received_at=receipt.received_at.isoformat()), 201


@bp.get("/rounds")
def rounds() -> Any:
    """The open rounds, for a mini-program to offer the choice (`round` of POST /reports)."""
    desk = current_app.extensions["desk"]
    return jsonify(rounds=[{
        "slug": e.slug, "name": e.cfg.name, "team": e.team,
        "unit": "、".join(u.name for u in e.cfg.units),
        "opens": e.cfg.opens.isoformat(), "closes": e.cfg.closes.isoformat(),
    } for e in desk.rounds.open()])


@bp.get("/challenge")
def challenge() -> Any:
    """The proof of work this address's next submission needs (docs/public-api.md)."""
    issued = guard().challenge()
    if issued is None:
        return jsonify(challenge=None, bits=0)
    return jsonify(challenge=issued.token, bits=issued.bits, expires_at=issued.expires_at,
                   expires_in=_seconds_left(issued))


def _seconds_left(issued: pow.Challenge) -> int:
    return max(0, issued.expires_at - int(time.time()))


def work_required(refusal: WorkRequired) -> Any:
    """429 with a challenge to solve and send again (X-Pow-Challenge / X-Pow-Nonce)."""
    issued = refusal.challenge
    response = jsonify(error={"code": "work_required", "message": refusal.message,
                              "field": None, "reason": refusal.reason},
                       challenge=issued.token, bits=issued.bits, expires_at=issued.expires_at,
                       expires_in=_seconds_left(issued))
    return response, 429


def unauthorized(message: str) -> Any:
    response = error(401, "unauthorized", message)[0]
    response.headers["WWW-Authenticate"] = 'Bearer realm="intake"'
    return response, 401


def _password() -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("password"), str):
        raise InvalidSubmissionError("password", "请提供查询密码。")
    return body["password"]


@bp.post("/reports/<code>/status")
def report_status(code: str) -> Any:
    desk = current_app.extensions["desk"]
    try:
        case = check_status(desk, code, _password())
    except InvalidSubmissionError as exc:
        return error(400, "invalid", exc.message, exc.field)
    except CaseNotFoundError:
        return error(404, "not_found", NOT_FOUND)
    return jsonify(
        code=code,
        status=case.status,
        status_text=case.status_text,
        received_at=case.received_at.isoformat(),
        messages=[{"from": msg.author, "at": msg.at.isoformat(), "text": msg.text}
                  for msg in case.messages],
    )


@bp.post("/reports/<code>/messages")
def report_message(code: str) -> Any:
    desk = current_app.extensions["desk"]
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    try:
        if not isinstance(text, str):
            raise InvalidSubmissionError("text", "请填写补充内容。")
        message = add_reporter_message(desk, code, _password(), text)
    except InvalidSubmissionError as exc:
        return error(400, "invalid", exc.message, exc.field)
    except CaseNotFoundError:
        return error(404, "not_found", NOT_FOUND)
    return jsonify(at=message.at.isoformat()), 201


# --- Call-centre systems push call logs with a device token (docs/call-centre-api.md) ---

# Core field names as the call-centre knows them.
CALL_FIELD_NAMES = {"name": "caller_name", "reporter_name": "caller_name",
                    "phone": "caller_number", "reporter_phone": "caller_number",
                    "received_at": "started_at"}
CALL_FIELDS = ("call_id", "started_at", "caller_number", "caller_name", "text", "title",
               "subject_name", "subject_unit", "subject_post", "round")


@bp.post("/desk/calls")
def desk_call() -> Any:
    desk = current_app.extensions["desk"]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    device = duty.authenticate_device(desk, token.strip()) if scheme == "Bearer" else None
    if device is None:
        return unauthorized("设备令牌无效或已停用。")
    body = request.get_json(silent=True) if request.is_json else None
    try:
        if not isinstance(body, dict):
            raise InvalidSubmissionError("body", "请求内容应为 JSON 对象。")
        for name in CALL_FIELDS:
            if body.get(name) is not None and not isinstance(body[name], str):
                raise InvalidSubmissionError(name, "此项应为文字。")
        try:
            started = datetime.fromisoformat(body.get("started_at") or "")
        except ValueError:
            raise InvalidSubmissionError(
                "started_at", "请给出来电时间，如 2026-03-05T09:30:00+08:00。") from None
        if started.tzinfo is None:
            raise InvalidSubmissionError("started_at", "来电时间必须带时区，如 +08:00。")
        anonymous = parse_bool(body.get("anonymous", True), "anonymous")
        phone = body.get("caller_number") or ""
        identity = (Identity(phone=phone) if anonymous
                    else Identity(name=body.get("caller_name") or "", phone=phone))
        receipt = duty.log_entry(
            desk,
            duty.DeskLog(
                channel="hotline",
                received_at=started,
                text=body.get("text") or "",
                title=body.get("title") or "",
                anonymous=anonymous,
                identity=identity,
                subject_name=body.get("subject_name") or "",
                subject_unit=body.get("subject_unit") or "",
                subject_post=body.get("subject_post") or "",
                round_id=duty.team_round(desk, device.team_id, body.get("round") or None),
            ),
            device_id=device.id,
            external_id=body.get("call_id"),
        )
    except duty.DuplicateCallError as exc:
        return jsonify(id=exc.submission_id, error={
            "code": "duplicate", "field": "call_id",
            "message": "这通来电已经推送过；查询码只在首次推送时返回。"}), 409
    except InvalidSubmissionError as exc:
        return error(400, "invalid", exc.message, CALL_FIELD_NAMES.get(exc.field, exc.field))
    return jsonify(id=receipt.submission_id, code=receipt.code, password=receipt.password,
                   received_at=receipt.received_at.isoformat(), late=receipt.late,
                   flags=list(receipt.flags)), 201
