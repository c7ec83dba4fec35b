"""The public API contract of service.md, through the real app and database."""

from __future__ import annotations

import gc
import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from intake.desk import Desk
from intake.maskstore import open_name
from intake.store import models as m

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
       b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
REPORT = {"text": "南河村党总支书记马德才在青苗补偿款发放中克扣村民钱款，每亩少发两百元。",
          "password": "my-secret-1"}


def count(desk: Desk, model: type) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_json_report_status_and_follow_up(client: FlaskClient, desk: Desk) -> None:
    r = client.post("/api/v1/reports", json=REPORT)
    assert r.status_code == 201
    body = r.get_json()
    assert re.fullmatch(r"\d{16,}", body["code"])
    assert body["received_at"].endswith("+00:00")

    status = client.post(f"/api/v1/reports/{body['code']}/status",
                         json={"password": REPORT["password"]})
    assert status.status_code == 200
    got = status.get_json()
    assert got["code"] == body["code"] and got["status"] == "received"
    assert got["received_at"] == body["received_at"] and got["messages"] == []

    more = "补充：还有二组的王大爷也被扣了。"
    r = client.post(f"/api/v1/reports/{body['code']}/messages",
                    json={"password": REPORT["password"], "text": more})
    assert r.status_code == 201
    messages = client.post(f"/api/v1/reports/{body['code']}/status",
                           json={"password": REPORT["password"]}).get_json()["messages"]
    assert [(x["from"], x["text"]) for x in messages] == [("reporter", more)]


def test_wrong_code_and_wrong_password_look_the_same(client: FlaskClient) -> None:
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    wrong_password = client.post(f"/api/v1/reports/{code}/status", json={"password": "nope-nope"})
    other = "1" + code[1:] if code[0] != "1" else "2" + code[1:]
    wrong_code = client.post(f"/api/v1/reports/{other}/status",
                             json={"password": REPORT["password"]})
    assert wrong_password.status_code == wrong_code.status_code == 404
    assert wrong_password.get_json() == wrong_code.get_json()
    r = client.post(f"/api/v1/reports/{other}/messages",
                    json={"password": REPORT["password"], "text": "x"})
    assert r.status_code == 404


def test_code_is_stored_nowhere(client: FlaskClient, desk: Desk, settings) -> None:
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    desk.engine.dispose()
    for path in Path(settings.data_dir).rglob("*"):
        if path.is_file():
            assert code.encode() not in path.read_bytes(), path
    with desk.sessions() as s:
        row = s.scalar(select(m.Submission))
        assert code not in row.secret_hash and code not in row.code_lookup


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "my-secret-1"}, "text"),
        ({"text": "   \n ", "password": "my-secret-1"}, "text"),
        ({"text": "有问题"}, "password"),
        ({"text": "有问题", "password": "12345"}, "password"),
        ({"text": "有问题", "password": "my-secret-1", "anonymous": "maybe"}, "anonymous"),
        ({"text": "有问题", "password": "my-secret-1", "anonymous": False}, "reporter_name"),
        ({"text": "有问题", "password": "my-secret-1", "anonymous": False,
          "reporter_name": "张三"}, "reporter_phone"),
        ({"text": "有问题", "password": "my-secret-1", "reporter_phone": "139"}, "anonymous"),
        ({"text": "有问题", "password": "my-secret-1", "category": "gossip"}, "category"),
        ({"text": "有问题", "password": "my-secret-1", "subject_name": "张" * 101},
         "subject_name"),
        ({"text": ["a"], "password": "my-secret-1"}, "text"),
        ({"text": "字" * 5001, "password": "my-secret-1"}, "text"),
    ],
)
def test_invalid_fields_are_named_in_chinese(
    client: FlaskClient, desk: Desk, body: dict, field: str
) -> None:
    r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", err["message"])
    assert count(desk, m.Submission) == 0


def test_not_json_object(client: FlaskClient) -> None:
    r = client.post("/api/v1/reports", data="[1, 2", content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == "body"


def test_multipart_with_attachments(client: FlaskClient, desk: Desk, settings) -> None:
    pdf = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n"
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), "现场照片.png"),
                                      (io.BytesIO(pdf), "../../etc/名单.pdf")]}
    r = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    with desk.sessions() as s:
        atts = list(s.scalars(select(m.Attachment).order_by(m.Attachment.id)))
    assert [(a.original_name, a.content_type, a.size) for a in atts] == [
        ("附件1.png", "image/png", len(PNG)),
        ("附件2.pdf", "application/pdf", len(pdf)),
    ]
    # The uploaded names (base name only) are sealed, for a team leader's reveal.
    assert [open_name(desk.keyring, a.name_sealed) for a in atts] == ["现场照片.png", "名单.pdf"]
    stored = desk.files.path_of(atts[0].storage_name).read_bytes()
    assert PNG not in stored and atts[0].sha256 not in str(desk.files.path_of(atts[0].storage_name))
    assert b"".join(desk.files.read(atts[0].storage_name)) == PNG


