"""SQLAlchemy 2.0 models: the data model that outlives everything else.

Every channel produces one `Submission`. What the service suggests is a versioned
`Classification`; a triager's confirmation or correction is a `Decision` that makes a new
classification current. The current classification's queue-relevant facts are copied onto the
submission (and multi-valued ones into `submission_labels`) so the triage queue filters and
pages on indexes alone, at a million rows as at ten.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

CHANNELS = ("web", "api", "email", "hotline", "letter", "box", "visit")
STATUSES = ("received", "triaged", "accepted", "transferred", "closed", "spam")
STAFF_ROLES = ("duty_officer", "triager", "team_leader", "office", "auditor", "admin")
ROUND_STATES = ("open", "closed", "handed_over", "archived")
SUBJECT_ROLES = ("leadership", "subordinate_head", "key_post", "staff", "outside_official",
                 "non_official", "unknown")
LABEL_KINDS = ("discipline", "route")
DUPLICATE_REASONS = ("quoted_code", "same_raw", "exact", "near", "same_matter")
OUTBOX_STATUSES = ("queued", "held", "sent", "failed")
# How a case is closed (contract: staff-api.md `close`); `repeat` marks a registered repeat
# (重复件), closed because the first item is handled.
DISPOSALS = ("talk_inquiry", "preliminary_check", "shelved", "concluded", "handed_to_commission",
             "transferred_done", "no_action", "repeat")
TRANSFER_STATUSES = ("sent", "accepted", "answered", "returned")
REPLY_KINDS = ("accepted", "result", "returned")
DISPATCH_METHODS = ("exchange", "post", "system", "hand")
STEP_KINDS = ("accepted", "keeper", "transferred", "dispatched", "reply", "reminded", "reopened",
              "repeat", "repeat_undone", "extended", "closed", "notice")
NOTICE_KINDS = ("accepted", "transferred", "result")
NOTICE_DELIVERIES = ("status_page", "email", "letter", "callback")
NOTICE_STATES = ("pending", "done", "failed")
# What the retention rule (intake.retention) leaves of a destroyed title, text or message.
PURGED_TEXT = "［已按保存期限销毁］"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar = {
        datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON
    }


class Team(Base):
    """An inspection team (巡察组). Rounds belong to one team; staff to one or more."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    """A staff member's membership of a team: what they may see is their teams' rounds."""

    __tablename__ = "team_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)


class Round(Base):
    """An inspection round as loaded from its round file (kept verbatim in source_text).

    A round is found by its `slug`; loading a changed file with the same slug updates it.
    `state` moves open → closed → handed_over → archived (intake.rounds); `purged_at` is set
    when the retention rule destroyed its identities, originals and texts.
    """

    __tablename__ = "rounds"
    __table_args__ = (CheckConstraint(_in("state", ROUND_STATES), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(String(200), default="")
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_level: Mapped[str] = mapped_column(String(30))
    unit: Mapped[dict[str, Any]]  # short name, places, county, subordinates
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    hotline_number: Mapped[str] = mapped_column(String(50), default="")
    hotline_hours: Mapped[list[Any]] = mapped_column(default=list)  # ["08:00-12:00", ...]
    mailbox: Mapped[str] = mapped_column(String(254), default="")
    postal_box: Mapped[str] = mapped_column(String(200), default="")
    suggestion_boxes: Mapped[list[Any]] = mapped_column(default=list)
    scope_roles: Mapped[list[Any]]
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Unused since rounds are tenants (every round not archived takes items); kept for the
    # rows written before.
    active: Mapped[bool] = mapped_column(default=True)

    roster: Mapped[list[RosterEntry]] = relationship(
        back_populates="round", order_by="RosterEntry.id"
    )


class RosterEntry(Base):
    """A named member of the round's roster (花名册)."""

    __tablename__ = "roster_entries"
    __table_args__ = (CheckConstraint(_in("role", SUBJECT_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    post: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    place: Mapped[str] = mapped_column(String(100), default="")

    round: Mapped[Round] = relationship(back_populates="roster")


class Submission(Base):
    """One item from any channel, normalised. Identity is sealed; the code is never stored."""

    __tablename__ = "submissions"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("anonymous OR identity_sealed IS NOT NULL", name="named_has_identity"),
        CheckConstraint(f"disposal IS NULL OR {_in('disposal', DISPOSALS)}", name="disposal"),
        Index("ix_submissions_queue", "received_at", "id"),
        Index("ix_submissions_status_queue", "status", "received_at", "id"),
        Index("ix_submissions_channel_queue", "channel", "received_at", "id"),
        Index("ix_submissions_review_queue", "needs_review", "received_at", "id"),
        Index("ix_submissions_scope_queue", "in_scope", "received_at", "id"),
        # A team's queue (intake/scope.py filters on round_id): equality or a short IN list,
        # then the queue's order, so paging reads only the team's newest rows.
        Index("ix_submissions_round_queue", "round_id", "received_at", "id"),
        # The statistics (intake.stats): every column the counts group or filter by, in the
        # order they group, so the counts scan this index alone, in order, without sorting.
        Index("ix_submissions_stats", "round_id", "status", "channel", "in_scope",
              "subject_role", "disposal", "anonymous", "received_at", "repeat_of_id",
              "close_extension_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    subject_name: Mapped[str] = mapped_column(String(100), default="")
    subject_unit: Mapped[str] = mapped_column(String(200), default="")
    subject_post: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(32), default="")
    anonymous: Mapped[bool] = mapped_column(default=True)
    identity_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    identity_key_id: Mapped[str | None] = mapped_column(String(16))
    # title and text are stored masked (intake.masking); when masking changed them, the
    # originals are sealed here, shown only on a team leader's audited reveal.
    original_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    late: Mapped[bool] = mapped_column(default=False)
    spam: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="received")
    code_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    # Copied from the current classification for the queue's indexes.
    current_classification_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifications.id", use_alter=True, name="fk_submissions_current_cls")
    )
    in_scope: Mapped[bool | None] = mapped_column(Boolean)
    needs_review: Mapped[bool] = mapped_column(default=True)
    subject_role: Mapped[str | None] = mapped_column(String(20))
    first_route: Mapped[str | None] = mapped_column(String(32))
    # Keyed digest of the sender's e-mail address (e-mail channel): matches follow-ups.
    sender_lookup: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where a web report came from when its link says so: the poster of a suggestion box
    # ("东岭村村委会意见箱二维码"). Never about the reporter.
    via: Mapped[str] = mapped_column(String(200), default="")
    # After triage (intake.leads): how the case was closed and when; days the close limit
    # was extended (30, once); the earlier item this one repeats (重复件).
    disposal: Mapped[str | None] = mapped_column(String(24))
    closed_at: Mapped[datetime | None]
    close_extension_days: Mapped[int] = mapped_column(default=0, server_default="0")
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="submission", order_by="Attachment.id"
    )
    current: Mapped[Classification | None] = relationship(
        foreign_keys=[current_classification_id], post_update=True
    )
    messages: Mapped[list[Message]] = relationship(
        order_by="Message.id", back_populates="submission"
    )


