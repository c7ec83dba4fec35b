"""Fixtures for the e-mail channel: the real aiosmtpd server with its outbox, and a second real
aiosmtpd server standing in for the government mail relay that carries replies."""

from __future__ import annotations

import dataclasses
import email
import re
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from handlers.smtp import MailServer
from intake.desk import Desk, open_desk
from intake.outbox import OutboxSender
from intake.protect import normalise_code
from intake.settings import Settings
from intake.store import models as m

MAILBOX = "xcz1@intake.example.cn"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 600
COMPLAINT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """The outgoing relay: a real SMTP server that keeps what it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 OK"

    def wait(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"relay got {len(self.received)} of {count}"
        return [email.message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
                for _, _, raw in self.received]


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, relay: tuple[Relay, int]) -> Settings:
    return dataclasses.replace(
        settings, smtp_port=free_port(), mail_relay_host="127.0.0.1", mail_relay_port=relay[1],
        public_base_url="https://xc.example.cn")


class Running:
    def __init__(self, desk: Desk, server: MailServer, sender: OutboxSender) -> None:
        self.desk, self.server, self.sender = desk, server, sender

    def send(self, raw: bytes | str | EmailMessage, *, mail_from: str = "zhang@example.com",
             to: str = MAILBOX) -> None:
        if isinstance(raw, EmailMessage):
            raw = raw.as_bytes()
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        with smtplib.SMTP("127.0.0.1", self.server.port, timeout=30) as client:
            client.sendmail(mail_from, [to], raw)

    def count(self, model: Any) -> int:
        with self.desk.sessions() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def items(self) -> list[m.Submission]:
        with self.desk.sessions() as session:
            return list(session.scalars(select(m.Submission).order_by(m.Submission.id)))

    def outbox(self) -> list[m.OutboxMail]:
        with self.desk.sessions() as session:
            return list(session.scalars(select(m.OutboxMail).order_by(m.OutboxMail.id)))

    def inbound(self) -> list[m.InboundMail]:
        with self.desk.sessions() as session:
            return list(session.scalars(select(m.InboundMail).order_by(m.InboundMail.id)))


def start(settings: Settings) -> tuple[Desk, MailServer, OutboxSender]:
    desk = open_desk(settings)
    sender = OutboxSender(desk, poll_seconds=0.2)
    sender.start()
    server = MailServer(desk, on_stored=sender.wake.set)
    server.start()
    return desk, server, sender


@pytest.fixture
def running(mail_settings: Settings) -> Iterator[Running]:
    desk, server, sender = start(mail_settings)
    yield Running(desk, server, sender)
    server.stop()
    sender.stop()
    desk.close()


def chinese_mail(
    subject: str = "反映东岭村低保问题", body: str = COMPLAINT, *, charset: str = "gb2312",
    sender: str = "张三 <zhang@example.com>", headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)  # CRLF line ends, as on the wire
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid()
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body, charset=charset)
    if attachment:
        msg.add_attachment(attachment[1], maintype="image", subtype="jpeg",
                           filename=attachment[0])
    return msg


def code_and_password(reply: EmailMessage) -> tuple[str, str]:
    text = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = re.search(r"查询码：([\d ]+)", text)
    password = re.search(r"查询密码：(\S+)", text)
    assert code and password, text
    return normalise_code(code.group(1)), password.group(1)
