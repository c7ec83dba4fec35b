"""Turning a web or API request into a Submission: one parser for the form and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app, request

from intake.protect import Identity
from intake.submission import IncomingFile, InvalidSubmissionError, Submission

TEXT_FIELDS = ("text", "title", "subject_name", "subject_unit", "subject_post", "category")
# Also read: `round` (the API's slug of the round; the web form's comes from its URL).
IDENTITY_FIELDS = ("name", "phone", "id_number", "address")
HONEYPOT = "website"


def submission_from_request(channel: str) -> Submission:
    """Read a report from a multipart form or a JSON body; raise InvalidSubmissionError."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidSubmissionError("body", "请求内容不是有效的 JSON 对象。")
        values: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        files: list[IncomingFile] = []
    else:
        unexpected = set(request.files) - {"attachments"}
        if unexpected:
            names = ", ".join(sorted(unexpected))
            raise InvalidSubmissionError(
                "attachments", f"附件请用 attachments 字段上传（收到了 {names}）。")
        values = request.form.to_dict()
        # An empty file input sends a part with no name and no bytes; a part with bytes but
        # no name is still evidence the reporter meant to send.
        files = [
            IncomingFile(f.filename or "附件", f.stream)
            for f in request.files.getlist("attachments")
            if f.filename or _has_bytes(f.stream)
        ]
    for name in (*TEXT_FIELDS, "password", *(f"reporter_{f}" for f in IDENTITY_FIELDS)):
        if name in values and not isinstance(values[name], str):
            raise InvalidSubmissionError(name, "此项应为文字。")
    anonymous = parse_bool(values.get("anonymous", True), "anonymous")
    identity = Identity(**{f: values.get(f"reporter_{f}", "") for f in IDENTITY_FIELDS})
    if anonymous and not identity.is_empty():
        raise InvalidSubmissionError(
            "anonymous", "选择匿名反映时请不要填写本人信息；如愿实名，请选择“实名反映”。")
    if not anonymous and not (identity.name.strip() and identity.phone.strip()):
        field = "reporter_name" if not identity.name.strip() else "reporter_phone"
        raise InvalidSubmissionError(field, "实名反映请填写姓名和联系电话，以便我们联系您。")
    round_id = None
    if channel == "api" and values.get("round") not in (None, ""):
        round_id = round_by_slug(values["round"])
    return Submission(
        channel=channel,
        round_id=round_id,
        received_at=datetime.now(UTC),
        password=values.get("password", ""),
        anonymous=anonymous,
        identity=identity,
        attachments=tuple(files),
        suspected_bot=bool(str(values.get(HONEYPOT, "")).strip()),
        **{name: values.get(name, "") for name in TEXT_FIELDS},
    )


def round_by_slug(slug: object) -> int:
    """The id of the round a request names by slug; InvalidSubmissionError (`round`) when it
    is unknown or no longer takes items."""
    if not isinstance(slug, str):
        raise InvalidSubmissionError("round", "此项应为文字（巡察轮次的代号）。")
    entry = current_app.extensions["desk"].rounds.by_slug(slug.strip().lower())
    if entry is None:
        raise InvalidSubmissionError("round", f"没有代号为 {slug[:40]} 的巡察轮次。")
    if not entry.takes_items:
        raise InvalidSubmissionError("round", "这一轮巡察已经结束，不再受理反映。")
    return entry.id


def parse_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidSubmissionError(field, "应为 true 或 false。")


def _has_bytes(stream: Any) -> bool:
    head = stream.read(1)
    stream.seek(0)
    return bool(head)
