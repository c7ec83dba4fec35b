"""The retention rule: an archived round's identities, originals and texts destroyed when its
keeping time is over, counts kept, a record in the audit trail; other rounds untouched."""

from __future__ import annotations

import dataclasses
import io
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select, text

from intake import leads, letters
from intake.desk import Desk
from intake.mail import Envelope, take_in
from intake.pipeline import add_reporter_message_to, add_team_message, find_case, ingest
from intake.protect import Identity
from intake.retention import purge_due
from intake.rounds import load_files, set_state
from intake.staff import create_user
from intake.store import models as m
from intake.store.models import PURGED_TEXT, utcnow
from intake.submission import CaseNotFoundError, IncomingFile
from intake.triage import Actor
from tests.channels.mailserver import chinese_mail
from tests.conftest import PG_URL
from tests.support import NAMED_IDENTITY, make_submission, staff_client
from tests.two_teams import second_round_file

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 600
SECRET_PHRASE = "账目三年没有公开"  # in round one's texts only
OTHER_PHRASE = "南湖村的扶贫资金被挪用"  # round two's text


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), color).save(out, "PNG")
    return out.getvalue()


def second_round(tmp_path: Path, desk: Desk) -> int:
    path = second_round_file(tmp_path)
    [loaded] = load_files(desk.sessions, [path])
    desk.rounds.refresh(force=True)
    return loaded.round_id


@pytest.fixture
def two_rounds(desk: Desk, tmp_path: Path) -> dict[str, object]:
    """Round one (the example) with a named web report and its attachment and messages, an
    e-mail, a scanned letter; round two with a report sharing round one's attachment."""
    first = desk.rounds.all()[0]
    officer, _ = create_user(desk, "officer", "duty_officer", password="long-enough-pw",
                             teams=[first.team])
    web = ingest(desk, make_submission(
        round_id=first.id, title="反映刘德福", anonymous=False, identity=NAMED_IDENTITY,
        text=f"我是欧阳明远，电话13912345678。刘德福把低保名额给了亲戚，{SECRET_PHRASE}。",
        subject_name="刘德福", subject_post="村支书",
        attachments=(IncomingFile("现场照片.jpg", io.BytesIO(JPEG)),)))
    add_reporter_message_to(desk, web.submission_id, f"补充：{SECRET_PHRASE}，还有白条。")
    add_team_message(desk, web.submission_id, officer.id, "已收到，正在核实。")
    keeper, _ = create_user(desk, "keeper", "triager", password="long-enough-pw",
                            teams=[first.team])
    actor = Actor(keeper.id, "keeper", "triager")
    moved = leads.transfer(desk, actor, web.submission_id, department="civil_affairs",
                           part=f"低保部分：{SECRET_PHRASE}", note=f"请核查{SECRET_PHRASE}")
    leads.add_reply(desk, actor, moved, kind="accepted", text=f"已受理：{SECRET_PHRASE}")
    mail = take_in(desk, chinese_mail(body=f"东岭村会计林小燕{SECRET_PHRASE}。",
                                      attachment=("照片.jpg", png("red"))).as_bytes(),
                   Envelope(peer="127.0.0.1", mail_from="zhang@example.com",
                            rcpt_tos=("xcz1@intake.example.cn",)))
    batch_id = letters.create_batch(desk, source="postal", box="", opened_at=utcnow(),
                                    note="邮局取信", staff_id=officer.id)
    letters.add_file(desk, batch_id, "来信扫描.png", io.BytesIO(png("white")))
    letters.finish_batch(desk, batch_id)
    with desk.sessions() as session:
        [letter_id] = session.scalars(select(m.ScanLetter.id).where(
            m.ScanLetter.batch_id == batch_id))
        session.execute(text("UPDATE scan_pages SET ocr_text = :t"),
                        {"t": f"来信：{SECRET_PHRASE}"})
        session.commit()
    scanned = letters.submit_letter(
        desk, letter_id, staff_id=officer.id, staff_label="officer", partial_ok=True,
        text=f"来信人王某：{SECRET_PHRASE}。", signer=letters.Signer(name="王某某"))
    second_id = second_round(tmp_path, desk)  # (a scan batch still files under the one round)
    other = ingest(desk, make_submission(
        round_id=second_id, text=f"{OTHER_PHRASE}，村主任不管。",
        attachments=(IncomingFile("同一张照片.jpg", io.BytesIO(JPEG)),)))
    return {"first": first.slug, "second_id": second_id, "web": web.submission_id,
            "web_code": web.code,
            "mail": mail.submission_id, "letter": scanned.submission_id,
            "other": other.submission_id, "batch": batch_id}


def archive(desk: Desk, slug: str) -> None:
    set_state(desk.sessions, slug, "closed", actor_label="test")
    set_state(desk.sessions, slug, "archived", actor_label="test", reason="移交完毕")


def files_on_disk(desk: Desk) -> set[str]:
    root = desk.settings.data_dir / "attachments"
    return {p.name for p in root.rglob("*")
            if p.is_file() and "tmp" not in p.relative_to(root).parts}


