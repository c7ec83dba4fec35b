"""The outbox: replies queued in the item's own transaction, sent after the commit.

A reply carrying a query code must never go out for an item that was not stored, and must not
be lost if the relay is down when the item arrives. So the message is written, sealed, in the
same transaction as the item, and a sender thread delivers it through the configured relay
afterwards, retrying with back-off. Once sent, the sealed message is wiped: the code then
exists only in the reporter's mailbox.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from string import Template
from zoneinfo import ZoneInfo

from limits import RateLimitItem, parse_many, storage, strategies
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.desk import Desk
from intake.protect import format_code
from intake.store import models as m
from intake.store.db import begin_write

log = logging.getLogger(__name__)

SEAL_CONTEXT = b"outbox"
RETRY_MINUTES = (1, 5, 15, 60, 240, 720)
MAX_ATTEMPTS = 8

AUTOREPLY_TEXT = """\
您好：

$team已于 $received 收到您发往 $mailbox 的来信，已登记，将按规定研判办理。

查询码：$code
查询密码：$password

请妥善保存查询码和密码，不要转告他人。
可在 $status_url 输入查询码和密码，查看办理情况和工作人员的回复，
也可在该页面补充材料。
如需补充，也可以直接回复本邮件，并保留上面的查询码；
只有从同一邮箱发出的补充才会并入您的来信。

本邮件由系统自动发送。
$team
"""

FOLLOWUP_TEXT = """\
您好：

$team已于 $received 收到您对来信（查询码尾号 $code_tail）的补充材料，已并入原件一并办理。

可在 $status_url 输入查询码和密码查看办理情况。

本邮件由系统自动发送。
$team
"""


class ReplyLimiter:
    """At most so many automatic replies per recipient (shared through Redis when configured)."""

    def __init__(self, limits: str, storage_uri: str) -> None:
        self._items: list[RateLimitItem] = parse_many(limits)
        self._limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(storage_uri))

    def allow(self, recipient_key: str) -> bool:
        """Count one reply to this recipient; False when any of the limits is spent."""
        if not all(self._limiter.test(item, "autoreply", recipient_key) for item in self._items):
            return False
        for item in self._items:
            self._limiter.hit(item, "autoreply", recipient_key)
        return True


def local_time(at: datetime) -> str:
    """How a time is told to a reporter: Beijing time, to the minute."""
    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y年%m月%d日 %H:%M")


def sender_address(desk: Desk) -> str:
    return desk.settings.mail_from or desk.round.mailbox


def compose_reply(
    desk: Desk,
    *,
    to: str,
    body: str,
    subject: str,
    in_reply_to: str = "",
) -> EmailMessage:
    """An automatic reply, marked as such so no well-behaved responder answers it (RFC 3834)."""
    mailbox = sender_address(desk)
    msg = EmailMessage()
    msg["From"] = formataddr((desk.round.team or desk.round.name, mailbox))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=mailbox.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def autoreply_body(
    desk: Desk, *, code: str, password: str, received_at: datetime, followup: bool = False
) -> str:
    """The reply's text from the configured template (or the built-in one)."""
    if followup:
        template = FOLLOWUP_TEXT
    elif desk.settings.autoreply_template:
        with open(desk.settings.autoreply_template, encoding="utf-8") as f:
            template = f.read()
    else:
        template = AUTOREPLY_TEXT
    return Template(template).safe_substitute(
        team=desk.round.team or desk.round.name,
        received=local_time(received_at),
        mailbox=desk.round.mailbox,
        code=format_code(code),
        code_tail=code[-4:],
        password=password,
        status_url=f"{desk.settings.effective_public_base_url}/status",
    )


def db_queue(
    session: Session, desk: Desk, msg: EmailMessage, *, kind: str, recipient_key: str,
    submission_id: int | None,
) -> m.OutboxMail:
    """Queue a message in the caller's transaction; it is sent only if that commits."""
    row = m.OutboxMail(
        submission_id=submission_id,
        kind=kind,
        recipient_lookup=recipient_key,
        sealed=desk.keyring.seal(msg.as_bytes(policy=policy.SMTP), SEAL_CONTEXT),
    )
    session.add(row)
    return row


class OutboxSender:
    """Delivers queued mail through the relay; one thread per process, safe to run in several."""

    def __init__(self, desk: Desk, *, poll_seconds: float = 30.0) -> None:
        self.desk = desk
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        return bool(self.desk.settings.mail_relay_host)

    def start(self) -> None:
        if not self.configured:
            log.warning("no mail relay configured: automatic replies wait in the outbox")
            return
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except Exception:
                log.exception("outbox round failed")
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

    def send_due(self, now: datetime | None = None) -> int:
        """Send what is due now; return how many were sent."""
        sent = 0
        while ids := self._claim(now):
            for outbox_id in ids:
                sent += self._send_one(outbox_id)
        return sent

    def _claim(self, now: datetime | None) -> list[int]:
        """Lease due rows: bump their next attempt, so another process leaves them alone."""
        now = now or m.utcnow()
        with self.desk.sessions() as session:
            begin_write(session)
            rows = list(session.scalars(
                select(m.OutboxMail)
                .where(m.OutboxMail.status == "queued", m.OutboxMail.next_attempt_at <= now)
                .order_by(m.OutboxMail.id).limit(20).with_for_update(skip_locked=True)))
            for row in rows:
                delay = RETRY_MINUTES[min(row.attempts, len(RETRY_MINUTES) - 1)]
                row.attempts += 1
                row.next_attempt_at = now + timedelta(minutes=delay)
            session.commit()
            return [row.id for row in rows]

    def _send_one(self, outbox_id: int) -> int:
        with self.desk.sessions() as session:
            row = session.get(m.OutboxMail, outbox_id)
            if row is None or row.status != "queued" or row.sealed is None:
                return 0
            raw = self.desk.keyring.unseal(row.sealed, SEAL_CONTEXT)
            attempts = row.attempts
        error, permanent = "", False
        try:
            self._deliver(raw)
        except smtplib.SMTPResponseException as exc:
            error, permanent = f"{type(exc).__name__} {exc.smtp_code}", exc.smtp_code >= 500
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            error, permanent = f"SMTPRecipientsRefused {codes}", all(c >= 500 for c in codes)
        except (OSError, smtplib.SMTPException) as exc:
            error = type(exc).__name__  # never the address: exceptions can carry it
        with self.desk.sessions() as session:
            begin_write(session)
            row = session.get(m.OutboxMail, outbox_id)
            assert row is not None
            if not error:
                row.status, row.sealed, row.sent_at, row.last_error = "sent", None, m.utcnow(), ""
            else:
                row.last_error = error
                if permanent or attempts >= MAX_ATTEMPTS:
                    row.status, row.sealed = "failed", None
            session.commit()
        if error:
            log.warning("outbox %s not sent (attempt %s): %s", outbox_id, attempts, error)
            return 0
        log.info("outbox %s sent", outbox_id)
        return 1

    def _deliver(self, raw: bytes) -> None:
        s = self.desk.settings
        msg = message_from_bytes(raw, policy=policy.default)
        recipients = [addr for _, addr in getaddresses([str(msg["To"])]) if addr]
        with smtplib.SMTP(s.mail_relay_host, s.mail_relay_port, timeout=30) as smtp:
            if s.mail_relay_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.mail_relay_username:
                smtp.login(s.mail_relay_username, s.mail_relay_password)
            # The null sender: nothing bounces back to an automatic reply (RFC 3834 §3.3).
            smtp.sendmail("", recipients, raw)
