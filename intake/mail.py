"""The e-mail channel's core: one received message becomes a new item or a follow-up.

`take_in()` is called by the SMTP server (and by tests and benchmarks directly) once per
message, after the message was fully received and before the server answers. It returns only
after everything is committed, so the server says 250 only for stored mail.

- The raw message is kept, encrypted (it carries the sender); the envelope is sealed.
- The sender's address and display name are reporter identity: sealed, and masked in the
  stored subject and body like the web form's (`intake.masking`); attachment names are sealed.
- A reply quoting a query code joins that case only when it comes from the address that sent
  the case; a code quoted by anyone else makes a new item, linked as a possible duplicate, so
  one reporter's case never leaks into another's.
- Spam is scored and marked, never dropped.
- An automatic reply with the query code is queued in the same transaction, unless the loop
  guards (RFC 3834) or the per-recipient limit say no.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.attachments import (
    SNIFF_BYTES,
    StoredFile,
    allowed_type,
    human_size,
)
from intake.desk import Desk
from intake.mailparse import MailAttachment, ParsedMail, parse_mail
from intake.mailspam import SpamVerdict, score_spam
from intake.maskstore import db_add_attachments, db_reporter_message
from intake.outbox import (
    ReplyLimiter,
    autoreply_body,
    compose_reply,
    db_queue,
)
from intake.pipeline import DOCUMENT_MAX_CHARS, files_in_use, ingest
from intake.protect import Identity, normalise_code
from intake.round import Round
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IncomingFile, Submission, clean_text

log = logging.getLogger(__name__)

ENVELOPE_CONTEXT = b"mail-envelope"
RAW_NAME = "原始邮件.eml"
EMPTY_BODY = "（邮件没有正文，请查看附件或原始邮件。）"
# A query code as people write it: 16 digits, maybe grouped by spaces or dashes.
CODE_RE = re.compile(r"(?<!\d)\d{4}(?:[ \-\u3000－]?\d{4}){3}(?!\d)")
PASSWORD_LINE_RE = re.compile(r"(查询密码\s*[：:]\s*)\S+")
# Characters nobody mistakes for another when copying by hand.
PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # noqa: S105
PASSWORD_LENGTH = 10
NO_REPLY_LOCALPARTS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|listserv|majordomo)"
    r"([+\-.].*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Envelope:
    """What the SMTP conversation said, apart from the message itself."""

    peer: str = ""
    helo: str = ""
    mail_from: str = ""
    rcpt_tos: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailOutcome:
    inbound_id: int
    submission_id: int  # the new item, or the case the follow-up joined
    followup: bool
    spam: bool
    autoreply: str  # "queued" or why not
    linked: tuple[int, ...] = field(default=())  # cases this mail was linked to as related


@dataclass
class _Prepared:
    mail: ParsedMail
    verdict: SpamVerdict
    sender: str  # the From address (or the envelope's when From has none)
    sender_key: str | None
    reply_to: str  # where an automatic reply would go: the envelope sender (RFC 3834 §4)
    # From and the envelope sender name the same address. A follow-up joins a case only then:
    # with just a forged From, the confirmation would go to the forger and tell them whose
    # case the code belongs to.
    sender_agrees: bool
    files: list[MailAttachment]
    not_kept: list[str]  # attachments only in the raw message, with why


def take_in(
    desk: Desk,
    raw: bytes,
    envelope: Envelope,
    *,
    limiter: ReplyLimiter | None = None,
    received_at: datetime | None = None,
) -> MailOutcome:
    """Store one received message; return after the commit."""
    received_at = received_at or m.utcnow()
    prepared = _prepare(desk, raw, envelope)
    original = desk.files.put_original(raw, RAW_NAME, "message/rfc822")
    stored: list[StoredFile] = []
    try:
        case_id, code, quoted = _find_quoted_case(desk, prepared)
        if case_id is not None:
            stored = [_put(desk, a) for a in prepared.files]
            return _add_followup(desk, prepared, envelope, original, stored, case_id, code,
                                 received_at, limiter)
        return _new_item(desk, prepared, envelope, original, quoted, received_at, limiter)
    except BaseException:
        desk.files.discard([original, *stored], files_in_use(desk))
        raise


def _prepare(desk: Desk, raw: bytes, envelope: Envelope) -> _Prepared:
    mail = parse_mail(raw)
    verdict = score_spam(mail, threshold=desk.settings.spam_threshold)
    sender = (mail.from_address or envelope.mail_from).strip().lower()
    files: list[MailAttachment] = []
    not_kept: list[str] = []
    for number, a in enumerate(mail.attachments, start=1):
        name = f"邮件中第 {number} 个附件"  # its file name may be identity (张三-139….png)
        if not a.data:
            not_kept.append(f"{name}（空文件）")
        elif len(a.data) > desk.settings.max_attachment_bytes:
            not_kept.append(f"{name}（超过 {human_size(desk.settings.max_attachment_bytes)}）")
        elif allowed_type(a.data[:SNIFF_BYTES]) is None:
            not_kept.append(f"{name}（格式不在可单独保存之列）")
        else:
            files.append(a)
    return _Prepared(
        mail=mail,
        verdict=verdict,
        sender=sender,
        sender_key=desk.keyring.sender_lookup(sender) if sender else None,
        reply_to=envelope.mail_from.strip(),
        sender_agrees=bool(sender) and sender == envelope.mail_from.strip().lower(),
        files=files,
        not_kept=not_kept,
    )


def _put(desk: Desk, a: MailAttachment) -> StoredFile:
    return desk.files.put(IncomingFile(a.filename, io.BytesIO(a.data)),
                          max_bytes=desk.settings.max_attachment_bytes)


def find_codes(text: str) -> list[str]:
    """Query codes quoted in a text (full-width digits too), in order, without repeats."""
    seen = dict.fromkeys(normalise_code(mt.group()) for mt in CODE_RE.finditer(text))
    return list(seen)[:5]


def _find_quoted_case(desk: Desk, p: _Prepared) -> tuple[int | None, str, list[int]]:
    """The case this mail follows up (same sender) with its code, and other cases it quotes."""
    codes = find_codes(f"{p.mail.subject}\n{p.mail.text}")
    quoted: list[int] = []
    if not codes:
        return None, "", quoted
    with desk.sessions() as session:
        for code in codes:
            row = session.scalar(select(m.Submission).where(
                m.Submission.code_lookup == desk.keyring.code_lookup(code)))
            if row is None:
                continue
            if (p.sender_key and p.sender_agrees and row.sender_lookup
                    and hmac.compare_digest(row.sender_lookup, p.sender_key)):
                return row.id, code, []
            quoted.append(row.id)
    return None, "", quoted


def redact_codes(text: str) -> str:
    """Hide query codes and quoted passwords in text that will be stored and shown."""
    text = PASSWORD_LINE_RE.sub(r"\1［已隐去］", text)
    return CODE_RE.sub(lambda mt: f"［查询码尾号 {normalise_code(mt.group())[-4:]}］", text)


def _body(p: _Prepared) -> str:
    """The item's text: the body as written, with what was not kept separately noted.

    Codes and quoted passwords are hidden here. The sender's own address and name, which mail
    clients quote in reply headers ("收件人：张三 <zhang@…>"), are identity: `ingest` (or
    `db_reporter_message`) masks them with every other identity, keeping the original sealed.
    """
    text = clean_text(p.mail.text) or EMPTY_BODY
    if p.not_kept:
        text += "\n\n〔以下附件未单独保存，可在原始邮件中查看：" + "；".join(p.not_kept) + "〕"
    text = redact_codes(text)
    if len(text) > DOCUMENT_MAX_CHARS:
        note = "\n\n〔正文过长，此处截断；完整内容见原始邮件。〕"
        text = text[: DOCUMENT_MAX_CHARS - len(note)] + note
    return text


def _subject(p: _Prepared) -> str:
    """The subject: one line, with codes hidden (identity is masked where it is stored)."""
    return clean_text(redact_codes(p.mail.subject)).replace("\n", " ")


def sender_identity(p: _Prepared) -> Identity:
    """The sender's address and display name: the reporter identity a mail carries."""
    return Identity(email=clean_text(p.sender)[:254],
                    display_name=clean_text(p.mail.from_name).replace("\n", " ")[:100])


