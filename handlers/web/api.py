"""The public JSON API of the service contract (what a "码上巡察" mini-program calls)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from handlers.web.reports import submission_from_request
from intake.pipeline import add_reporter_message, check_status, ingest
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
    try:
        receipt = ingest(desk, submission_from_request("api"))
    except AttachmentTooLargeError as exc:
        return error(413, "too_large", exc.message, exc.field)
    except InvalidSubmissionError as exc:
        return error(400, "invalid", exc.message, exc.field)
    return jsonify(code=receipt.code, received_at=receipt.received_at.isoformat()), 201


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
