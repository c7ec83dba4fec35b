"""ingest(): normalise → store → classify → route → queue, committed in one transaction.

The only orchestrator of intake. Slow and fallible work that needs no database (the password
hash, encrypting attachments, classification) happens before the transaction opens, so the
write lock is held for milliseconds. The receipt exists only once the commit has succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake import audit, duplicates
from intake.attachments import StoredFile
from intake.classify import Suggestion
from intake.desk import Desk
from intake.maskstore import db_add_attachments, db_reporter_message, masked_fields
from intake.protect import (
    QUERY_CODE_DIGITS,
    Identity,
    hash_secret,
    new_query_code,
    normalise_code,
    verify_secret,
)
from intake.rounds import RoundEntry
from intake.scope import unscoped
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import (
    CATEGORIES,
    AttachmentRejectedError,
    CaseNotFoundError,
    InvalidSubmissionError,
    Receipt,
    Submission,
    check_channel,
    clean_text,
)

log = logging.getLogger(__name__)

PUBLIC_STATUS = {
    "received": "已收到，正在研判",
    "triaged": "已收到，正在研判",
    "accepted": "已受理",
    "transferred": "已转交有关部门办理",
    "closed": "已办结",
    "spam": "已收到，正在研判",  # never tell a bot it was caught
}
# A repeat (重复件): the matter is handled once, with the first report of it.
REPEAT_STATUS = "已与同一事项合并办理"
FIELD_LIMITS = {"title": 200, "subject_name": 100, "subject_unit": 200, "subject_post": 100}
IDENTITY_LIMITS = {"name": 50, "phone": 30, "id_number": 30, "address": 200, "email": 254,
                   "display_name": 100}
PASSWORD_MIN, PASSWORD_MAX = 6, 128
MESSAGE_MAX = 5000
# Channels where a person types into our form; the others carry whole documents (a letter,
# an e-mail) that must be taken in as they are, so only a generous safety bound applies.
FORM_CHANNELS = ("web", "api")
DOCUMENT_MAX_CHARS = 200_000

# Runs inside the item's transaction, after its row is flushed: a channel adds its own records
# (an e-mail's envelope, a queued reply carrying the code) so they commit with the item or not
# at all. Gets the session, the new row and the query code.
InTransaction = Callable[[Session, m.Submission, str], None]


@dataclass(frozen=True)
class CaseStatus:
    """What a reporter may see of their case."""

    submission_id: int
    status: str
    status_text: str
    received_at: datetime
    messages: tuple[m.Message, ...]


def ingest(
    desk: Desk, submission: Submission, *, in_transaction: InTransaction | None = None
) -> Receipt:
    """Take in one item from any channel; return its receipt after the commit.

    Raises InvalidSubmissionError (or AttachmentRejectedError) with a Chinese message naming
    the field when the item cannot be accepted as given; nothing is stored in that case.
    """
    entry = round_for(desk, submission.round_id)
    sub, original_sealed = _masked(desk, normalise(desk, submission))
    sub = replace(sub, round_id=entry.id)
    code = new_query_code()
    secret_hash = hash_secret(code, sub.password)
    late = entry.is_late(sub.received_at)
    suggestion = _suggest(entry, sub)
    if late and suggestion is not None:
        # After the round closed, whether the team still takes an item in is a person's call.
        suggestion = replace(suggestion, needs_review=True)
    fingerprint = _fingerprint(entry, sub, suggestion)
    stored: list[StoredFile] = []
    try:
        for f in sub.attachments:
            stored.append(desk.files.put(f, max_bytes=desk.settings.max_attachment_bytes))
        receipt = _commit(desk, sub, code, secret_hash, late, stored, suggestion,
                          in_transaction, fingerprint, original_sealed)
    except BaseException:
        desk.files.discard(stored, files_in_use(desk))  # no file without its item
        raise
    log.info("ingested item %s via %s (late=%s)", receipt.submission_id, sub.channel, late)
    return receipt


def _commit(
    desk: Desk, sub: Submission, code: str, secret_hash: str, late: bool,
    stored: list[StoredFile], suggestion: Suggestion | None,
    in_transaction: InTransaction | None, fingerprint: duplicates.Fingerprint | None = None,
    original_sealed: bytes | None = None,
) -> Receipt:
    sealed = None if sub.identity.is_empty() else desk.keyring.seal_identity(sub.identity)
    with desk.sessions() as session:
        begin_write(session)
        row = m.Submission(
            round_id=sub.round_id,
            via=sub.via[:200],
            channel=sub.channel,
            received_at=sub.received_at,
            title=sub.title,
            text=sub.text,
            subject_name=sub.subject_name,
            subject_unit=sub.subject_unit,
            subject_post=sub.subject_post,
            category=sub.category,
            anonymous=sub.anonymous,
            identity_sealed=sealed,
            identity_key_id=None if sealed is None else desk.keyring.key_id,
            original_sealed=original_sealed,
            late=late,
            spam=sub.suspected_bot,
            status="spam" if sub.suspected_bot else "received",
            code_lookup=desk.keyring.code_lookup(code),
            secret_hash=secret_hash,
        )
        session.add(row)
        session.flush()
        db_add_attachments(session, desk.keyring, row.id, stored)
        if suggestion is not None:
            db_set_classification(session, row, suggestion, source="service")
        if in_transaction is not None:
            in_transaction(session, row, code)
        if fingerprint is not None:  # after the channel's own links, which it does not repeat
            duplicates.db_record(session, row, fingerprint)
        session.commit()
        return Receipt(row.id, code, row.received_at, late)


def normalise(desk: Desk, sub: Submission) -> Submission:
    """Clean and validate every field; raise InvalidSubmissionError naming the first bad one."""
    check_channel(sub.channel)
    settings = desk.settings
    if sub.received_at.tzinfo is None:
        raise InvalidSubmissionError("received_at", "收件时间缺少时区")
    text = clean_text(sub.text)
    if not text:
        raise InvalidSubmissionError("text", "请填写反映的主要问题。")
    form = sub.channel in FORM_CHANNELS
    limit = settings.max_text_chars if form else DOCUMENT_MAX_CHARS
    if len(text) > limit:
        raise InvalidSubmissionError(
            "text", f"主要问题最多 {limit} 字，当前 {len(text)} 字；"
                    "可分条提交，或把详细材料作为附件上传。")
    if not PASSWORD_MIN <= len(sub.password) <= PASSWORD_MAX:
        raise InvalidSubmissionError(
            "password", f"查询密码需 {PASSWORD_MIN} 到 {PASSWORD_MAX} 个字符。")
    try:
        sub.password.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidSubmissionError("password", "查询密码含有无法识别的字符。") from exc
    fields = {}
    for name, limit in FIELD_LIMITS.items():
        value = clean_text(getattr(sub, name)).replace("\n", " ")
        if len(value) > limit:
            raise InvalidSubmissionError(name, f"此项最多 {limit} 字。")
        fields[name] = value
    category = sub.category.strip()
    if category and category not in CATEGORIES:
        raise InvalidSubmissionError("category", "问题类别不在可选范围内。")
    identity = Identity(**{
        k: clean_text(getattr(sub.identity, k)).replace("\n", " ") for k in IDENTITY_LIMITS
    })
    for name, limit in IDENTITY_LIMITS.items():
        if len(getattr(identity, name)) > limit:
            raise InvalidSubmissionError(f"reporter_{name}", f"此项最多 {limit} 字。")
    if not sub.anonymous and identity.is_empty():
        raise InvalidSubmissionError("reporter_name", "实名反映请填写姓名和联系方式。")
    if form and len(sub.attachments) > settings.max_attachments:
        raise AttachmentRejectedError(
            "attachments", f"最多上传 {settings.max_attachments} 个附件。")
    return replace(sub, text=text, category=category, identity=identity, **fields)


def _masked(desk: Desk, sub: Submission) -> tuple[Submission, bytes | None]:
    """The submission with identity hidden in its text, title and the fields naming the accused
    (what staff, the classifier and duplicates see), the originals sealed when masking changed
    anything."""
    fields = {name: getattr(sub, name) for name in ("text", *FIELD_LIMITS)}
    masked, sealed = masked_fields(desk.keyring, sub.identity, **fields)
    short = {name: masked[name][:limit] for name, limit in FIELD_LIMITS.items()}
    return replace(sub, text=masked["text"], **short), sealed


def files_in_use(desk: Desk) -> Callable[[str], bool]:
    """Whether a committed row refers to the file with this content: any row, whatever team
    it belongs to (the store shares content), so the check runs outside the viewer's scope."""

    def in_use(sha256: str) -> bool:
        try:
            with desk.sessions() as session, unscoped(session):
                return session.scalar(select(
                    select(m.Attachment.id).where(m.Attachment.sha256 == sha256).exists()
                    | select(m.InboundMail.id).where(m.InboundMail.raw_sha256 == sha256).exists()
                    | select(m.ScanFile.id).where(m.ScanFile.sha256 == sha256).exists()
                )) or False
        except Exception:
            return True  # cannot tell (the database is what failed): keep the file

    return in_use