def _new_item(
    desk: Desk, p: _Prepared, envelope: Envelope, original: StoredFile, quoted: list[int],
    received_at: datetime, limiter: ReplyLimiter | None,
) -> MailOutcome:
    password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
    block = _reply_block_reason(desk, p, envelope, limiter)
    result: dict[str, int] = {}
    entry = mail_round(desk, envelope.rcpt_tos)

    def record(session: Session, row: m.Submission, code: str) -> None:
        row.sender_lookup = p.sender_key
        same = session.scalar(select(m.InboundMail.submission_id).where(
            m.InboundMail.raw_sha256 == original.sha256,
            m.InboundMail.submission_id.is_not(None)).limit(1))
        inbound = _inbound_row(desk, p, envelope, original, received_at, submission_id=row.id,
                               autoreply=block or "queued")
        session.add(inbound)
        for other in quoted:
            session.add(m.DuplicateLink(
                submission_id=row.id, other_id=other, reason="quoted_code",
                evidence=["邮件引用了另一件来信的查询码，但发件地址与那件来信不同，未并入。"]))
        if same is not None and same not in quoted:
            session.add(m.DuplicateLink(
                submission_id=row.id, other_id=same, reason="same_raw", score=1.0,
                evidence=["与此前收到的一封邮件逐字节相同（可能是重发）。"]))
        if block in (None, "spam"):
            # Suspected spam gets its reply written but held: if a triager rescues the item,
            # the reporter still receives the code; if not, nobody is answered.
            body = autoreply_body(desk, code=code, password=password, received_at=received_at,
                                  round_=entry.cfg if entry else None)
            _queue_reply(session, desk, p, body, "已收到您的来信", kind="autoreply",
                         submission_id=row.id, held=block == "spam",
                         round_=entry.cfg if entry else None)
        session.flush()
        result["inbound"] = inbound.id

    sub = Submission(
        channel="email",
        received_at=received_at,
        text=_body(p),
        password=password,
        title=_subject(p)[:200],
        anonymous=True,  # a sender address is not a declared real name (实名)
        identity=sender_identity(p),
        attachments=tuple(IncomingFile(a.filename, io.BytesIO(a.data)) for a in p.files),
        suspected_bot=p.verdict.is_spam,
        round_id=entry.id if entry else None,
    )
    receipt = ingest(desk, sub, in_transaction=record)
    log.info("mail %s stored as item %s (spam=%s, reply=%s)", result["inbound"],
             receipt.submission_id, p.verdict.is_spam, block or "queued")
    return MailOutcome(result["inbound"], receipt.submission_id, False, p.verdict.is_spam,
                       block or "queued", tuple(quoted))