def test_a_file_without_a_name_is_kept_and_an_empty_input_is_not(
    client: FlaskClient, desk: Desk
) -> None:
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), ""), (io.BytesIO(b""), "")]}
    r = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    with desk.sessions() as s:
        atts = list(s.scalars(select(m.Attachment)))
    assert [(a.original_name, a.size) for a in atts] == [("附件1.png", len(PNG))]


# Werkzeug gives up on the form when the field passes the limit and leaves its spooled part to
# the garbage collector; collected here, so its warning stays with this test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_field_too_long_is_named_as_such(client: FlaskClient) -> None:
    data = {**REPORT, "title": "长" * (1024 * 1024)}
    r = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    status, message = r.status_code, r.get_json()["error"]["message"]
    del r  # the response holds the request, and the request its input
    gc.collect()
    assert status == 413 and "某一项文字过长" in message


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "photo.jpg"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "evidence.pdf"),
        (b"", "empty.png"),
    ],
)
def test_disallowed_content_is_refused_and_nothing_stored(
    client: FlaskClient, desk: Desk, settings, content: bytes, name: str
) -> None:
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), "ok.png"), (io.BytesIO(content), name)]}
    r = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == "attachments"
    assert name in r.get_json()["error"]["message"]
    assert count(desk, m.Submission) == 0 and count(desk, m.Attachment) == 0