def test_purge_destroys_texts_identities_and_files_and_keeps_counts(
        desk: Desk, two_rounds: dict[str, object]) -> None:
    slug = str(two_rounds["first"])
    with desk.sessions() as session:
        before = {(r.id, r.channel, r.status, r.in_scope, r.subject_role, r.late, r.spam,
                   r.anonymous) for r in session.scalars(select(m.Submission))}
        labels = set(session.execute(select(m.SubmissionLabel.submission_id,
                                            m.SubmissionLabel.kind, m.SubmissionLabel.value)))
        shared = session.scalar(select(m.Attachment.storage_name).where(
            m.Attachment.submission_id == two_rounds["other"]))
    stored = files_on_disk(desk)
    assert shared in stored and len(stored) >= 4  # photo (shared), mail raw + image, scan

    with desk.sessions() as session:
        assert find_case(desk, session, str(two_rounds["web_code"]), "secret-pass")
    archive(desk, slug)
    assert purge_due(desk) == []  # archived today: not due yet
    assert purge_due(desk, utcnow() + timedelta(days=1094)) == []
    assert purge_due(desk, utcnow() + timedelta(days=1096)) == [slug]

    first_items = {two_rounds["web"], two_rounds["mail"], two_rounds["letter"]}
    with desk.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(m.Submission))}
        for item_id in first_items:
            row = rows[item_id]
            assert (row.title, row.text) == (PURGED_TEXT, PURGED_TEXT)
            assert (row.subject_name, row.subject_post, row.subject_unit) == ("", "", "")
            assert row.original_sealed is None and row.sender_lookup is None
            if row.identity_sealed is not None:  # a named item stays named, with no one in it
                assert desk.keyring.open_identity(row.identity_sealed) == Identity()
        assert not rows[two_rounds["web"]].anonymous
        # What the counts are made of is as it was.
        assert {(r.id, r.channel, r.status, r.in_scope, r.subject_role, r.late, r.spam,
                 r.anonymous) for r in rows.values()} == before
        assert set(session.execute(select(m.SubmissionLabel.submission_id,
                                          m.SubmissionLabel.kind,
                                          m.SubmissionLabel.value))) == labels
        for msg in session.scalars(select(m.Message).where(
                m.Message.submission_id.in_(first_items))):
            assert msg.text == PURGED_TEXT and msg.original_sealed is None
        for att in session.scalars(select(m.Attachment).where(
                m.Attachment.submission_id.in_(first_items))):
            assert (att.storage_name, att.sha256, att.name_sealed) == ("", "", None)
        [inbound] = session.scalars(select(m.InboundMail))
        assert (inbound.raw_storage_name, inbound.envelope_sealed) == ("", b"")
        for cls in session.scalars(select(m.Classification).where(
                m.Classification.submission_id.in_(first_items))):
            assert (cls.subjects, cls.candidates, cls.evidence) == ([], [], [])
        assert session.scalar(select(func.count()).select_from(m.TextSignature).where(
            m.TextSignature.submission_id.in_(first_items))) == 0
        assert all(s.sealed is None for s in session.scalars(select(m.OutboxMail)))
        assert {p.ocr_text for p in session.scalars(select(m.ScanPage))} == {""}
        assert {f.storage_name for f in session.scalars(select(m.ScanFile))} == {""}
        assert {lt.text for lt in session.scalars(select(m.ScanLetter))} == {None}
        assert session.get_one(m.ScanBatch, two_rounds["batch"]).note == ""
        # Round two is untouched: its text, and the photo it shares with round one.
        other = rows[two_rounds["other"]]
        assert OTHER_PHRASE in other.text
        assert session.scalar(select(func.count()).select_from(m.TextSignature).where(
            m.TextSignature.submission_id == other.id)) > 0
        purged = session.scalar(select(m.Round).where(m.Round.slug == slug))
        assert purged is not None and purged.purged_at is not None
        assert session.get_one(m.Round, two_rounds["second_id"]).purged_at is None
        [event] = session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "round.purge"))
        assert event.detail["round"] == slug
        assert event.detail["items"] == 3 and event.detail["identities"] == 3
        # the reporter's, the team's and the transfer notice
        assert event.detail["messages"] == 3 and event.detail["mails"] == 1
        [moved] = session.scalars(select(m.Transfer))
        assert (moved.matter, moved.note) == (PURGED_TEXT, "") and moved.number
        assert {r.text for r in session.scalars(select(m.TransferReply))} == {PURGED_TEXT}
        assert {s.note for s in session.scalars(select(m.ItemStep))} == {""}
        assert event.detail["attachments"] == 3 and event.detail["scan_files"] == 1
        for audit in session.scalars(select(m.AuditEvent)):  # the record tells no text
            assert SECRET_PHRASE not in str(audit.detail) + audit.reason
    with desk.sessions() as session, pytest.raises(CaseNotFoundError):
        find_case(desk, session, str(two_rounds["web_code"]), "secret-pass")
    assert files_on_disk(desk) == {shared}
    b"".join(desk.files.read(shared))  # still readable for round two

    if not PG_URL:  # the texts are gone from the database file, free pages and WAL included
        data = b"".join(p.read_bytes() for p in desk.settings.data_dir.glob("intake.db*"))
        assert SECRET_PHRASE.encode() not in data
        assert OTHER_PHRASE.encode() in data

    # Nothing more to do; the audit trail does not grow.
    assert purge_due(desk, utcnow() + timedelta(days=2000)) == []
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action == "round.purge")) == 1