def _add_followup(
    desk: Desk, p: _Prepared, envelope: Envelope, original: StoredFile,
    stored: list[StoredFile], case_id: int, code: str, received_at: datetime,
    limiter: ReplyLimiter | None,
) -> MailOutcome:
    block = _reply_block_reason(desk, p, envelope, limiter)
    text = _body(p)
    if p.mail.subject:
        text = f"【邮件补充】{_subject(p)}\n\n{text}"
    with desk.sessions() as session:
        begin_write(session)
        case = session.get_one(m.Submission, case_id)
        msg = db_reporter_message(session, desk.keyring, case, text, at=received_at,
                                  also=sender_identity(p))
        session.flush()
        db_add_attachments(session, desk.keyring, case_id, stored, message_id=msg.id)
        inbound = _inbound_row(desk, p, envelope, original, received_at, message_id=msg.id,
                               autoreply=block or "queued")
        session.add(inbound)
        if block is None:
            entry = desk.rounds.get(case.round_id)
            round_ = entry.cfg if entry else None
            body = autoreply_body(desk, code=code, password="", received_at=received_at,
                                  followup=True, round_=round_)
            _queue_reply(session, desk, p, body, "已收到您的补充材料", kind="followup_ack",
                         submission_id=case_id, round_=round_)
        session.commit()
        inbound_id = inbound.id
    log.info("mail %s joined item %s as message %s", inbound_id, case_id, msg.id)
    return MailOutcome(inbound_id, case_id, True, p.verdict.is_spam, block or "queued")


