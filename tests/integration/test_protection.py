"""Reporter protection: nothing readable at rest or in logs; masked on pages; reveals audited."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from intake.desk import Desk
from intake.export import iter_export
from intake.pipeline import ingest
from intake.store import models as m
from tests.conftest import PG_URL
from tests.support import NAMED_IDENTITY, csrf_token, make_submission, staff_client

SECRETS = [NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
           NAMED_IDENTITY.address]
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + \
    "身份证照片：欧阳明远".encode() + b"\xff\xd9"


def named_report(client: FlaskClient) -> str:
    token = csrf_token(client, "/report")
    r = client.post("/report", data={
        "csrf_token": token,
        "text": "西坡村党支部书记黄春生在危房改造款中吃拿卡要，每户要五百元好处费。",
        "password": "my-secret-1", "anonymous": "false",
        "reporter_name": NAMED_IDENTITY.name, "reporter_phone": NAMED_IDENTITY.phone,
        "reporter_id_number": NAMED_IDENTITY.id_number,
        "reporter_address": NAMED_IDENTITY.address,
        "attachments": [(io.BytesIO(PHOTO), "我的身份证.jpg")],
    }, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "已收到您反映的问题" in r.get_data(as_text=True)
    return r.get_data(as_text=True)


def every_byte_at_rest(desk: Desk) -> list[tuple[Path, bytes]]:
    desk.engine.dispose()  # let SQLite fold its WAL back; the WAL file is read too if it stays
    return [(p, p.read_bytes()) for p in Path(desk.settings.data_dir).rglob("*")
            if p.is_file() and p.parent.name != "keys"]


def test_named_report_leaves_nothing_readable(
    client: FlaskClient, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    named_report(client)
    files = every_byte_at_rest(desk)
    assert any(p.name == "intake.db" for p, _ in files) or PG_URL
    for path, data in files:
        for secret in [*SECRETS, "身份证照片"]:
            for encoding in ("utf-8", "utf-16-le", "gb18030"):
                assert secret.encode(encoding) not in data, (path, secret)
    for secret in SECRETS:
        assert secret not in caplog.text
    if PG_URL:  # the server's files are not ours to read: check what the database holds
        with desk.sessions() as s:
            row = s.scalar(select(m.Submission))
            dump = json.dumps([str(getattr(row, c.key)) for c in m.Submission.__table__.columns],
                              ensure_ascii=False)
        assert not any(secret in dump for secret in SECRETS)


def test_staff_see_masks_and_only_a_leader_reveals_with_reason(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    triager = staff_client(app, desk, "t1", "triager")
    page = triager.get("/staff/items/1").get_data(as_text=True)
    # roles that cannot reveal see only which fields were given, not even a mask
    assert "提供了姓名、联系电话、身份证号、住址/单位" in page
    assert "欧*" not in page and "139*" not in page
    assert not any(secret in page for secret in SECRETS)
    assert "查看身份" not in page
    token = csrf_token(triager, "/staff/items/1")
    assert triager.post("/staff/items/1/reveal", data={"csrf_token": token,
                                                       "reason": "需要答复"}).status_code == 403

    admin = staff_client(app, desk, "a1", "admin")
    assert admin.get("/staff/items/1").status_code == 403  # reads no item at all
    token = csrf_token(admin, "/staff/users")
    assert admin.post("/staff/items/1/reveal", data={"csrf_token": token,
                                                     "reason": "需要答复"}).status_code == 403

    leader = staff_client(app, desk, "l1", "team_leader")
    page = leader.get("/staff/items/1").get_data(as_text=True)
    assert "欧***" in page and "139******78" in page and "查看身份" in page
    assert not any(secret in page for secret in SECRETS)
    token = csrf_token(leader, "/staff/items/1")
    r = leader.post("/staff/items/1/reveal", data={"csrf_token": token, "reason": "看"})
    assert r.status_code == 400 and "理由" in r.get_data(as_text=True)
    r = leader.post("/staff/items/1/reveal",
                    data={"csrf_token": token, "reason": "实名举报，需电话答复受理情况"})
    assert r.status_code == 200
    assert all(secret in r.get_data(as_text=True) for secret in SECRETS)
    assert r.headers["Cache-Control"] == "no-store"
    with desk.sessions() as s:
        events = list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action ==
                                                           "identity.reveal")))
    assert [(e.actor_label, e.submission_id, e.reason) for e in events] == [
        ("l1", 1, "实名举报，需电话答复受理情况")]


def test_export_leaves_identity_out_unless_asked_and_audits_that(desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    ingest(desk, make_submission(text="匿名反映：镇长王海涛公车私用，周末开公车去钓鱼。"))
    plain = list(iter_export(desk))
    assert len(plain) == 2 and plain[0]["messages"] == []
    assert not any(secret in json.dumps(plain, ensure_ascii=False) for secret in SECRETS)
    assert plain[0]["classification"]["in_scope"] is True
    with desk.sessions() as s:
        assert not list(s.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export.with_identity")))
    full = list(iter_export(desk, with_identity=True, actor_label="cli:test"))
    assert full[0]["reporter"]["phone"] == NAMED_IDENTITY.phone
    assert "reporter" not in full[1]
    with desk.sessions() as s:
        events = list(s.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export.with_identity")))
    assert [e.actor_label for e in events] == ["cli:test"]


def test_attachment_download_is_safe_and_audited(app: Flask, desk: Desk) -> None:
    from intake.submission import IncomingFile

    ingest(desk, make_submission(attachments=(IncomingFile("现场.jpg", io.BytesIO(PHOTO)),)))
    triager = staff_client(app, desk, "t1", "triager")
    r = triager.get("/staff/attachments/1")
    assert r.status_code == 200 and r.data == PHOTO
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    # The uploaded name is sealed: the download is named by number and sniffed type.
    assert r.headers["Content-Disposition"].endswith("''%E9%99%84%E4%BB%B61.jpg")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    with desk.sessions() as s:
        actions = [e.action for e in s.scalars(select(m.AuditEvent))]
    assert "attachment.download" in actions
    assert FlaskClient(app).get("/staff/attachments/1").status_code == 302  # not logged in


def test_public_pages_carry_no_external_assets(client: FlaskClient) -> None:
    for path in ("/", "/report", "/status"):
        r = client.get(path)
        html = r.get_data(as_text=True)
        assert "http://" not in html and "https://" not in html, path
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "same-origin"


def test_failed_statements_and_engine_logs_carry_no_parameters(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    """hide_parameters: a failing statement's exception (which may end in a log or a traceback)
    and SQLAlchemy's own statement log never show the values bound to it."""
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with pytest.raises(DBAPIError) as failed, desk.sessions() as db:
        db.execute(text("INSERT INTO no_such_table (name, phone) VALUES (:name, :phone)"),
                   {"name": NAMED_IDENTITY.name, "phone": NAMED_IDENTITY.phone})
    assert "no_such_table" in str(failed.value)
    assert "SQL parameters hidden" in str(failed.value)
    assert "no_such_table" in caplog.text  # the statement log did run
    for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone):
        assert secret not in str(failed.value) and secret not in caplog.text
