"""What is audited, through the code paths staff really use, and the audit page: Chinese labels,
search by actor, action, item and dates, keyset pages, the CSV export (itself audited)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import Flask
from PIL import Image
from sqlalchemy import select

from intake import letters
from intake.audit import db_record
from intake.desk import Desk
from intake.export import iter_export
from intake.mail import Envelope, take_in
from intake.pipeline import ingest
from intake.store import models as m
from intake.store.db import begin_write
from tests.support import NAMED_IDENTITY, csrf_token, make_submission, staff_client

ROW = '<tr><td data-label="序号">'  # an event's row on the audit page


def events(desk: Desk, action: str | None = None) -> list[m.AuditEvent]:
    with desk.sessions() as s:
        stmt = select(m.AuditEvent).order_by(m.AuditEvent.seq)
        if action:
            stmt = stmt.where(m.AuditEvent.action == action)
        return list(s.scalars(stmt))


def add_event(desk: Desk, action: str, label: str, **kwargs: object) -> None:
    with desk.sessions() as s:
        begin_write(s)
        db_record(s, action, actor_label=label, **kwargs)  # type: ignore[arg-type]
        s.commit()


# -- newly audited events, by their real code paths -----------------------------------------


def test_refused_reveals_are_audited(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/reveal", data={"csrf_token": token, "reason": "需要答复"})
    assert r.status_code == 403
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, "/staff/items/1")
    assert leader.post("/staff/items/1/reveal",
                       data={"csrf_token": token, "reason": "看"}).status_code == 400
    assert triager.post("/staff/items/99999/reveal",
                        data={"csrf_token": csrf_token(triager, "/staff/"),
                              "reason": "需要答复"}).status_code == 403
    refused = [(e.actor_label, e.submission_id, e.reason, e.detail["refused"])
               for e in events(desk, "identity.reveal.refused")]
    assert refused == [("t1", 1, "需要答复", "role"), ("l1", 1, "看", "reason"),
                       ("t1", None, "需要答复", "role")]
    assert events(desk, "identity.reveal") == []


def test_a_refused_raw_mail_download_is_audited(app: Flask, desk: Desk) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "zhang@example.com", desk.round.mailbox, "反映"
    mail.set_content("镇长王海涛公车私用，周末开公车去钓鱼。")
    outcome = take_in(desk, mail.as_bytes(),
                      Envelope(mail_from="zhang@example.com", rcpt_tos=(desk.round.mailbox,)))
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, f"/staff/items/{outcome.submission_id}")
    r = triager.post(f"/staff/mails/{outcome.inbound_id}/raw",
                     data={"csrf_token": token, "reason": "核实来信"})
    assert r.status_code == 403
    [event] = events(desk, "mail.raw_download.refused")
    assert (event.actor_label, event.detail) == (
        "t1", {"refused": "role", "inbound_mail_id": outcome.inbound_id})


def test_a_reply_to_the_reporter_is_audited(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/reply", data={"csrf_token": token,
                                                   "text": "已收到，正在核实。"})
    assert r.status_code == 302
    [event] = events(desk, "reply.send")
    with desk.sessions() as s:
        message = s.scalars(select(m.Message)).one()
    assert (event.actor_label, event.submission_id, event.detail) == (
        "t1", 1, {"message_id": message.id})


def test_a_plain_export_is_audited_too(desk: Desk) -> None:
    ingest(desk, make_submission())
    assert len(list(iter_export(desk, actor_label="cli:test"))) == 1
    [event] = events(desk, "export.plain")
    assert event.actor_label == "cli:test" and events(desk, "export.with_identity") == []


def test_a_readable_scan_page_view_is_audited_a_thumbnail_is_not(app: Flask, desk: Desk) -> None:
    batch_id = letters.create_batch(desk, source="postal", box="", note="", staff_id=None,
                                    opened_at=datetime(2026, 3, 9, tzinfo=UTC))
    image = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(image, "PNG")
    letters.add_file(desk, batch_id, "来信.png", io.BytesIO(image.getvalue()))
    with desk.sessions() as s:
        page = s.scalars(select(m.ScanPage)).one()
    officer = staff_client(app, desk, "d1", "duty_officer")
    assert officer.get(f"/staff/letters/pages/{page.id}/image?w=240").status_code == 200
    assert events(desk, "scan.page_view") == []
    assert officer.get(f"/staff/letters/pages/{page.id}/image").status_code == 200
    [event] = events(desk, "scan.page_view")
    assert event.actor_label == "d1"
    assert event.detail == {"batch_id": batch_id, "scan_page_id": page.id}


def test_model_activation_is_audited(tmp_path: Path) -> None:
    from tests.integration.test_train import write_rows

    data_dir = tmp_path / "data"
    env = {**os.environ, "INTAKE_DATA_DIR": str(data_dir)}
    env.pop("INTAKE_DATABASE_URL", None)
    intake = [sys.executable, "-m", "intake.cli"]
    r = subprocess.run([*intake, "train", "--data", str(write_rows(tmp_path / "rows.jsonl")),
                        "--no-db"], capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
    version = next(line for line in r.stdout.splitlines() if "已训练模型" in line).split()[1]
    version = version.split("，")[0]
    r = subprocess.run([*intake, "models", "use", version], capture_output=True, text=True,
                       env=env, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*intake, "audit", "verify"], capture_output=True, text=True, env=env,
                       timeout=120, check=False)
    assert r.returncode == 0 and "已校验 2 条" in r.stdout, r.stdout + r.stderr
    from intake.desk import open_desk
    from intake.settings import Settings

    desk = open_desk(Settings(data_dir=data_dir))
    try:
        activated = events(desk, "model.activate")
    finally:
        desk.close()
    assert [e.detail for e in activated] == [{"version": version, "trained": True},
                                             {"version": version}]
    assert all(e.actor_label.startswith("cli:") for e in activated)


# -- the page -------------------------------------------------------------------------------


def test_the_page_is_in_chinese_and_only_for_leaders_and_auditors(app: Flask,
                                                                  desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    add_event(desk, "identity.reveal", "l1", submission_id=1, reason="实名举报需答复")
    add_event(desk, "login.failed", "someone")
    add_event(desk, "some.new_code", "x")
    triager = staff_client(app, desk, "t1", "triager")
    assert triager.get("/staff/audit/").status_code == 403
    leader = staff_client(app, desk, "l1", "team_leader")
    page = leader.get("/staff/audit/").get_data(as_text=True)
    # A team leader sees what concerns the team's items and members, not the whole service.
    assert "查看举报人身份" in page and "实名举报需答复" in page
    assert "some.new_code" not in page and ">someone<" not in page
    assert ">identity.reveal<" not in page  # the code only as a tooltip
    auditor = staff_client(app, desk, "au1", "auditor")
    page = auditor.get("/staff/audit/").get_data(as_text=True)
    assert "查看举报人身份" in page and "登录失败" in page and "some.new_code" in page
    assert "实名举报需答复" in page and "审计链尚未校验过" in page
    # The administrator is the one audited (三员分立): no audit page, no items.
    admin = staff_client(app, desk, "a1", "admin")
    assert admin.get("/staff/audit/").status_code == 403
    assert auditor.get("/staff/items/1").status_code == 403
    item = leader.get("/staff/items/1").get_data(as_text=True)
    assert "l1 查看举报人身份" in item


def test_the_page_filters_and_pages_by_keyset(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    for i in range(60):
        add_event(desk, "item.view", f"reader{i % 2}", submission_id=1 if i % 3 == 0 else None)
    add_event(desk, "decision.confirm", "t9", submission_id=1)
    leader = staff_client(app, desk, "l1", "auditor")

    def rows(query: str) -> list[str]:
        page = leader.get(f"/staff/audit/?{query}").get_data(as_text=True)
        return [line for line in page.split("<tr>") if line.startswith("<td data-label")]

    assert len(rows("actor=READER1")) == 30
    assert all("reader1" in r for r in rows("actor=reader1"))
    assert len(rows("action=decision.confirm")) == 1
    assert len(rows("item=1")) == 21 and len(rows("item=%231&action=item.view")) == 20
    today = datetime.now(UTC).astimezone(__import__("intake.workdays").workdays.CHINA).date()
    assert len(rows(f"since={today}&until={today}&action=decision.confirm")) == 1
    assert rows(f"until={today - timedelta(days=1)}") == []
    assert rows(f"since={today + timedelta(days=1)}") == []
    assert "日期格式" in leader.get("/staff/audit/?since=03/05").get_data(as_text=True)

    first = leader.get("/staff/audit/?actor=reader").get_data(as_text=True)
    assert first.count(ROW) == 50
    cursor = first.split("cursor=")[1].split("&")[0].split('"')[0]
    second = leader.get(f"/staff/audit/?actor=reader&cursor={cursor}").get_data(as_text=True)
    assert second.count(ROW) == 10 and "cursor=" not in second
    seqs = [int(r.split(">")[1].split("<")[0]) for r in
            (first.split("<tr>") + second.split("<tr>")) if r.startswith("<td data-label")]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 60


def test_csv_export_opens_in_excel_and_is_audited(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    add_event(desk, "identity.reveal", "l1", submission_id=1, reason="=HYPERLINK(\"x\")")
    add_event(desk, "item.view", "t1", submission_id=1)
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, "/staff/audit/")
    r = leader.post("/staff/audit/export", data={"csrf_token": token, "item": "1"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0][:4] == ["序号", "时间（北京时间）", "操作人", "操作"]
    assert [row[3] for row in table[1:]] == ["查看举报人身份", "查看件"]
    assert table[1][6] == "'=HYPERLINK(\"x\")"  # shown as text, never run as a formula
    [export] = events(desk, "audit.export")
    assert (export.actor_label, export.detail) == ("l1", {"item": 1})
    assert leader.post("/staff/audit/export", data={"item": "1"}).status_code == 400  # CSRF
    triager = staff_client(app, desk, "t1", "triager")
    assert triager.post("/staff/audit/export",
                        data={"csrf_token": csrf_token(triager, "/staff/")}).status_code == 403


def test_the_page_verifies_the_chain_on_request(app: Flask, desk: Desk) -> None:
    add_event(desk, "item.view", "t1")
    leader = staff_client(app, desk, "l1", "auditor")
    token = csrf_token(leader, "/staff/audit/")
    page = leader.post("/staff/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "审计链完好" in page
    page = leader.get("/staff/audit/").get_data(as_text=True)
    assert "上次校验" in page


# -- fixes after the outside probe ----------------------------------------------------------


def test_export_with_an_action_filter_is_audited_with_the_filter(app: Flask, desk: Desk) -> None:
    add_event(desk, "decision.confirm", "t9")
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, "/staff/audit/")
    r = leader.post("/staff/audit/export", data={"csrf_token": token,
                                                 "action": "decision.confirm"})
    assert r.status_code == 200
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [row[4] for row in table[1:]] == ["decision.confirm"]
    [export] = events(desk, "audit.export")
    assert export.detail == {"filter_action": "decision.confirm"}


def test_detail_keys_named_like_parameters_never_raise(desk: Desk) -> None:
    with desk.sessions() as s:
        begin_write(s)
        db_record(s, "item.view", actor_label="x", action="a", session="s")
        db_record(s, "item.view", actor_label="y",
                  details={"reason": "r", "actor_label": "z", "submission_id": 5})
        s.commit()
    first, second = events(desk, "item.view")
    assert (first.actor_label, first.detail) == ("x", {"action": "a", "session": "s"})
    assert (second.actor_label, second.reason, second.submission_id) == ("y", "", None)
    assert second.detail == {"reason": "r", "actor_label": "z", "submission_id": 5}


def test_reveal_reasons_are_masked_and_capped_on_record(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, "/staff/items/1")
    r = leader.post("/staff/items/1/reveal",
                    data={"csrf_token": token, "reason": "我看看欧阳明远13912345678是谁"})
    assert r.status_code == 200
    [shown] = events(desk, "identity.reveal")
    assert shown.reason == "我看看［姓名已隐去］［电话已隐去］是谁"

    long = "我看看张三13912345678是谁" + "啊" * 3000
    r = leader.post("/staff/items/1/reveal", data={"csrf_token": token, "reason": long})
    assert r.status_code == 400 and "200 字以内" in r.get_data(as_text=True)
    triager = staff_client(app, desk, "t1", "triager")
    r = triager.post("/staff/items/1/reveal",
                     data={"csrf_token": csrf_token(triager, "/staff/items/1"),
                           "reason": "欧阳明远 电话 13912345678"})
    assert r.status_code == 403
    too_long, by_role = events(desk, "identity.reveal.refused")
    assert too_long.detail["refused"] == "reason" and len(too_long.reason) == 200
    assert too_long.reason.startswith("我看看张三［电话已隐去］是谁啊")
    assert too_long.reason.endswith("…") and "13912345678" not in too_long.reason
    # A refusal never opens the identity: the patterns alone hide the number.
    assert by_role.reason == "欧阳明远 电话 ［电话已隐去］"
    assert len(events(desk, "identity.reveal")) == 1


def test_a_raw_mail_download_reason_is_masked(app: Flask, desk: Desk) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "zhang@example.com", desk.round.mailbox, "反映"
    mail.set_content("镇长王海涛公车私用，周末开公车去钓鱼。")
    outcome = take_in(desk, mail.as_bytes(),
                      Envelope(mail_from="zhang@example.com", rcpt_tos=(desk.round.mailbox,)))
    leader = staff_client(app, desk, "l1", "team_leader")
    token = csrf_token(leader, f"/staff/items/{outcome.submission_id}")
    r = leader.post(f"/staff/mails/{outcome.inbound_id}/raw",
                    data={"csrf_token": token, "reason": "核实 zhang@example.com 的来信"})
    assert r.status_code == 200
    [event] = events(desk, "mail.raw_download")
    assert event.reason == "核实 ［邮箱已隐去］ 的来信"


def test_details_are_shown_in_chinese(app: Flask, desk: Desk) -> None:
    add_event(desk, "login.success", "l9", address="127.0.0.1", second_factor=False)
    add_event(desk, "password.change", "l9", sessions_ended=0)
    add_event(desk, "export.plain", "cli:x", since=None)
    add_event(desk, "audit.export", "l9", filter_action="decision.confirm", odd_key="v")
    leader = staff_client(app, desk, "l1", "auditor")
    page = leader.get("/staff/audit/").get_data(as_text=True)
    assert "地址：127.0.0.1；两步验证：否" in page and "结束会话数：0" in page
    assert "操作：确认研判建议；odd_key：v" in page
    [plain] = [row for row in page.split("<tr>") if ">cli:x<" in row]
    assert '<td data-label="详情" class="detail"></td>' in plain  # since=None left out
    assert "None" not in page and "address=" not in page


def test_each_action_label_is_offered_once_and_matches_all_its_codes(
    app: Flask, desk: Desk
) -> None:
    add_event(desk, "staff.password_change", "old")
    add_event(desk, "password.change", "new")
    add_event(desk, "login.success", "other")
    leader = staff_client(app, desk, "l1", "auditor")
    page = leader.get("/staff/audit/").get_data(as_text=True)
    assert page.count(">修改密码</option>") == 1
    for code in ("password.change", "staff.password_change"):
        found = leader.get(f"/staff/audit/?action={code}").get_data(as_text=True)
        assert found.count(ROW) == 2 and ">修改密码</option>" in found
        assert 'selected>修改密码</option>' in found


def test_search_by_the_actors_display_name(app: Flask, desk: Desk) -> None:
    from intake.staff import create_user

    user, _ = create_user(desk, "zhangsan", "triager", display_name="张三丰")
    add_event(desk, "item.view", "zhangsan", actor_id=user.id)
    add_event(desk, "item.view", "lisi")
    leader = staff_client(app, desk, "l1", "team_leader")
    for query in ("张三", "ZhangSan"):
        page = leader.get(f"/staff/audit/?actor={query}").get_data(as_text=True)
        assert page.count(ROW) == 1 and ">zhangsan<" in page