def _queue_reply(
    session: Session, desk: Desk, p: _Prepared, body: str, subject: str, *, kind: str,
    submission_id: int, held: bool = False, round_: Round | None = None,
) -> None:
    msg = compose_reply(desk, to=p.reply_to, body=body, subject=subject,
                        in_reply_to=p.mail.message_id, round_=round_)
    db_queue(session, desk, msg, kind=kind, recipient_key=desk.keyring.sender_lookup(p.reply_to),
             submission_id=submission_id, held=held)


def _inbound_row(
    desk: Desk, p: _Prepared, envelope: Envelope, original: StoredFile, received_at: datetime,
    *, autoreply: str, submission_id: int | None = None, message_id: int | None = None,
) -> m.InboundMail:
    sealed = desk.keyring.seal(json.dumps({
        "peer": envelope.peer, "helo": envelope.helo, "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos), "message_id": p.mail.message_id,
    }, ensure_ascii=False).encode("utf-8"), ENVELOPE_CONTEXT)
    return m.InboundMail(
        received_at=received_at,
        envelope_sealed=sealed,
        raw_storage_name=original.storage_name,
        raw_sha256=original.sha256,
        raw_size=original.size,
        submission_id=submission_id,
        message_id=message_id,
        html_only=p.mail.html_only,
        defects=list(p.mail.defects)[:50],
        spam_score=round(p.verdict.score, 3),
        spam_reasons=list(p.verdict.reasons),
        autoreply=autoreply,
    )


def _reply_block_reason(
    desk: Desk, p: _Prepared, envelope: Envelope, limiter: ReplyLimiter | None
) -> str | None:
    """Why no automatic reply may go out for this message, or None when one may (RFC 3834)."""
    h = p.mail.headers
    to = p.reply_to.lower()
    own = accepted_mailboxes(desk) | ({desk.settings.mail_from.lower()}
                                      if desk.settings.mail_from else set())
    if not desk.settings.autoreply:
        return "disabled"
    if not to or "@" not in to:
        return "bounce"  # the null sender: a bounce or another automatic message
    if NO_REPLY_LOCALPARTS.match(to.partition("@")[0]) or NO_REPLY_LOCALPARTS.match(
            p.sender.partition("@")[0]):
        return "bounce"
    if h.get("auto-submitted", "no").strip().lower() not in ("", "no"):
        return "auto_submitted"
    if h.get("precedence", "").strip().lower() in ("bulk", "list", "junk"):
        return "bulk"
    if h.get("list-id") or h.get("list-unsubscribe") or h.get("list-post"):
        return "list"
    if "multipart/report" in h.get("content-type", "").lower():
        return "bounce"
    suppress = h.get("x-auto-response-suppress", "").lower()
    if any(w in suppress for w in ("all", "autoreply", "oof")):
        return "suppressed"
    if to in own or p.sender in own:
        return "own_address"
    if p.verdict.is_spam:
        return "spam"  # answering spam only confirms the address to whoever forged it
    if limiter is not None:
        try:
            allowed = limiter.allow(desk.keyring.sender_lookup(to))
        except Exception:  # the limit store (Redis) is down: the mail must still be taken in
            log.warning("reply limiter unavailable; replying without the per-sender limit")
            allowed = True
        if not allowed:
            return "rate_limited"
    return None


def mailbox_aliases(desk: Desk) -> list[str]:
    return [a.strip() for a in desk.settings.smtp_extra_mailboxes.split(",") if a.strip()]


def mail_round(desk: Desk, rcpt_tos: tuple[str, ...]) -> RoundEntry | None:
    """The round a mail is filed under: the first recipient that is a round's mailbox; mail
    only to an extra mailbox (`smtp_extra_mailboxes`) goes to the one open round."""
    for address in rcpt_tos:
        if (entry := desk.rounds.by_mailbox(address.strip())) is not None:
            return entry
    return desk.rounds.default() or desk.rounds.newest()


def accepted_mailboxes(desk: Desk) -> set[str]:
    """Recipient addresses this service takes mail for: the mailboxes of every round still
    taking items, and the extra ones."""
    boxes = {box for entry in desk.rounds.taking() for box in entry.mailboxes()}
    return boxes | {a.lower() for a in mailbox_aliases(desk) if a}