def round_for(desk: Desk, round_id: int | None) -> RoundEntry:
    """The round an item is filed under: the one named, else the one open round.

    InvalidSubmissionError (field `round`) when none is named and several are open, or the
    round named no longer takes items (archived, or unknown).
    """
    if round_id is None:
        entry = desk.rounds.default()
        if entry is None:
            if desk.rounds.open():
                raise InvalidSubmissionError(
                    "round", "目前有多个巡察组在受理，请选择要反映的巡察轮次。")
            raise InvalidSubmissionError("round", "目前没有正在受理信访举报的巡察轮次。")
        return entry
    entry = desk.rounds.get(round_id)
    if entry is None or not entry.takes_items:
        raise InvalidSubmissionError("round", "这一轮巡察已经结束，不再受理反映。")
    return entry


def _suggest(entry: RoundEntry, sub: Submission) -> Suggestion | None:
    """The classifier's suggestion; a failure there must never cost us the item."""
    try:
        return entry.classifier.classify(sub.text, channel=sub.channel, hints=sub.hints())
    except Exception:
        log.exception("classifier failed; item stored without a suggestion")
        return None


def _fingerprint(
    entry: RoundEntry, sub: Submission, suggestion: Suggestion | None
) -> duplicates.Fingerprint | None:
    """The duplicate step's pure part; like the classifier, it must never cost us the item."""
    try:
        persons = duplicates.accused(suggestion.subjects) if suggestion is not None else ()
        return duplicates.fingerprint(sub.text, persons, duplicates.round_boilerplate(entry.cfg))
    except Exception:
        log.exception("duplicate fingerprint failed; item stored without duplicate links")
        return None