class SubmissionLabel(Base):
    """Multi-valued facts of the current classification (disciplines, routes) for filtering."""

    __tablename__ = "submission_labels"
    __table_args__ = (
        CheckConstraint(_in("kind", LABEL_KINDS), name="kind"),
        Index("ix_submission_labels_queue", "kind", "value", "received_at", "submission_id"),
        {"sqlite_with_rowid": False},  # the composite key is the table; no hidden rowid index
    )

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[datetime]


class Attachment(Base):
    """A file received with a submission, encrypted at rest under a keyed storage name."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    # The name staff see and download (附件1.png); the uploaded name is sealed in name_sealed.
    original_name: Mapped[str] = mapped_column(String(255))
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    storage_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the file came with a follow-up (e.g. a reply e-mail) rather than the item.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    submission: Mapped[Submission] = relationship(back_populates="attachments")


class Classification(Base):
    """One version of what is suggested or decided about a submission."""

    __tablename__ = "classifications"
    __table_args__ = (
        UniqueConstraint("submission_id", "version"),
        CheckConstraint("source IN ('service', 'staff')", name="source"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed through the (submission_id, version) unique constraint.
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    version: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(50), default="")
    in_scope: Mapped[bool]
    subject_role: Mapped[str] = mapped_column(String(20))
    subjects: Mapped[list[Any]]
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    disciplines: Mapped[list[Any]]
    routes: Mapped[list[Any]]
    evidence: Mapped[list[Any]]
    confidence: Mapped[float] = mapped_column(Float)
    needs_review: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class Decision(Base):
    """A triager's confirmation or correction of the classification they were shown."""

    __tablename__ = "decisions"
    __table_args__ = (CheckConstraint("action IN ('confirm', 'correct')", name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(16))
    reviewed_id: Mapped[int] = mapped_column(ForeignKey("classifications.id"))
    result_id: Mapped[int] = mapped_column(ForeignKey("classifications.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """A message on a case between the team and the reporter."""

    __tablename__ = "messages"
    __table_args__ = (CheckConstraint("author IN ('team', 'reporter')", name="author"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)  # masked like an item's text
    original_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    submission: Mapped[Submission] = relationship(back_populates="messages")


class StaffUser(Base):
    """A member of the team's staff. Sessions are `StaffSession` rows; `session_epoch` (from
    the signed-cookie sessions before them) only counts password changes now."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Second factor (TOTP): the secret sealed with the keyring; pending until confirmed with a
    # code. The last accepted time step keeps a code from being used twice.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class StaffToken(Base):
    """A personal API token (`intake users token`): acts with its user's role and teams.
    Only a digest is kept."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    token_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in staff member's session, held here so that ending it ends it.

    The cookie carries a random id; only its SHA-256 is stored. `awaiting_code`: the password
    was right and the second factor is still to come (the session opens no page yet).
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    awaiting_code: Mapped[bool] = mapped_column(default=False)


class CaseVisit(Base):
    """A reporter's visit to their case on the public status page, held here so that leaving
    ends it: the cookie carries a random id (no item number); only its SHA-256 is stored."""

    __tablename__ = "case_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"),
                                               index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublicFormKey(Base):
    """A public report form already sent (a digest of its random key), so that a resend
    stores nothing twice; not linked to the item it made."""

    __tablename__ = "public_form_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LoginThrottle(Base):
    """Failed logins per account name (existing or not), whatever address they came from.

    `account_key` is a keyed digest of the name typed, so a password typed into the name field
    is not kept, and a name that does not exist is throttled exactly like one that does.
    """

    __tablename__ = "login_throttles"

    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(index=True)
    locked_until: Mapped[datetime | None]


class AuditEvent(Base):
    """An append-only record of who did what: reveals, exports, decisions, logins.

    Events form a hash chain (intake/audit/chain.py): `seq` numbers them without gaps,
    `prev_hash` is the previous event's `hash`, and `hash` is an HMAC over every field.
    Triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_submission", "submission_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The audit chain's head: one row, updated with every event in the event's transaction,
    so appends are serialised (PostgreSQL row-locks it; SQLite has one writer)."""

    __tablename__ = "audit_chain"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class InboundMail(Base):
    """One message received over SMTP, whatever it became: a new item or a follow-up message.

    The raw message is kept encrypted in the attachment store (it carries the sender); the
    envelope (peer address, HELO, MAIL FROM, recipients) is sealed here for the same reason.
    """

    __tablename__ = "inbound_mails"
    __table_args__ = (
        CheckConstraint("(submission_id IS NULL) <> (message_id IS NULL)", name="one_outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    envelope_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    raw_storage_name: Mapped[str] = mapped_column(String(64))
    raw_sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_size: Mapped[int] = mapped_column(Integer)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    html_only: Mapped[bool] = mapped_column(default=False)
    defects: Mapped[list[Any]] = mapped_column(default=list)
    spam_score: Mapped[float] = mapped_column(Float, default=0.0)
    spam_reasons: Mapped[list[Any]] = mapped_column(default=list)
    # "queued", or why no automatic reply was sent ("bulk", "auto_submitted", "spam", …).
    autoreply: Mapped[str] = mapped_column(String(32), default="")


class DuplicateLink(Base):
    """A possible duplicate or related item, shown to triagers; never merged automatically."""

    __tablename__ = "duplicate_links"
    __table_args__ = (
        UniqueConstraint("submission_id", "other_id", "reason"),
        CheckConstraint(_in("reason", DUPLICATE_REASONS), name="reason"),
        CheckConstraint("submission_id <> other_id", name="distinct"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))  # the newer item
    other_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMail(Base):
    """A message the service sends (auto-replies), queued in the item's transaction.

    The message itself is sealed (it carries the query code and the reporter's address) and
    wiped once sent; the row stays as the record that a reply went out.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient_lookup: Mapped[str] = mapped_column(String(64), index=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


# --- The duty desk: calls, visits, appointments, scanned letters (issue 4) ---

APPOINTMENT_STATUSES = ("requested", "confirmed", "declined", "cancelled")
SCAN_SOURCES = ("postal", "box")
OCR_STATUSES = ("pending", "running", "done", "failed")


class Device(Base):
    """A call-centre system allowed to push call logs; only a digest of its token is kept."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    # The team whose open round(s) its calls are filed under (null: the service's one round).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiClient(Base):
    """A trusted API client (a "码上巡察" backend submitting for many people from one address).

    Only a digest of its token is kept; `rate_limit` (flask-limiter syntax) overrides the
    default for trusted clients when set.
    """

    __tablename__ = "api_clients"
    __table_args__ = (
        # One active client per name; a revoked name may be given to a new token.
        Index("ix_api_clients_active_name", "name", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DeskEntry(Base):
    """How a duty-desk item was taken in: who logged it, from which device, what was flagged.

    `flags` holds facts for staff, never reasons to refuse: "outside_hours" (a call outside
    the published hotline hours), "non_working_day", "before_open", "after_close".
    """

    __tablename__ = "desk_entries"
    __table_args__ = (UniqueConstraint("device_id", "external_id"),)

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    # The call-centre's own id for the call: a repeated push finds the item already taken.
    external_id: Mapped[str | None] = mapped_column(String(100))
    flags: Mapped[list[Any]] = mapped_column(default=list)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppointmentSlot(Base):
    """A time the team offers for face-to-face talks (预约面谈)."""

    __tablename__ = "appointment_slots"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200), default="")
    published: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    """A request for a talk; the item itself (with its query code) is its submission.

    `booked_slot_id` is set only while the appointment is confirmed, and is unique: the
    database itself refuses a second confirmed booking of one slot.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
        CheckConstraint("(status = 'confirmed') = (booked_slot_id IS NOT NULL)", name="booked"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    requested_slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id"), index=True)
    booked_slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment_slots.id"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="requested")
    note: Mapped[str] = mapped_column(Text, default="")  # shown to the requester
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]

    slot: Mapped[AppointmentSlot] = relationship(foreign_keys=[slot_id])


class ScanBatch(Base):
    """One opening of a suggestion box, or one day's post: many files, many letters."""

    __tablename__ = "scan_batches"
    __table_args__ = (CheckConstraint(_in("source", SCAN_SOURCES), name="source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(200))  # which box, or the postal box
    opened_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # False while the upload streams in; a batch whose upload broke off keeps what arrived.
    complete: Mapped[bool] = mapped_column(default=False)

    files: Mapped[list[ScanFile]] = relationship(order_by="ScanFile.seq")
    letters: Mapped[list[ScanLetter]] = relationship(order_by="ScanLetter.seq")


class ScanFile(Base):
    """An uploaded image or PDF, kept encrypted as received; `error` says why it has no pages."""

    __tablename__ = "scan_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("scan_batches.id"), index=True)
    seq: Mapped[int]
    # The name shown (附件1.pdf, by seq); the uploaded name is sealed in name_sealed.
    original_name: Mapped[str] = mapped_column(String(255))
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_name: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")


class ScanLetter(Base):
    """Pages grouped as one letter or note; once submitted it is an item like any other."""

    __tablename__ = "scan_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("scan_batches.id"), index=True)
    seq: Mapped[int]
    # The text as the officer corrected it; None until they save, the OCR text till then.
    text: Mapped[str | None] = mapped_column(Text)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), unique=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    pages: Mapped[list[ScanPage]] = relationship(order_by="ScanPage.position")


class ScanPage(Base):
    """One page of a scanned file, its place in a letter, and its OCR result."""

    __tablename__ = "scan_pages"
    __table_args__ = (
        CheckConstraint(_in("ocr_status", OCR_STATUSES), name="ocr_status"),
        Index("ix_scan_pages_ocr_due", "ocr_status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("scan_batches.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("scan_files.id"), index=True)
    page_no: Mapped[int]  # 1-based page within its file
    letter_id: Mapped[int] = mapped_column(ForeignKey("scan_letters.id"), index=True)
    position: Mapped[int]  # order within the letter
    ocr_status: Mapped[str] = mapped_column(String(16), default="pending")
    ocr_text: Mapped[str] = mapped_column(Text, default="")
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_seconds: Mapped[float | None] = mapped_column(Float)
    ocr_rotation: Mapped[int] = mapped_column(default=0)
    ocr_error: Mapped[str] = mapped_column(Text, default="")
    ocr_attempts: Mapped[int] = mapped_column(default=0)
    ocr_claimed_at: Mapped[datetime | None]
    ocr_claim: Mapped[str | None] = mapped_column(String(32))

    file: Mapped[ScanFile] = relationship()


# --- Possible duplicates across channels (issue 5) ---


class TextSignature(Base):
    """Index keys of an item's text, for finding possible duplicates without a full scan.

    `band` 0.. holds one MinHash LSH band of the normalised text; -1 the exact-text hash; -2,
    -3, … one roster person the item accuses. Each key is hashed together with its band, so
    one index on `hash` finds every kind of match at once.
    """

    __tablename__ = "text_signatures"
    __table_args__ = (
        Index("ix_text_signatures_lookup", "hash", "submission_id"),
        {"sqlite_with_rowid": False},
    )

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hash: Mapped[int] = mapped_column(BigInteger)


# --- The lead's life after triage (issue 13): ledger, keeper, transfers, feedback ---


class RoundCounter(Base):
    """The last number a round's series gave out (`lead`, `transfer`): numbers are taken by
    an atomic increment in the transaction that uses them, so they have no gaps and no twins."""

    __tablename__ = "round_counters"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"),
                                          primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Lead(Base):
    """An accepted item: a numbered lead in its round's ledger (问题线索台账), kept by one
    person (专人专管)."""

    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("round_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(String(80))
    keeper_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    accepted_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """An item, or one part of it, transferred (转办) to a receiving body, with its number,
    the redacted copy of the matter that went with the letter, and its clocks (dates on the
    round's calendar, fixed at dispatch)."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("round_id", "seq"),
        CheckConstraint(_in("status", TRANSFER_STATUSES), name="status"),
        CheckConstraint(_in("dispatch_method", DISPATCH_METHODS), name="dispatch_method"),
        Index("ix_transfers_open", "status", "accept_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(32))
    department_name: Mapped[str] = mapped_column(String(200))  # the receiving body, as sent
    matter: Mapped[str] = mapped_column(Text)  # masked: what the letter carried
    note: Mapped[str] = mapped_column(Text, default="")  # the team's request to the body
    dispatch_method: Mapped[str] = mapped_column(String(16), default="exchange")
    dispatched_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    accept_due: Mapped[date] = mapped_column(Date)
    reply_due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="sent")
    accepted_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(default=0)


class TransferReply(Base):
    """A receiving body's answer to a transfer: accepted, its result, or returned (退回)."""

    __tablename__ = "transfer_replies"
    __table_args__ = (CheckConstraint(_in("kind", REPLY_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")  # masked like an item's text
    at: Mapped[datetime]  # when the body answered (as the staff member recorded it)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ItemStep(Base):
    """One step of a case after triage, signed by who did it and when: the case's history
    (accepted, keeper changed, transferred, replies, reminders, extended, closed, notices)."""

    __tablename__ = "item_steps"
    __table_args__ = (CheckConstraint(_in("kind", STEP_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


class Notice(Base):
    """A notice to the reporter (受理告知, 转办告知, 办理结果): always a team message on the
    status page, and where the reporter reads elsewhere a delivery to do (e-mail through the
    outbox, a printed letter, a call back) and whether it is done."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTICE_KINDS), name="kind"),
        CheckConstraint(_in("delivery", NOTICE_DELIVERIES), name="delivery"),
        CheckConstraint(_in("state", NOTICE_STATES), name="state"),
        Index("ix_notices_pending", "delivery", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    delivery: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class SearchText(Base):
    """What full-text search reads of an item (intake.search): its masked title, text and
    messages, normalised (NFKC, case-folded, letters and digits only, one line per field),
    and the character bigrams that index them. Kept in the item's own transaction by a flush
    hook; on PostgreSQL `grams` is a text[] under a GIN index, on SQLite the space-separated
    bigrams that the FTS5 table `search_fts` (created by migration 0013, outside these
    models) indexes as its external content."""

    __tablename__ = "search_texts"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    grams: Mapped[Any] = mapped_column(Text().with_variant(ARRAY(Text), "postgresql"),
                                        nullable=False)


# Schema the migrations own outside these models: SQLite's FTS5 table and its shadow tables,
# PostgreSQL's GIN index on search_texts.grams. Alembic's comparisons leave them alone.
UNMODELLED = ("search_fts", "ix_search_texts_grams")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic's filter: False for the schema objects of UNMODELLED."""
    return not (reflected and name is not None and name.startswith(UNMODELLED))
