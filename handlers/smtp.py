"""The SMTP edge: an aiosmtpd server that takes mail for the round's mailbox.

The event loop only talks SMTP; parsing, storing and committing a message run on a small
thread pool, so a large message being stored never stalls other connections. The server
answers 250 only after `intake.mail.take_in` has committed, 451 for any internal failure
(never with internals in the reply), 550 for recipients that are not ours and 552 above the
size limit (aiosmtpd's own check, from the `SIZE` we announce).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.desk import Desk
from intake.mail import Envelope as MailEnvelope
from intake.mail import accepted_mailboxes, take_in
from intake.outbox import ReplyLimiter, load_template

log = logging.getLogger(__name__)

OK = "250 2.0.0 OK: message received"
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
NO_SUCH_MAILBOX = "550 5.1.1 Recipient address rejected: no such mailbox here"
ACCESS_DENIED = "550 5.7.1 Access denied: mail is accepted only from the configured relay"


class MailHandler:
    """aiosmtpd handler hooks; the work itself is `take_in` on the executor."""

    def __init__(
        self, desk: Desk, *, executor: ThreadPoolExecutor, limiter: ReplyLimiter | None,
        on_stored: Any = None,
    ) -> None:
        self.desk = desk
        self.executor = executor
        self.limiter = limiter
        self.on_stored = on_stored
        self.allowed = [ipaddress.ip_network(p.strip(), strict=False)
                        for p in desk.settings.smtp_allowed_peers.split(",") if p.strip()]

    def _peer_allowed(self, session: Session) -> bool:
        if not self.allowed:
            return True
        try:
            address = ipaddress.ip_address(session.peer[0])
        except (TypeError, ValueError, IndexError):
            return False
        return any(address in network for network in self.allowed)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        if not self._peer_allowed(session):
            return ACCESS_DENIED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self._peer_allowed(session):
            return ACCESS_DENIED
        if address.strip().lower() not in accepted_mailboxes(self.desk):
            return NO_SUCH_MAILBOX
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""  # bytes: decode_data is never set
        mail_envelope = MailEnvelope(
            peer=str(session.peer[0]) if session.peer else "",
            helo=session.host_name or "",
            mail_from="" if envelope.mail_from in (None, "<>") else envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
        )
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self.executor, lambda: take_in(self.desk, raw, mail_envelope,
                                               limiter=self.limiter))
        except Exception:
            log.exception("could not store a received message; answered 451")
            return TEMPORARY_FAILURE
        if self.on_stored is not None:
            self.on_stored()
        return OK

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %s", type(error).__name__)
        return TEMPORARY_FAILURE


class LenientSMTP(SMTP):
    """RFC 5321 caps lines at 1,000 octets, but real mail breaks that (HTML on one line,
    unwrapped base64); refusing it would lose reports, and the size limit still bounds memory."""

    line_length_limit = 1 << 20


class MailController(Controller):
    def factory(self) -> SMTP:
        return LenientSMTP(self.handler, **self.SMTP_kwargs)


def tls_context(desk: Desk) -> ssl.SSLContext | None:
    s = desk.settings
    if not (s.smtp_tls_cert and s.smtp_tls_key):
        if s.smtp_require_tls:
            raise ValueError("smtp_require_tls needs smtp_tls_cert and smtp_tls_key")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(s.smtp_tls_cert, s.smtp_tls_key)
    return context


class MailServer:
    """The SMTP server in its own thread, with its worker pool; start() returns when ready."""

    def __init__(self, desk: Desk, *, on_stored: Any = None) -> None:
        s = desk.settings
        self.executor = ThreadPoolExecutor(max_workers=s.smtp_workers,
                                           thread_name_prefix="smtp-store")
        load_template(s.autoreply_template)  # a wrong path is told at start, not at a mail
        limiter = ReplyLimiter(s.autoreply_rate_limit, s.autoreply_total_limit,
                               s.ratelimit_storage_uri)
        self.handler = MailHandler(desk, executor=self.executor, limiter=limiter,
                                   on_stored=on_stored)
        context = tls_context(desk)
        self.controller = MailController(
            self.handler,
            hostname=s.smtp_host,
            port=s.smtp_port,
            server_hostname=s.smtp_hostname or desk.round.mailbox.rpartition("@")[2] or None,
            ident="intake",
            data_size_limit=s.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=context,
            require_starttls=bool(context) and s.smtp_require_tls,
            # One budget for a whole transaction (aiosmtpd does not restart it per line):
            # RFC 5321 §4.5.3.2 gives DATA ten minutes, which a 25 MB mail on a slow link needs.
            timeout=600,
        )

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
        self.executor.shutdown(wait=True)