def db_set_classification(
    session: Session,
    row: m.Submission,
    s: Suggestion,
    *,
    source: str,
    staff_id: int | None = None,
) -> m.Classification:
    """Add a new classification version, make it current, and refresh the queue's copies.

    The current classification is always the newest version, so a new item needs no look-up.
    """
    previous = row.current if row.current_classification_id is not None else None
    record = s.to_record()
    cls = m.Classification(
        submission_id=row.id,
        version=previous.version + 1 if previous else 1,
        source=source,
        model_version=s.model_version,
        in_scope=s.in_scope,
        subject_role=s.subject_role,
        subjects=record["subjects"],
        candidates=record["candidates"],
        disciplines=list(s.disciplines),
        routes=list(s.routes),
        evidence=record["evidence"],
        confidence=s.confidence,
        needs_review=s.needs_review,
        created_by=staff_id,
    )
    session.add(cls)
    session.flush()
    row.current_classification_id = cls.id
    row.in_scope = s.in_scope
    row.needs_review = s.needs_review
    row.subject_role = s.subject_role
    row.first_route = next((r for r in s.routes if r != "accept"), None)
    if previous is not None:
        session.execute(delete(m.SubmissionLabel).where(m.SubmissionLabel.submission_id == row.id))
    labels = {("discipline", d) for d in s.disciplines} | {("route", r) for r in s.routes}
    session.add_all(
        m.SubmissionLabel(submission_id=row.id, kind=k, value=v, received_at=row.received_at)
        for k, v in sorted(labels)
    )
    return cls


