"""Identity masked in every stored text and file name, by every channel; originals sealed and
shown only on a team leader's audited reveal; plain exports and the data folder carry none."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from intake import duty, letters
from intake.desk import Desk
from intake.export import iter_export
from intake.mail import Envelope, take_in
from intake.maskstore import backfill, open_name, open_text
from intake.ocrworker import run_pending
from intake.pipeline import add_reporter_message, ingest
from intake.protect import Identity
from intake.store import models as m
from tests.conftest import PG_URL
from tests.integration.test_cli import run as run_cli
from tests.integration.test_letters import FixedEngine, new_batch, png
from tests.support import csrf_token, make_submission, staff_client

NAME, PHONE, ID_NUMBER = "欧阳明远", "13912345678", "110101199003071233"
EMAIL, STRANGER_PHONE, CARD = "ouyang.my@example.cn", "13700001111", "6222021234567890128"
# Every string that must not be readable anywhere but in sealed records.
IDENTITY_STRINGS = [NAME, PHONE, ID_NUMBER, EMAIL, STRANGER_PHONE, CARD, "欧阳-139", "ouyang.my"]
REPORTER = Identity(name=NAME, phone=PHONE, id_number=ID_NUMBER)
TEXT = (f"本人{NAME}，身份证号{ID_NUMBER}，电话139 1234 5678，邮箱{EMAIL}。"
        "东岭村党支部书记刘德福把低保名额给了自己的亲戚，收了80000元，拨打过12345。"
        f"另一位知情人电话{STRANGER_PHONE}，补偿款打到卡号{CARD}。")
ANONYMOUS_TEXT = TEXT.replace(f"本人{NAME}，", "")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + \
    b"\xff\xd9"
FILE_NAME = f"欧阳-139{PHONE[3:]}\u202egpj.html"


def assert_masked(value: str) -> None:
    for secret in IDENTITY_STRINGS:
        assert secret not in value, (secret, value)


def web_report(client: FlaskClient) -> None:
    token = csrf_token(client, "/report")
    r = client.post("/report", data={
        "csrf_token": token, "title": f"{NAME}实名反映", "text": TEXT,
        "password": "my-secret-1", "anonymous": "false",
        "reporter_name": NAME, "reporter_phone": PHONE, "reporter_id_number": ID_NUMBER,
        "attachments": [(io.BytesIO(JPEG), FILE_NAME)],
    }, content_type="multipart/form-data")
    assert r.status_code == 200 and "已收到您反映的问题" in r.get_data(as_text=True)


def a_mail(subject: str, body: str, code: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{NAME} <{EMAIL}>"
    msg["To"] = "xcz1@intake.example.cn"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{len(body)}.{len(code)}@example.cn>"
    msg.set_content(body + (f"\n查询码：{code}" if code else ""))
    msg.add_attachment(JPEG, maintype="image", subtype="jpeg", filename=f"{NAME}-{PHONE}.jpg")
    return msg.as_bytes()


def mail_in(desk: Desk, raw: bytes) -> int:
    envelope = Envelope(peer="127.0.0.1", helo="example.cn", mail_from=EMAIL,
                        rcpt_tos=("xcz1@intake.example.cn",))
    return take_in(desk, raw, envelope).submission_id


def every_channel(desk: Desk, client: FlaskClient) -> dict[str, int]:
    """One item per channel, each carrying identity in its text and names; returns their ids."""
    ids: dict[str, int] = {}
    web_report(client)
    ids["web"] = 1
    # Anonymous: no name is declared (a name cannot be told by pattern), numbers still are.
    r = client.post("/api/v1/reports", json={"text": ANONYMOUS_TEXT, "password": "my-secret-2",
                                              "title": f"联系{STRANGER_PHONE}"})
    assert r.status_code == 201
    api = r.get_json()
    ids["api"] = 2
    r = client.post(f"/api/v1/reports/{api['code']}/messages",
                    json={"password": "my-secret-2", "text": f"补充：我的手机{PHONE}，卡{CARD}"})
    assert r.status_code in (200, 201), r.get_json()
    ids["email"] = mail_in(desk, a_mail(f"{NAME}反映：身份证{ID_NUMBER}", TEXT))
    call = duty.log_entry(desk, duty.DeskLog(
        channel="hotline", received_at=datetime(2026, 3, 5, 1, 30, tzinfo=UTC),
        text=f"来电人{NAME}称：{TEXT}", anonymous=False, identity=Identity(name=NAME, phone=PHONE)))
    ids["hotline"] = call.submission_id
    batch_id = new_batch(desk)
    letters.add_file(desk, batch_id, FILE_NAME, io.BytesIO(png()))
    letters.finish_batch(desk, batch_id)
    assert run_pending(desk, engine=FixedEngine(TEXT)) == 1
    with desk.sessions() as s:
        letter_id = s.scalars(select(m.ScanLetter.id)).one()
    ids["letter"] = letters.submit_letter(
        desk, letter_id, staff_id=None, staff_label="officer",
        signer=letters.Signer(NAME, PHONE)).submission_id
    return ids


def test_every_channel_stores_text_and_names_masked(
    app: Flask, client: FlaskClient, desk: Desk
) -> None:
    ids = every_channel(desk, client)
    with desk.sessions() as s:
        items = {row.channel: row for row in s.scalars(select(m.Submission))}
        assert set(items) == {"web", "api", "email", "hotline", "letter"}
        for row in items.values():
            assert_masked(row.title + row.text)
            assert "刘德福" in row.text and "80000元" in row.text and "12345" in row.text
            assert "［电话已隐去］" in row.text and "［银行卡号已隐去］" in row.text
            original = open_text(desk.keyring, row.original_sealed)
            # The original is sealed, whole; a letter's numbers were masked in its OCR text
            # already (its original is the scan, kept encrypted).
            assert (NAME in original["text"]) is (row.channel != "api")  # api: anonymous
            assert (STRANGER_PHONE in original["text"]) is (row.channel != "letter")
            assert_masked(json.dumps(row.current.evidence if row.current else [],
                                     ensure_ascii=False))
        assert "［姓名已隐去］" in items["web"].title
        assert "［身份证号已隐去］" in items["email"].title
        assert "［邮箱已隐去］" in items["email"].text
        for msg in s.scalars(select(m.Message)):
            assert_masked(msg.text)
            assert PHONE in open_text(desk.keyring, msg.original_sealed)["text"]
        atts = list(s.scalars(select(m.Attachment).order_by(m.Attachment.id)))
        shown = {(a.submission_id, a.original_name) for a in atts}
        assert (ids["web"], "附件1.jpg") in shown  # sniffed JPEG, not the .html it claimed
        assert (ids["email"], "附件1.jpg") in shown and (ids["letter"], "附件1.png") in shown
        for a in atts:
            assert_masked(a.original_name)
            assert a.name_sealed is not None and "\u202e" not in open_name(desk.keyring,
                                                                            a.name_sealed)
        for f in s.scalars(select(m.ScanFile)):
            assert f.original_name == "附件1.png"
        for page in s.scalars(select(m.ScanPage)):
            assert_masked(page.ocr_text) and "［电话已隐去］" in page.ocr_text
        for letter in s.scalars(select(m.ScanLetter)):
            assert_masked(letter.text or "")
    # No staff page shows them either, whatever the role.
    triager = staff_client(app, desk, "t1", "triager")
    for item_id in ids.values():
        assert_masked(triager.get(f"/staff/items/{item_id}").get_data(as_text=True))
    r = triager.get("/staff/attachments/1")
    assert r.headers["Content-Disposition"].endswith("''%E9%99%84%E4%BB%B61.jpg")  # 附件1.jpg


def test_web_follow_ups_are_masked_with_the_cases_identity(client: FlaskClient, desk: Desk) -> None:
    receipt = ingest(desk, make_submission(anonymous=False, identity=REPORTER,
                                           password="my-secret-1"))
    r = client.post("/status", data={"csrf_token": csrf_token(client, "/status"),
                                     "code": receipt.code, "password": "my-secret-1"})
    assert r.status_code == 302
    token = csrf_token(client, "/status/case")
    client.post("/status/case/message", data={"csrf_token": token,
                                               "text": f"我是{NAME}，电话139-1234-5678"})
    add_reporter_message(desk, receipt.code, "my-secret-1", f"身份证{ID_NUMBER}")
    with desk.sessions() as s:
        texts = [msg.text for msg in s.scalars(select(m.Message).order_by(m.Message.id))]
    assert texts == ["我是［姓名已隐去］，电话［电话已隐去］", "身份证［身份证号已隐去］"]


def test_a_follow_up_mail_is_masked_and_its_attachment_named_by_number(desk: Desk) -> None:
    case_id = mail_in(desk, a_mail("反映问题", "东岭村书记收钱。"))
    with desk.sessions() as s:
        case = s.get_one(m.Submission, case_id)
        assert_masked(case.text + case.title)
    # The code is only known to the reporter: give the case one we know.
    from intake.protect import hash_secret

    code = "1234567812345678"
    with desk.sessions() as s:
        case = s.get_one(m.Submission, case_id)
        case.code_lookup = desk.keyring.code_lookup(code)
        case.secret_hash = hash_secret(code, "x" * 10)
        s.commit()
    assert mail_in(desk, a_mail(f"补充 {NAME}", f"我的身份证{ID_NUMBER}", code)) == case_id
    with desk.sessions() as s:
        [msg] = s.scalars(select(m.Message)).all()
        assert_masked(msg.text) and "［身份证号已隐去］" in msg.text
        names = [a.original_name for a in s.scalars(
            select(m.Attachment).where(m.Attachment.submission_id == case_id)
            .order_by(m.Attachment.id))]
    assert names == ["附件1.jpg", "附件2.jpg"]  # numbered on through the case


def test_plain_export_has_no_identity_and_the_full_one_has_the_originals(
    client: FlaskClient, desk: Desk
) -> None:
    every_channel(desk, client)
    plain = json.dumps(list(iter_export(desk)), ensure_ascii=False)
    assert_masked(plain)
    full = list(iter_export(desk, with_identity=True, actor_label="cli:test"))
    web = next(r for r in full if r["channel"] == "web")
    assert STRANGER_PHONE in web["text"] and NAME in web["title"]
    assert web["attachments"][0]["name"] == "附件1.jpg"
    assert web["attachments"][0]["original_name"].startswith("欧阳-139")
    api = next(r for r in full if r["channel"] == "api")
    assert PHONE in api["messages"][0]["text"]


def test_only_a_team_leader_sees_the_originals_and_it_is_audited(
    app: Flask, client: FlaskClient, desk: Desk
) -> None:
    # An anonymous item whose text carried a number: what was hidden is still the reporter's.
    ingest(desk, make_submission(text=f"匿名反映：村支书收钱，我电话{STRANGER_PHONE}。",
                                 attachments=()))
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/reveal", data={"csrf_token": token, "reason": "核实情况需要"})
    assert r.status_code == 403
    leader = staff_client(app, desk, "l1", "team_leader")
    page = leader.get("/staff/items/1").get_data(as_text=True)
    assert "查看身份及原文" in page and STRANGER_PHONE not in page
    token = csrf_token(leader, "/staff/items/1")
    r = leader.post("/staff/items/1/reveal", data={"csrf_token": token, "reason": "需回访核实"})
    assert r.status_code == 200 and STRANGER_PHONE in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    with desk.sessions() as s:
        events = [(e.actor_label, e.submission_id, e.reason) for e in s.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == "identity.reveal"))]
    assert events == [("l1", 1, "需回访核实")]


def test_named_report_reveal_shows_identity_text_and_file_names(
    app: Flask, client: FlaskClient, desk: Desk
) -> None:
    web_report(client)
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, "/staff/items/1")
    page = leader.post("/staff/items/1/reveal",
                       data={"csrf_token": token, "reason": "实名件需答复"}).get_data(as_text=True)
    assert ID_NUMBER in page and STRANGER_PHONE in page and "欧阳-139" in page
    assert "\u202e" not in page


def test_nothing_identifying_is_readable_in_the_data_folder(
    client: FlaskClient, desk: Desk
) -> None:
    every_channel(desk, client)
    desk.engine.dispose()  # SQLite folds its WAL back; the WAL is read too if it stays
    files = [p for p in Path(desk.settings.data_dir).rglob("*")
             if p.is_file() and p.parent.name != "keys"]
    assert any(p.name == "intake.db" for p in files) or PG_URL
    for path in files:
        data = path.read_bytes()
        assert_masked(path.name)
        for secret in IDENTITY_STRINGS:
            for encoding in ("utf-8", "utf-16-le", "gb18030"):
                assert secret.encode(encoding) not in data, (path, secret)
    if PG_URL:  # the server's files are not ours to read: check what the database holds
        with desk.sessions() as s:
            for table in ("submissions", "messages", "attachments", "scan_files", "scan_pages",
                          "scan_letters", "classifications", "duplicate_links"):
                dump = json.dumps([list(map(str, row)) for row in s.execute(
                    text(f"SELECT * FROM {table}"))], ensure_ascii=False)
                assert_masked(dump)


def test_backfill_masks_rows_stored_before_masking(desk: Desk) -> None:
    receipt = ingest(desk, make_submission(anonymous=False, identity=REPORTER))
    with desk.sessions() as s:  # as a row looked before masking existed
        row = s.get_one(m.Submission, receipt.submission_id)
        row.text, row.title, row.original_sealed = TEXT, f"{NAME}反映", None
        s.add(m.Message(submission_id=row.id, author="reporter", text=f"手机{PHONE}"))
        s.add(m.Attachment(submission_id=row.id, sha256="0" * 64, size=1, storage_name="x",
                           original_name=FILE_NAME, content_type="image/png"))
        s.commit()
    counts = backfill(desk)
    assert (counts.items, counts.messages, counts.attachments) == (1, 1, 1)
    with desk.sessions() as s:
        row = s.get_one(m.Submission, receipt.submission_id)
        assert_masked(row.text + row.title)
        assert open_text(desk.keyring, row.original_sealed) == {"title": f"{NAME}反映",
                                                                "text": TEXT}
        [att] = row.attachments
        assert att.original_name == "附件1.png"
        assert open_name(desk.keyring, att.name_sealed).startswith("欧阳-139")
    assert backfill(desk).total() == 0  # a second run changes nothing


def test_backfill_command_masks_and_compacts(desk: Desk) -> None:
    receipt = ingest(desk, make_submission())
    with desk.sessions() as s:
        s.get_one(m.Submission, receipt.submission_id).text = f"我电话{PHONE}"
        s.commit()
    r = run_cli(["protect", "backfill"], desk)
    assert r.returncode == 0, r.stderr
    assert "已隐去身份信息：1 件正文或标题" in r.stdout and "--rebuild" in r.stdout
    desk.engine.dispose()
    if not PG_URL:  # the replaced text is gone from the file too, not just from the row
        assert PHONE.encode() not in (desk.settings.data_dir / "intake.db").read_bytes()