def test_rounds_not_archived_or_kept_for_ever_are_untouched(
        desk: Desk, two_rounds: dict[str, object]) -> None:
    slug = str(two_rounds["first"])
    set_state(desk.sessions, slug, "closed", actor_label="test")
    set_state(desk.sessions, slug, "handed_over", actor_label="test")
    later = utcnow() + timedelta(days=5000)
    assert purge_due(desk, later) == []  # handed over, never archived
    set_state(desk.sessions, slug, "archived", actor_label="test")
    kept = dataclasses.replace(
        desk, settings=dataclasses.replace(desk.settings, round_retention_days=0))
    assert purge_due(kept, later) == []  # 0: kept for ever
    with desk.sessions() as session:
        row = session.get_one(m.Submission, two_rounds["web"])
        assert SECRET_PHRASE in row.text and row.original_sealed is not None


def test_an_interrupted_purge_resumes(desk: Desk, two_rounds: dict[str, object],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from intake import retention

    slug = str(two_rounds["first"])
    archive(desk, slug)
    monkeypatch.setattr(retention, "BATCH", 1)
    calls = {"n": 0}
    real = retention._purge_items

    def fail_second(*args: object) -> set[str]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(retention, "_purge_items", fail_second)
    due = utcnow() + timedelta(days=1100)
    with pytest.raises(RuntimeError):
        purge_due(desk, due)
    with desk.sessions() as session:
        texts = [r.text for r in session.scalars(select(m.Submission).where(
            m.Submission.id.in_([two_rounds["web"], two_rounds["mail"]])).order_by(
            m.Submission.id))]
        assert texts[0] == PURGED_TEXT and texts[1] != PURGED_TEXT  # the first batch held
        assert session.scalar(select(m.Round.purged_at).where(m.Round.slug == slug)) is None
    assert purge_due(desk, due) == [slug]
    with desk.sessions() as session:
        assert {r.text for r in session.scalars(select(m.Submission).where(
            m.Submission.round_id != two_rounds["second_id"]))} == {PURGED_TEXT}


def test_a_purged_item_still_opens_for_its_team(app: Flask, desk: Desk) -> None:
    leader = staff_client(app, desk, "leader1", "team_leader")
    web = ingest(desk, make_submission(
        anonymous=False, identity=NAMED_IDENTITY, text=f"欧阳明远反映：{SECRET_PHRASE}。",
        attachments=(IncomingFile("现场照片.jpg", io.BytesIO(JPEG)),)))
    mail = take_in(desk, chinese_mail(body=f"{SECRET_PHRASE}。").as_bytes(),
                   Envelope(mail_from="zhang@example.com", rcpt_tos=("xcz1@intake.example.cn",)))
    archive(desk, desk.rounds.all()[0].slug)
    assert purge_due(desk, utcnow() + timedelta(days=1100))
    for item_id in (web.submission_id, mail.submission_id):
        page = leader.get(f"/staff/items/{item_id}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert PURGED_TEXT in html and SECRET_PHRASE not in html
    html = leader.get(f"/staff/items/{web.submission_id}").get_data(as_text=True)
    assert "附件1.jpg <span class=\"hint\">已按保存期限销毁" in html
    assert "原始邮件已按保存期限销毁" in leader.get(
        f"/staff/items/{mail.submission_id}").get_data(as_text=True)
    with desk.sessions() as session:
        att_id = session.scalar(select(m.Attachment.id))
    assert leader.get(f"/staff/attachments/{att_id}").status_code == 404


def test_the_service_runs_the_rule_in_the_background(desk: Desk) -> None:
    from intake.retention import RetentionWorker

    item = ingest(desk, make_submission())
    slug = desk.rounds.all()[0].slug
    archive(desk, slug)
    with desk.sessions() as session:  # archived three years and a day ago
        session.execute(text("UPDATE rounds SET state_changed_at = :at"),
                        {"at": (utcnow() - timedelta(days=1096)).replace(tzinfo=None)})
        session.commit()
    worker = RetentionWorker(desk)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with desk.sessions() as session:
                if session.scalar(select(m.Round.purged_at)) is not None:
                    break
            time.sleep(0.1)
    finally:
        started = time.monotonic()
        worker.stop()  # waiting for the next day ends at once
        assert time.monotonic() - started < 5
    with desk.sessions() as session:
        assert session.get_one(m.Submission, item.submission_id).text == PURGED_TEXT