def find_case(desk: Desk, session: Session, code: str, password: str) -> m.Submission:
    """The case for a query code and password; CaseNotFoundError for either being wrong."""
    code = normalise_code(code)
    row = None
    if len(code) == QUERY_CODE_DIGITS:
        row = session.scalar(
            select(m.Submission).where(m.Submission.code_lookup == desk.keyring.code_lookup(code))
        )
    if row is None:
        # Spend the same time as a real check, so timing does not tell codes apart.
        verify_secret(_dummy_hash(), code, password)
        raise CaseNotFoundError()
    if not verify_secret(row.secret_hash, code, password):
        raise CaseNotFoundError()
    return row


def check_status(desk: Desk, code: str, password: str) -> CaseStatus:
    """What a reporter sees on the status page or through the API."""
    with desk.sessions() as session:
        row = find_case(desk, session, code, password)
        return case_status(row)


def case_status(row: m.Submission) -> CaseStatus:
    return CaseStatus(
        submission_id=row.id,
        status=row.status,
        status_text=REPEAT_STATUS if row.repeat_of_id is not None else PUBLIC_STATUS[row.status],
        received_at=row.received_at,
        messages=tuple(row.messages),
    )


def add_reporter_message(desk: Desk, code: str, password: str, text: str) -> m.Message:
    """A follow-up from the reporter joins their case as a message."""
    text = _message_text(text)
    with desk.sessions() as session:  # the slow password check holds no write lock
        case_id = find_case(desk, session, code, password).id
    return add_reporter_message_to(desk, case_id, text)


def add_reporter_message_to(desk: Desk, submission_id: int, text: str) -> m.Message:
    """The same, for a reporter whose code and password were checked earlier in this visit.

    Stored masked like an item's text (with the case's identity); the original is sealed."""
    return _post_message(desk, submission_id, "reporter", _message_text(text))


def add_team_message(desk: Desk, submission_id: int, staff_id: int, text: str) -> m.Message:
    """A reply from the team, shown to the reporter on the status page."""
    return _post_message(desk, submission_id, "team", _message_text(text), staff_id)


def _message_text(text: str) -> str:
    text = clean_text(text)
    if not text:
        raise InvalidSubmissionError("text", "请填写内容。")
    if len(text) > MESSAGE_MAX:
        raise InvalidSubmissionError("text", f"内容最多 {MESSAGE_MAX} 字。")
    return text


def _post_message(
    desk: Desk, submission_id: int, author: str, text: str, staff_id: int | None = None
) -> m.Message:
    with desk.sessions() as session:
        begin_write(session)
        case = session.get(m.Submission, submission_id)
        if case is None:
            raise CaseNotFoundError()
        if author == "reporter":
            msg = db_reporter_message(session, desk.keyring, case, text)
        else:
            msg = m.Message(submission_id=submission_id, author=author, text=text,
                            staff_id=staff_id)
            session.add(msg)
        if author == "team":  # what the team tells a reporter is on record, by whom
            session.flush()
            staff = session.get(m.StaffUser, staff_id) if staff_id is not None else None
            audit.db_record(session, "reply.send", actor_id=staff_id,
                            actor_label=staff.username if staff else "system",
                            submission_id=submission_id, message_id=msg.id)
        session.commit()
    log.info("message %s on item %s from %s", msg.id, submission_id, author)
    return msg


@cache
def _dummy_hash() -> str:
    return hash_secret("0" * 16, "timing-equaliser")
