"""The e-mail channel end to end: real smtplib clients against the real aiosmtpd server, with a
second real aiosmtpd server standing in for the government mail relay that carries replies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import smtplib
import ssl
import threading
import time
from email.header import Header
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

import handlers.smtp
from handlers.web import create_app
from intake.desk import Desk, open_desk
from intake.maskstore import open_name
from intake.outbox import OutboxSender
from intake.pipeline import find_case
from intake.protect import normalise_code
from intake.settings import Settings
from intake.store import models as m
from tests.channels.mailserver import (
    JPEG,
    MAILBOX,
    Relay,
    Running,
    chinese_mail,
    code_and_password,
    free_port,
    start,
)
from tests.support import staff_client

# -- the happy path ------------------------------------------------------------------------


def test_a_chinese_mail_is_stored_protected_and_answered_with_its_code(
    running: Running, relay: tuple[Relay, int]
) -> None:
    raw = chinese_mail(attachment=("现场照片.jpg", JPEG)).as_bytes()
    running.send(raw)

    [item] = running.items()
    assert item.channel == "email" and item.status == "received"
    assert item.title == "反映东岭村低保问题"
    assert "刘德福把低保名额" in item.text
    assert item.identity_sealed is not None and b"zhang@" not in item.identity_sealed
    identity = running.desk.keyring.open_identity(item.identity_sealed)
    assert (identity.email, identity.display_name) == ("zhang@example.com", "张三")
    with running.desk.sessions() as session:
        [att] = session.scalars(select(m.Attachment)).all()
        assert att.original_name == "附件1.jpg" and att.content_type == "image/jpeg"
        assert open_name(running.desk.keyring, att.name_sealed) == "现场照片.jpg"
    [inbound] = running.inbound()
    assert inbound.submission_id == item.id and inbound.autoreply == "queued"
    stored_raw = b"".join(running.desk.files.read(inbound.raw_storage_name))
    assert stored_raw == raw  # kept byte for byte
    on_disk = running.desk.files.path_of(inbound.raw_storage_name).read_bytes()
    assert b"zhang@example.com" not in on_disk  # the original is encrypted at rest
    envelope = running.desk.keyring.unseal(inbound.envelope_sealed, b"mail-envelope")
    assert b"zhang@example.com" in envelope

    [reply] = relay[0].wait(1)
    mail_from, rcpt, _ = relay[0].received[0]
    assert mail_from == "<>" and rcpt == ["zhang@example.com"]  # null sender: no bounce loops
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"]
    code, password = code_and_password(reply)
    assert "https://xc.example.cn/status" in reply.get_body(("plain",)).get_content()
    with running.desk.sessions() as session:
        assert find_case(running.desk, session, code, password).id == item.id
    deadline = time.monotonic() + 10  # the relay has it; the sender records it just after
    while (outbox := running.outbox()[0]).status != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox.status == "sent" and outbox.sealed is None  # the code is gone from here


def test_mail_for_another_address_is_refused_with_550(running: Running) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        running.send(chinese_mail(), to="someone-else@intake.example.cn")
    [(code, _)] = refused.value.recipients.values()
    assert code == 550
    assert running.count(m.Submission) == 0


def test_mailbox_address_is_matched_without_regard_to_case(running: Running) -> None:
    running.send(chinese_mail(), to=MAILBOX.upper())
    assert running.count(m.Submission) == 1


def test_mail_over_the_size_limit_is_refused_with_552(mail_settings: Settings) -> None:
    desk, server, sender = start(dataclasses.replace(mail_settings,
                                                     smtp_max_message_bytes=20_000))
    try:
        big = chinese_mail(attachment=("大图.jpg", JPEG + b"\x01" * 40_000)).as_bytes()
        with smtplib.SMTP("127.0.0.1", server.port) as client, pytest.raises(
                (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
            client.sendmail("zhang@example.com", [MAILBOX], big)
        assert refused.value.smtp_code == 552
        # Without SIZE announced by the client, the limit holds during DATA too.
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo()
            client.does_esmtp = False
            with pytest.raises(smtplib.SMTPDataError) as during:
                client.sendmail("zhang@example.com", [MAILBOX], big)
        assert during.value.smtp_code == 552
        with desk.sessions() as session:
            assert session.scalar(select(func.count()).select_from(m.Submission)) == 0
    finally:
        server.stop()
        sender.stop()
        desk.close()


def test_an_internal_failure_answers_451_without_internals(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(handlers.smtp, "take_in", broken)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        running.send(chinese_mail())
    assert failed.value.smtp_code == 451
    assert b"hunter2" not in failed.value.smtp_error
    assert b"RuntimeError" not in failed.value.smtp_error


def test_a_failed_commit_keeps_no_file_and_answers_451(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    import intake.pipeline

    def failing_commit(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(intake.pipeline, "_commit", failing_commit)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        running.send(chinese_mail(attachment=("照片.jpg", JPEG)))
    assert failed.value.smtp_code == 451
    stored = [p for p in (running.desk.settings.data_dir / "attachments").rglob("*")
              if p.is_file() and "tmp" not in p.parts]
    assert stored == []  # neither the raw message nor the attachment is left behind


def test_slow_storage_of_one_message_does_not_stall_other_connections(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = handlers.smtp.take_in
    release, entered = threading.Event(), threading.Event()

    def slow_first(desk: Desk, raw: bytes, *args: Any, **kwargs: Any) -> Any:
        if b"SLOW" in raw:
            entered.set()
            release.wait(30)
        return real(desk, raw, *args, **kwargs)

    monkeypatch.setattr(handlers.smtp, "take_in", slow_first)
    slow = threading.Thread(target=running.send, args=(chinese_mail(subject="SLOW"),))
    slow.start()
    try:
        assert entered.wait(10)
        running.send(chinese_mail(subject="第二封"))  # completes while the first is stuck
        assert [i.title for i in running.items()] == ["第二封"]
    finally:
        release.set()
        slow.join(30)
    assert sorted(i.title for i in running.items()) == ["SLOW", "第二封"]


# -- automatic replies: loop guards and limits ---------------------------------------------

GUARDS = [
    ("auto_submitted", {"Auto-Submitted": "auto-replied"}, "zhang@example.com"),
    ("auto_submitted", {"Auto-Submitted": "auto-generated"}, "zhang@example.com"),
    ("bulk", {"Precedence": "bulk"}, "zhang@example.com"),
    ("bulk", {"Precedence": "junk"}, "zhang@example.com"),
    ("bulk", {"Precedence": "list"}, "zhang@example.com"),
    ("list", {"List-Id": "<villagers.example.com>"}, "zhang@example.com"),
    ("list", {"List-Unsubscribe": "<mailto:leave@example.com>"}, "zhang@example.com"),
    ("suppressed", {"X-Auto-Response-Suppress": "All"}, "zhang@example.com"),
    ("bounce", {}, ""),
    ("bounce", {}, "MAILER-DAEMON@example.com"),
    ("bounce", {}, "noreply@example.com"),
    ("own_address", {}, MAILBOX),
]


@pytest.mark.parametrize(("reason", "headers", "mail_from"), GUARDS)
def test_no_automatic_reply_where_it_could_loop(
    running: Running, relay: tuple[Relay, int], reason: str, headers: dict[str, str],
    mail_from: str,
) -> None:
    running.send(chinese_mail(headers=headers), mail_from=mail_from)
    [inbound] = running.inbound()
    assert inbound.autoreply == reason
    assert running.count(m.Submission) == 1  # stored all the same
    assert running.count(m.OutboxMail) == 0
    running.sender.send_due()
    assert relay[0].received == []


def test_automatic_replies_are_limited_per_sender(running: Running) -> None:
    for i in range(5):
        running.send(chinese_mail(subject=f"第{i}封"), mail_from="busy@example.com")
    running.send(chinese_mail(), mail_from="other@example.com")
    assert [i.autoreply for i in running.inbound()] == [
        "queued", "queued", "queued", "rate_limited", "rate_limited", "queued"]
    assert running.count(m.Submission) == 6


def test_replies_wait_in_the_outbox_while_the_relay_is_down(mail_settings: Settings) -> None:
    down = dataclasses.replace(mail_settings, mail_relay_port=free_port())
    desk = open_desk(down)
    try:
        from intake.mail import Envelope, take_in

        take_in(desk, chinese_mail().as_bytes(), Envelope(mail_from="zhang@example.com"))
        sender = OutboxSender(desk)
        assert sender.send_due() == 0
        with desk.sessions() as session:
            row = session.scalars(select(m.OutboxMail)).one()
            assert (row.status, row.attempts) == ("queued", 1)
            assert row.last_error and "zhang" not in row.last_error
            assert row.sealed is not None
        # Nothing more is tried before the back-off has passed.
        assert sender.send_due() == 0
        with desk.sessions() as session:
            assert session.scalars(select(m.OutboxMail)).one().attempts == 1
    finally:
        desk.close()


# -- follow-ups ----------------------------------------------------------------------------


def test_a_reply_with_the_code_from_the_same_sender_joins_the_case(
    running: Running, relay: tuple[Relay, int]
) -> None:
    running.send(chinese_mail())
    [ack] = relay[0].wait(1)
    code, _ = code_and_password(ack)
    body = (f"补充：他家亲戚的低保是2025年3月办的。\n\n> 查询码：{code[:4]} {code[4:8]} "
            f"{code[8:12]} {code[12:]}\n> 查询密码：abc")
    running.send(chinese_mail(subject="回复：已收到您的来信", body=body,
                              sender="Zhang <ZHANG@example.com>",
                              attachment=("补充.jpg", JPEG + b"\x02")))

    [item] = running.items()  # no new item
    with running.desk.sessions() as session:
        [message] = session.scalars(select(m.Message)).all()
        assert message.submission_id == item.id and message.author == "reporter"
        assert "2025年3月办的" in message.text
        assert code not in normalise_code(message.text)  # the code is not stored in clear
        assert "abc" not in message.text
        atts = session.scalars(select(m.Attachment)).all()
        assert [a.message_id for a in atts] == [message.id]
    assert [i.message_id is not None for i in running.inbound()] == [False, True]
    acks = relay[0].wait(2)
    assert "补充材料" in str(acks[1]["Subject"])
    assert code not in normalise_code(acks[1].get_body(("plain",)).get_content())


def test_a_code_quoted_by_another_sender_makes_a_new_linked_item(
    running: Running, relay: tuple[Relay, int]
) -> None:
    running.send(chinese_mail())
    code, _ = code_and_password(relay[0].wait(1)[0])
    running.send(chinese_mail(subject="我也要反映", body=f"查询码 {code}，请把我的材料并进去。",
                              sender="李四 <li@example.org>"), mail_from="li@example.org")

    first, second = running.items()
    with running.desk.sessions() as session:
        assert session.scalars(select(m.Message)).all() == []  # nothing joined the first case
        link = session.scalars(select(m.DuplicateLink)).one()
        assert (link.submission_id, link.other_id, link.reason) == (
            second.id, first.id, "quoted_code")
    assert code not in normalise_code(second.text)
    assert second.sender_lookup != first.sender_lookup


def test_a_code_quoted_for_a_web_report_never_joins_it(running: Running) -> None:
    from intake.pipeline import ingest
    from tests.support import make_submission

    receipt = ingest(running.desk, make_submission())
    running.send(chinese_mail(body=f"我的查询码是 {receipt.code}"))
    with running.desk.sessions() as session:
        assert session.scalars(select(m.Message)).all() == []
        assert session.scalars(select(m.DuplicateLink)).one().other_id == receipt.submission_id
    assert running.count(m.Submission) == 2


# -- spam ----------------------------------------------------------------------------------

SPAM = ("代开发票 优惠促销",
        "本公司常年代开各地增值税发票，优惠促销，特价办理，免费咨询，量大从优！\n"
        "联系电话：13800000000 QQ：12345678 网址：http://fapiao.example.com\n"
        "广告推广，加盟招商，贷款办证，兼职刷单。如不想再收到此类邮件，回复TD退订。")


def test_spam_is_stored_marked_unanswered_and_can_be_rescued(
    running: Running, relay: tuple[Relay, int]
) -> None:
    running.send(chinese_mail(*SPAM))
    [item] = running.items()
    assert item.spam and item.status == "spam"
    [inbound] = running.inbound()
    assert inbound.autoreply == "spam" and inbound.spam_score >= 0.6 and inbound.spam_reasons
    app = create_app(running.desk.settings, desk=running.desk)
    triager = staff_client(app, running.desk, "triager1", "triager")
    page = triager.get("/staff/?status=spam").get_data(as_text=True)
    assert f"/staff/items/{item.id}" in page
    detail = triager.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "垃圾邮件评分" in detail and "不是垃圾信息" in detail
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail)
    assert token
    answer = triager.post(f"/staff/items/{item.id}/spam",
                          data={"spam": "false", "csrf_token": token.group(1)})
    assert answer.status_code == 302
    [item] = running.items()
    assert not item.spam and item.status == "received"


def test_only_a_team_leader_downloads_the_raw_mail_and_it_is_audited(running: Running) -> None:
    running.send(chinese_mail())
    [inbound] = running.inbound()
    app = create_app(running.desk.settings, desk=running.desk)
    triager = staff_client(app, running.desk, "triager1", "triager")
    page = triager.get(f"/staff/items/{inbound.submission_id}").get_data(as_text=True)
    assert "下载原始邮件" not in page and "zhang@example.com" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    assert triager.post(f"/staff/mails/{inbound.id}/raw",
                        data={"reason": "核实来信", "csrf_token": token.group(1)}
                        ).status_code == 403
    leader = staff_client(app, running.desk, "leader1", "team_leader")
    page = leader.get(f"/staff/items/{inbound.submission_id}").get_data(as_text=True)
    assert "z***@example.com" in page  # masked, never in full
    assert "zhang@example.com" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = leader.post(f"/staff/mails/{inbound.id}/raw",
                         data={"reason": "核实来信", "item_id": inbound.submission_id,
                               "csrf_token": token.group(1)})
    assert answer.status_code == 200 and b"zhang@example.com" in answer.data
    assert answer.headers["Content-Type"] == "application/octet-stream"
    with running.desk.sessions() as session:
        event = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "mail.raw_download")).one()
        assert event.reason == "核实来信" and event.submission_id == inbound.submission_id


# -- transport settings --------------------------------------------------------------------


def self_signed(tmp: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_starttls_can_be_required(mail_settings: Settings, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    desk, server, sender = start(dataclasses.replace(
        mail_settings, smtp_tls_cert=cert, smtp_tls_key=key, smtp_require_tls=True))
    raw = chinese_mail().as_bytes()
    try:
        with smtplib.SMTP("127.0.0.1", server.port) as client, pytest.raises(
                smtplib.SMTPSenderRefused) as refused:
            client.sendmail("zhang@example.com", [MAILBOX], raw)
        assert refused.value.smtp_code == 530
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.starttls(context=context)
            client.sendmail("zhang@example.com", [MAILBOX], raw)
        with desk.sessions() as session:
            assert session.scalar(select(func.count()).select_from(m.Submission)) == 1
    finally:
        server.stop()
        sender.stop()
        desk.close()


def test_only_the_configured_relay_may_deliver(mail_settings: Settings) -> None:
    desk, server, sender = start(dataclasses.replace(mail_settings,
                                                     smtp_allowed_peers="10.1.0.0/16"))
    try:
        with smtplib.SMTP("127.0.0.1", server.port) as client, pytest.raises(
                smtplib.SMTPSenderRefused) as refused:
            client.sendmail("zhang@example.com", [MAILBOX], chinese_mail().as_bytes())
        assert refused.value.smtp_code == 550
    finally:
        server.stop()
        sender.stop()
        desk.close()
    desk, server, sender = start(dataclasses.replace(mail_settings,
                                                     smtp_allowed_peers="10.1.0.0/16, 127.0.0.1"))
    try:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.sendmail("zhang@example.com", [MAILBOX], chinese_mail().as_bytes())
    finally:
        server.stop()
        sender.stop()
        desk.close()


# -- real mail -----------------------------------------------------------------------------


def test_every_real_mail_in_the_shared_corpus_is_stored_readable(running: Running) -> None:
    from tests.support import SHARED

    folder = SHARED / "data" / "emails"
    if not folder.is_dir():
        pytest.skip(f"shared development data not found at {folder}")
    files = sorted(folder.glob("*.eml"))
    assert files
    for path in files:
        # The corpus keeps bare LF line ends; on the wire lines end in CRLF.
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        running.send(raw, mail_from="sender@example.com")
    items = running.items()
    assert len(items) == len(files)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    readable = sum(1 for i in items if cjk.search(i.title + i.text))
    assert readable >= len(files) * 0.8, readable
    assert all("\ufffd" not in i.title for i in items)
    assert running.count(m.InboundMail) == len(files)


def test_encoded_words_and_big5_survive_the_wire(running: Running) -> None:
    msg = chinese_mail(subject="檢舉村長挪用補助款", body="村長把補助款挪作他用。", charset="big5")
    msg.replace_header("Subject", Header("檢舉村長挪用補助款", "big5").encode())
    running.send(msg)
    [item] = running.items()
    assert item.title == "檢舉村長挪用補助款" and "補助款挪作他用" in item.text



# -- review findings: forged senders, quoted identity, relay trouble ----------------------


def test_a_forged_from_with_another_envelope_sender_does_not_join_the_case(
    running: Running, relay: tuple[Relay, int]
) -> None:
    running.send(chinese_mail())
    code, _ = code_and_password(relay[0].wait(1)[0])
    running.send(chinese_mail(subject="补充", body=f"查询码 {code}"),
                 mail_from="attacker@evil.example")
    with running.desk.sessions() as session:
        assert session.scalars(select(m.Message)).all() == []
        assert session.scalars(select(m.DuplicateLink)).one().reason == "quoted_code"
    assert running.count(m.Submission) == 2
    acks = relay[0].wait(2)
    assert "补充材料" not in str(acks[1]["Subject"])  # the forger learns nothing about the case


def test_the_senders_own_address_and_name_quoted_in_a_reply_are_hidden(
    running: Running, relay: tuple[Relay, int]
) -> None:
    running.send(chinese_mail(sender="王小明 <wxm@example.com>"), mail_from="wxm@example.com")
    code, _ = code_and_password(relay[0].wait(1)[0])
    quoted = (f"再补充一点。\n\n-----原始邮件-----\n收件人：\"王小明\" <WXM@example.com>\n"
              f"查询码：{code}\n查询密码：x7k2m9p4qa\n")
    running.send(chinese_mail(subject="Re: 已收到您的来信", body=quoted,
                              sender="王小明 <wxm@example.com>"), mail_from="wxm@example.com")
    with running.desk.sessions() as session:
        message = session.scalars(select(m.Message)).one()
    assert "再补充一点" in message.text
    for secret in ("wxm@", "WXM@", "王小明", "x7k2m9p4qa", code):
        assert secret not in message.text


def test_held_reply_of_suspected_spam_goes_out_when_rescued(
    running: Running, relay: tuple[Relay, int]
) -> None:
    from intake.triage import Actor, set_spam

    running.send(chinese_mail(*SPAM))
    [item] = running.items()
    with running.desk.sessions() as session:
        assert session.scalars(select(m.OutboxMail)).one().status == "held"
    running.sender.send_due()
    assert relay[0].received == []
    from intake.staff import create_user

    user, _ = create_user(running.desk, "t1", "triager", password="correct-horse-battery")
    set_spam(running.desk, Actor(user.id, "t1", "triager"), item.id, spam=False)
    running.sender.send_due()
    [reply] = relay[0].wait(1)
    code, password = code_and_password(reply)
    with running.desk.sessions() as session:
        assert find_case(running.desk, session, code, password).id == item.id


class RefusingRelay(Relay):
    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        return "550 5.7.1 null sender not accepted"


def test_a_relay_refusing_the_sender_keeps_the_reply_for_later(mail_settings: Settings) -> None:
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(RefusingRelay(), hostname="127.0.0.1", port=port)
    controller.start()
    desk = open_desk(dataclasses.replace(mail_settings, mail_relay_port=port))
    try:
        from intake.mail import Envelope, take_in

        take_in(desk, chinese_mail().as_bytes(), Envelope(mail_from="zhang@example.com"))
        take_in(desk, chinese_mail().as_bytes(), Envelope(mail_from="用户@例子.中国"))
        assert OutboxSender(desk).send_due() == 0
        with desk.sessions() as session:
            rows = session.scalars(select(m.OutboxMail).order_by(m.OutboxMail.id)).all()
            # Both wait for the relay to be fixed (the non-ASCII address jams nothing).
            assert [(r.status, r.attempts) for r in rows] == [("queued", 1), ("queued", 1)]
            assert all(r.sealed is not None and "SMTPSenderRefused" in r.last_error
                       for r in rows)
    finally:
        desk.close()
        controller.stop()


def test_mail_is_taken_in_when_the_reply_limiter_is_down(mail_settings: Settings) -> None:
    from intake.mail import Envelope, take_in
    from intake.outbox import ReplyLimiter

    desk = open_desk(mail_settings)
    try:
        broken = ReplyLimiter("3 per hour", "300 per hour", f"redis://127.0.0.1:{free_port()}")
        outcome = take_in(desk, chinese_mail().as_bytes(), Envelope(mail_from="z@example.com"),
                          limiter=broken)
        assert outcome.autoreply == "queued"
    finally:
        desk.close()
