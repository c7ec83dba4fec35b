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
from functools import cache
from string import Template
from zoneinfo import ZoneInfo

from limits import RateLimitItem, parse_many, storage, strategies
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.desk import Desk
from intake.protect import format_code
from intake.round import Round
from intake.settings import SettingsError
from intake.store import models as m
from intake.store.db import begin_write

log = logging.getLogger(__name__)

SEAL_CONTEXT = b"outbox"
RETRY_MINUTES = (1, 5, 15, 60, 240, 720)
MAX_ATTEMPTS = 8
CLAIM_BATCH = 5
LEASE = timedelta(minutes=15)  # longer than a batch can take (5 x 30 s timeouts x 3 steps)

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

    def __init__(self, per_recipient: str, overall: str, storage_uri: str) -> None:
        self._checks: list[tuple[RateLimitItem, str | None]] = [
            *((item, None) for item in parse_many(per_recipient)),
            *((item, "all") for item in parse_many(overall)),
        ]
        self._limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(storage_uri))

    def allow(self, recipient_key: str) -> bool:
        """Count one reply to this recipient; False when any limit is spent.

        The overall limit keeps forged senders from turning the service into a mail cannon.
        """
        checks = [(item, key or recipient_key) for item, key in self._checks]
        if not all(self._limiter.test(item, "autoreply", key) for item, key in checks):
            return False
        for item, key in checks:
            self._limiter.hit(item, "autoreply", key)
        return True


def local_time(at: datetime) -> str:
    """How a time is told to a reporter: Beijing time, to the minute."""
    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y年%m月%d日 %H:%M")


def sender_address(desk: Desk, round_: Round | None = None) -> str:
    """The address replies come from: `mail_from`, else the mailbox of the item's round."""
    return desk.settings.mail_from or (round_ or desk.round).mailbox


def compose_reply(
    desk: Desk,
    *,
    to: str,
    body: str,
    subject: str,
    in_reply_to: str = "",
    round_: Round | None = None,
) -> EmailMessage:
    """An automatic reply, marked as such so no well-behaved responder answers it (RFC 3834)."""
    round_ = round_ or desk.round
    mailbox = sender_address(desk, round_)
    msg = EmailMessage()
    msg["From"] = formataddr((round_.team or round_.name, mailbox))
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


@cache
def load_template(path: str) -> str:
    """The configured reply template (read once; checked when the server starts)."""
    if not path:
        return AUTOREPLY_TEXT
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"autoreply_template {path}: {exc}") from exc


def autoreply_body(
    desk: Desk, *, code: str, password: str, received_at: datetime, followup: bool = False,
    round_: Round | None = None,
) -> str:
    """The reply's text from the configured template (or the built-in one)."""
    try:
        template = FOLLOWUP_TEXT if followup else load_template(desk.settings.autoreply_template)
    except SettingsError:
        log.exception("reply template unreadable; using the built-in text")
        template = AUTOREPLY_TEXT
    round_ = round_ or desk.round
    return Template(template).safe_substitute(
        team=round_.team or round_.name,
        received=local_time(received_at),
        mailbox=round_.mailbox,
        code=format_code(code),
        code_tail=code[-4:],
        password=password,
        status_url=f"{desk.settings.effective_public_base_url}/status",
    )


def db_queue(
    session: Session, desk: Desk, msg: EmailMessage, *, kind: str, recipient_key: str,
    submission_id: int | None, held: bool = False,
) -> m.OutboxMail:
    """Queue a message in the caller's transaction; it is sent only if that commits."""
    row = m.OutboxMail(
        submission_id=submission_id,
        kind=kind,
        recipient_lookup=recipient_key,
        sealed=desk.keyring.seal(msg.as_bytes(policy=policy.SMTP), SEAL_CONTEXT),
        status="held" if held else "queued",
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
        while claimed := self._claim(now):
            for outbox_id, token in claimed:
                sent += self._send_one(outbox_id, token)
        return sent

    def _claim(self, now: datetime | None) -> list[tuple[int, int]]:
        """Lease a few due rows: another process leaves them alone until the lease ends.

        The attempt counter is the lease's token: a process whose lease ran out (and whose row
        another process claimed since) finds the counter changed and neither sends nor writes.
        """
        now = now or m.utcnow()
        with self.desk.sessions() as session:
            begin_write(session)
            rows = list(session.scalars(
                select(m.OutboxMail)
                .where(m.OutboxMail.status == "queued", m.OutboxMail.next_attempt_at <= now)
                .order_by(m.OutboxMail.id).limit(CLAIM_BATCH).with_for_update(skip_locked=True)))
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + LEASE
            session.commit()
            return [(row.id, row.attempts) for row in rows]

    def _send_one(self, outbox_id: int, token: int) -> int:
        with self.desk.sessions() as session:
            row = session.get(m.OutboxMail, outbox_id)
            if row is None or row.status != "queued" or row.attempts != token or not row.sealed:
                return 0
            raw = self.desk.keyring.unseal(row.sealed, SEAL_CONTEXT)
        error, permanent = "", False
        try:
            self._deliver(raw)
        except smtplib.SMTPRecipientsRefused as exc:
            # Only the recipient's own server saying "no such address" is final; a refused
            # sender, a login or a relay policy are settings to fix, and the reply waits.
            codes = sorted({code for code, _ in exc.recipients.values()})
            error, permanent = f"SMTPRecipientsRefused {codes}", all(c >= 500 for c in codes)
        except smtplib.SMTPResponseException as exc:
            error = f"{type(exc).__name__} {exc.smtp_code}"
        except Exception as exc:  # never the address: exceptions can carry it
            error = type(exc).__name__
        with self.desk.sessions() as session:
            begin_write(session)
            row = session.get(m.OutboxMail, outbox_id, with_for_update=True)
            if row is None or row.attempts != token:
                return 0
            now = m.utcnow()
            if not error:
                row.status, row.sealed, row.sent_at, row.last_error = "sent", None, now, ""
            elif permanent:
                row.status, row.sealed, row.last_error = "failed", None, error
            else:
                row.last_error = error
                row.next_attempt_at = now + timedelta(
                    minutes=RETRY_MINUTES[min(token - 1, len(RETRY_MINUTES) - 1)])
                if token >= MAX_ATTEMPTS:
                    row.status = "failed"  # kept sealed: `intake outbox retry` sends it again
            session.commit()
        if error:
            log.warning("outbox %s not sent (attempt %s): %s", outbox_id, token, error)
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
            options = []
            if not all(addr.isascii() for addr in recipients):
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("smtputf8"):
                    raise smtplib.SMTPRecipientsRefused(
                        {"": (553, b"relay cannot deliver to a non-ASCII address")})
                options = ["SMTPUTF8"]
            # The null sender: nothing bounces back to an automatic reply (RFC 3834 §3.3).
            smtp.sendmail("", recipients, raw, mail_options=options)


def db_retry_failed(session: Session) -> int:
    """Queue again every failed message that still has its content (the relay was fixed)."""
    result = session.execute(
        update(m.OutboxMail)
        .where(m.OutboxMail.status == "failed", m.OutboxMail.sealed.is_not(None))
        .values(status="queued", attempts=0, next_attempt_at=m.utcnow(), last_error=""))
    return result.rowcount or 0