def test_too_many_attachments(client: FlaskClient, desk: Desk) -> None:
    files = [(io.BytesIO(PNG), f"{i}.png") for i in range(5)]
    r = client.post("/api/v1/reports", data={**REPORT, "attachments": files},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "最多上传 4 个附件" in r.get_json()["error"]["message"]


def test_oversized_attachment_and_body(desk: Desk) -> None:
    from dataclasses import replace

    from handlers.web import create_app

    # Kept under 500 KB: the test client spools larger bodies to files it never closes.
    settings = replace(desk.settings, max_attachment_bytes=300 * 1024)
    client = create_app(settings, desk=replace(desk, settings=settings)).test_client()
    big = PNG + b"\0" * (300 * 1024)
    r = client.post("/api/v1/reports", data={**REPORT, "attachments": [(io.BytesIO(big), "a.png")]},
                    content_type="multipart/form-data")
    assert r.status_code == 413 and "超过 300 KB" in r.get_json()["error"]["message"]
    assert r.get_json()["error"]["field"] == "attachments"
    assert not list((settings.data_dir / "attachments").rglob("*/*/*"))  # no half file left
    huge = b"\0" * (settings.max_request_bytes + 1)
    r = client.post("/api/v1/reports", data=huge, content_type="multipart/form-data; boundary=x")
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "too_large"
    assert count(desk, m.Submission) == 0


def test_busy_address_is_asked_for_work_not_refused(desk: Desk) -> None:
    from dataclasses import replace

    from handlers.web import create_app

    settings = replace(desk.settings, pow_threshold=2, pow_min_bits=4)
    client = create_app(settings, desk=desk).test_client()
    assert [client.post("/api/v1/reports", json=REPORT).status_code for _ in range(3)] == [
        201, 201, 429]
    body = client.post("/api/v1/reports", json=REPORT).get_json()
    assert body["error"]["code"] == "work_required" and body["challenge"] and body["bits"] == 4


def test_attempts_on_one_code_share_one_budget_across_pages_and_apis(desk: Desk) -> None:
    from dataclasses import replace

    from handlers.web import create_app
    from tests.support import csrf_token

    settings = replace(desk.settings, code_attempt_limit="4 per day",
                       status_failure_limit="100 per day")
    client = create_app(settings, desk=desk).test_client()
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    ok = {"password": REPORT["password"]}
    assert client.post(f"/api/v1/reports/{code}/status", json=ok).status_code == 200
    assert client.post(f"/api/v1/reports/{code}/status", json={"password": "guess-1"},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 404
    assert client.post(f"/api/v1/reports/{code}/messages", json={"password": "guess-2",
                       "text": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 404
    token = csrf_token(client, "/status")
    page = client.post("/status", data={"csrf_token": token, "code": code, "password": "g-3"},
                       environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert page.status_code == 404
    # the fifth attempt on this code, from yet another address, through any door, is refused
    assert client.post(f"/api/v1/reports/{code}/status", json=ok,
                       environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code == 429


def test_failed_lookups_are_limited_per_address(desk: Desk) -> None:
    from dataclasses import replace

    from handlers.web import create_app

    settings = replace(desk.settings, status_failure_limit="3 per minute")
    client = create_app(settings, desk=desk).test_client()
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    ok = {"password": REPORT["password"]}
    assert all(client.post(f"/api/v1/reports/{code}/status", json=ok).status_code == 200
               for _ in range(4))  # successes are not failures
    guesses = [client.post(f"/api/v1/reports/{i:016d}/status", json=ok).status_code
               for i in range(4)]
    assert guesses == [404, 404, 404, 429]


@pytest.mark.parametrize("typed", ["{}", "{:s}", " {} \n", "{:fullwidth}"])
def test_codes_are_read_as_people_type_them(client: FlaskClient, typed: str) -> None:
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    grouped = " ".join(code[i:i + 4] for i in range(0, 16, 4))
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code)
    text = typed.replace("{:fullwidth}", fullwidth).replace("{:s}", grouped).replace("{}", code)
    from urllib.parse import quote

    r = client.post(f"/api/v1/reports/{quote(text)}/status", json={"password": REPORT["password"]})
    assert r.status_code == 200


@pytest.mark.parametrize("code", ["12", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦", "²" * 16, "1" * 40])
def test_odd_codes_are_simply_not_found(client: FlaskClient, code: str) -> None:
    from urllib.parse import quote

    r = client.post(f"/api/v1/reports/{quote(code)}/status", json={"password": "whatever"})
    assert r.status_code == 404


def test_unencodable_password_is_a_clear_error(client: FlaskClient) -> None:
    body = '{"text": "有问题", "password": "\\ud800abcdef"}'
    r = client.post("/api/v1/reports", data=body, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "password"
    code = client.post("/api/v1/reports", json=REPORT).get_json()["code"]
    r = client.post(f"/api/v1/reports/{code}/status", data='{"password": "\\ud800abcdef"}',
                    content_type="application/json")
    assert r.status_code == 404


def test_json_nulls_mean_not_given(client: FlaskClient) -> None:
    r = client.post("/api/v1/reports", json={**REPORT, "title": None, "subject_name": None,
                                             "category": None})
    assert r.status_code == 201


def test_files_under_another_name_are_refused_not_dropped(client: FlaskClient, desk: Desk) -> None:
    r = client.post("/api/v1/reports", data={**REPORT, "file": [(io.BytesIO(PNG), "a.png")]},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "attachments" in r.get_json()["error"]["message"]
    assert count(desk, m.Submission) == 0


def test_a_refused_file_takes_the_accepted_ones_with_it(
    client: FlaskClient, desk: Desk, settings
) -> None:
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), "ok.png"),
                                      (io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), "x.jpg")]}
    assert client.post("/api/v1/reports", data=data,
                       content_type="multipart/form-data").status_code == 400
    assert [p for p in (settings.data_dir / "attachments").rglob("*") if p.is_file()] == []
    # a file already stored for another item is never removed by someone else's failure
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), "ok.png")]}
    assert client.post("/api/v1/reports", data=data,
                       content_type="multipart/form-data").status_code == 201
    data = {**REPORT, "attachments": [(io.BytesIO(PNG), "again.png"),
                                      (io.BytesIO(b"plain text"), "x.jpg")]}
    assert client.post("/api/v1/reports", data=data,
                       content_type="multipart/form-data").status_code == 400
    with desk.sessions() as s:
        att = s.scalar(select(m.Attachment))
    assert b"".join(desk.files.read(att.storage_name)) == PNG


def test_each_app_keeps_its_own_limits_without_redis(desk: Desk, tmp_path: Path) -> None:
    from dataclasses import replace

    from handlers.web import create_app

    settings = replace(desk.settings, pow_threshold=1, ratelimit_storage_uri="memory://")
    first = create_app(settings, desk=desk).test_client()
    second = create_app(settings, desk=desk).test_client()
    assert first.post("/api/v1/reports", json=REPORT).status_code == 201
    assert second.post("/api/v1/reports", json=REPORT).status_code == 201
    assert first.post("/api/v1/reports", json=REPORT).status_code == 429


def test_bad_limit_settings_stop_start_up(desk: Desk) -> None:
    from dataclasses import replace

    from handlers.web import create_app
    from intake.settings import SettingsError

    with pytest.raises(SettingsError, match="message_rate_limit"):
        create_app(replace(desk.settings, message_rate_limit="lots"), desk=desk)
