"""The triage queue and what triagers do with an item: confirm, correct, reply, reveal.

The queue pages by keyset (received_at, id), never by offset, so page 5,000 costs what page 1
costs. A discipline or route filter drives the scan from the labels index instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, false, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased, selectinload

from intake import scope, search
from intake.audit import db_record
from intake.classify import DISCIPLINES, Evidence, Subject, Suggestion
from intake.desk import Desk
from intake.masking import mask_text
from intake.maskstore import Originals, db_originals, has_originals
from intake.pipeline import db_set_classification
from intake.protect import Identity
from intake.staff import StaffError, may
from intake.store import models as m
from intake.store.db import begin_write

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 50
# Statuses of an item whose triage step (accept or route) is not done yet.
AWAITING_TRIAGE = ("received", "triaged")
# Once accepted, transferred or closed, what triage decided is the case's record.
DECIDED = "此件已受理、转办或办结，研判结果不再更改。"


@dataclass(frozen=True)
class OverdueCut:
    """When a round's items are overdue, as instants and dates (intake.items.overdue_cuts):
    received before `working_limit`, its 15-working-day limits (triage, a named reporter's
    acceptance notice) have passed; before `close_limit` (`extended_limit` with the 30-day
    extension) its close limit; a transfer is late once `today` is after its due date."""

    round_id: int
    working_limit: datetime
    close_limit: datetime
    extended_limit: datetime
    today: date


@dataclass(frozen=True)
class QueueFilters:
    channel: str = ""
    status: str = ""  # empty: everything but spam
    scope: str = ""  # "in", "out", "unknown" or empty
    discipline: str = ""
    route: str = ""
    needs_review: bool | None = None
    round_id: int | None = None  # one of the viewer's rounds (the scope keeps the others out)
    # What the staff API asks for too (intake.items parses it): search terms over the masked
    # title, text and messages (intake.search), received in [since, until), kept by a keeper
    # (username), and items with a step overdue (one cut per round the viewer reads).
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    keeper: str = ""
    overdue: tuple[OverdueCut, ...] | None = None


@dataclass(frozen=True)
class QueuePage:
    rows: list[m.Submission]
    next_cursor: str | None


@dataclass(frozen=True)
class Correction:
    in_scope: bool
    subject_role: str
    disciplines: tuple[str, ...]
    routes: tuple[str, ...]
    # A person to make the first subject (usually one of the suggestion's candidates):
    # mention, name, post and role, as the triage page sends them.
    subject: dict[str, str] | None = None
    # Places (0-based) in the current suggestion's subjects of people the triager struck out:
    # a witness, a business partner, an official only mentioned ("我打过县长热线").
    dropped: tuple[int, ...] = ()


@dataclass(frozen=True)
class Actor:
    """The member of staff acting, as the core needs to know them."""

    id: int
    username: str
    role: str


def encode_cursor(received_at: datetime, item_id: int) -> str:
    micros = (received_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{item_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        micros, item_id = cursor.split(".")
        return EPOCH + timedelta(microseconds=int(micros)), int(item_id)
    except (ValueError, OverflowError):
        return None


def db_queue_page(
    session: Session, filters: QueueFilters, cursor: str | None = None, limit: int = PAGE_SIZE
) -> QueuePage:
    """One page of the queue, newest first, and the cursor of the next page (None at the end)."""
    if _contradictory(filters):
        return QueuePage([], None)
    sub = m.Submission
    order_at, order_id = sub.received_at, sub.id
    stmt: Select = select(sub)
    for kind, value in (("discipline", filters.discipline), ("route", filters.route)):
        if value:
            label = aliased(m.SubmissionLabel)
            stmt = stmt.join(label, and_(label.submission_id == sub.id, label.kind == kind,
                                         label.value == value))
            if order_id is sub.id:  # the first label filter drives the index scan
                order_at, order_id = label.received_at, label.submission_id
    if filters.channel:
        stmt = stmt.where(sub.channel == filters.channel)
    if filters.round_id is not None:
        stmt = stmt.where(sub.round_id == filters.round_id)
    stmt = stmt.where(sub.status == filters.status if filters.status else sub.status != "spam")
    if filters.scope == "in":
        stmt = stmt.where(sub.in_scope.is_(True))
    elif filters.scope == "out":
        stmt = stmt.where(sub.in_scope.is_(False))
    elif filters.scope == "unknown":
        stmt = stmt.where(sub.in_scope.is_(None))
    if filters.needs_review is not None:
        stmt = stmt.where(sub.needs_review.is_(filters.needs_review))
    query = search.parse(filters.text)
    if filters.since is not None:
        stmt = stmt.where(order_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(order_at < filters.until)
    if filters.keeper:
        # A keeper's leads drive the query (a few hundred at most), not the whole queue.
        keeper_id = session.scalar(select(m.StaffUser.id).where(
            m.StaffUser.username == filters.keeper))
        if keeper_id is None:
            return QueuePage([], None)
        stmt = stmt.where(sub.id.in_(select(m.Lead.submission_id).where(
            m.Lead.keeper_id == keeper_id)))
    if filters.overdue is not None:
        stmt = stmt.where(or_(false(), *(_overdue(sub, order_at, cut)
                                         for cut in filters.overdue)))
    if cursor and (position := decode_cursor(cursor)):
        stmt = stmt.where(tuple_(order_at, order_id) < tuple_(*position))
    stmt = stmt.order_by(order_at.desc(), order_id.desc())
    if query:
        # A search: the newest items of the filtered queue are probed first, which is quick
        # for words many items carry; a rarer word is looked up in the index (intake.search).
        dialect = session.get_bind().dialect.name
        window = list(session.scalars(stmt.with_only_columns(sub.id).limit(search.WINDOW)))
        hits = search.db_probe(session, window, query, limit + 1)
        if hits is not None:
            stmt = select(sub).where(sub.id.in_(hits)).order_by(
                sub.received_at.desc(), sub.id.desc())
        elif (candidates := search.db_candidates(session, query)) is not None:
            # Few: each is checked against the filters by its primary key and ordered here,
            # rather than walking the queue's order index until all of them came by (which
            # SQLite, without statistics, would choose).
            found = m.SearchText
            at = (stmt.with_only_columns(order_at).order_by(None)
                  .where(sub.id == found.submission_id, search.literal_condition(sub, query))
                  .limit(1).scalar_subquery())
            keys = session.execute(select(at, found.submission_id)
                                   .where(found.submission_id.in_(candidates))).all()
            hits = sorted(((a, i) for a, i in keys if a is not None), reverse=True)
            ids = [i for _, i in hits[:limit + 1]]
            # Rows the scoped query above just vetted, read by their keys: the scope's round
            # condition would lead SQLite to its round index again.
            with scope.unscoped(session):
                by_id = {r.id: r for r in session.scalars(
                    select(sub).where(sub.id.in_(ids)).options(selectinload(sub.current)))}
            return _page([by_id[i] for i in ids], limit)
        else:
            stmt = stmt.where(search.condition(dialect, sub, query))
    stmt = stmt.limit(limit + 1).options(selectinload(sub.current))
    return _page(list(session.scalars(stmt)), limit)


def _page(rows: list[m.Submission], limit: int) -> QueuePage:
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].received_at, rows[-1].id) if more else None
    return QueuePage(rows, next_cursor)


def db_next_item(
    session: Session, item_id: int, *, awaiting: bool = False, previous: bool = False
) -> int | None:
    """The id of the item after `item_id` in the queue's default order (newest first, spam left
    out), or the one before it with `previous`; None at either end.

    With `awaiting`, the next item still awaiting triage (status `received`, the queue's 待研判);
    past the oldest it starts again from the newest, so items that arrived meanwhile or were
    skipped are not missed. None when no other item awaits triage.
    """
    sub = m.Submission
    here = session.get(sub, item_id)
    if here is None:
        return None
    stmt = select(sub.id).where(sub.id != item_id)
    stmt = stmt.where(sub.status == "received" if awaiting else sub.status != "spam")
    position, mark = tuple_(sub.received_at, sub.id), tuple_(here.received_at, here.id)
    if previous:
        step = stmt.where(position > mark).order_by(sub.received_at, sub.id)
    else:
        step = stmt.where(position < mark).order_by(sub.received_at.desc(), sub.id.desc())
    found = session.scalar(step.limit(1))
    if found is None and awaiting and not previous:
        found = session.scalar(stmt.order_by(sub.received_at.desc(), sub.id.desc()).limit(1))
    return found


def _overdue(sub: type[m.Submission], received: Any, cut: OverdueCut) -> Any:
    """An item of the cut's round with a step past its limit (intake.items.deadlines)."""
    return and_(sub.round_id == cut.round_id, late_steps(sub, received, cut))


def late_steps(sub: type[m.Submission], received: Any, cut: OverdueCut) -> Any:
    """An item with a step past the cut's limits, whatever its round (intake.stats counts the
    rounds sharing one set of limits at once)."""
    fresh = and_(sub.repeat_of_id.is_(None), sub.status != "spam")
    team_said = exists().where(m.Message.submission_id == sub.id, m.Message.author == "team")
    late_transfer = exists().where(m.Transfer.submission_id == sub.id, or_(
        and_(m.Transfer.status == "sent", m.Transfer.accept_due < cut.today),
        and_(m.Transfer.status == "accepted", m.Transfer.reply_due < cut.today)))
    return and_(fresh, or_(
        and_(received < cut.working_limit, or_(
            sub.status.in_(AWAITING_TRIAGE),
            and_(sub.anonymous.is_(False), ~team_said))),
        and_(sub.status != "closed", or_(
            and_(sub.close_extension_days == 0, received < cut.close_limit),
            received < cut.extended_limit)),
        late_transfer))


def _contradictory(f: QueueFilters) -> bool:
    """Filters no item can meet: labels exist only on classified items, `accept` only in scope.

    Answered at once, because the label index would otherwise be walked to its end.
    """
    labelled = bool(f.discipline or f.route)
    return ((labelled and f.scope == "unknown") or (f.route == "accept" and f.scope == "out")
            or f.overdue == ())


def decide(
    desk: Desk,
    actor: Actor,
    submission_id: int,
    *,
    reviewed_id: int | None,
    correction: Correction | None = None,
    note: str = "",
) -> m.Classification:
    """Confirm the current classification, or store a correction that becomes current.

    `reviewed_id` is the classification the triager looked at; if someone else decided in the
    meantime the decision is refused rather than silently overwriting theirs.
    """
    if not may(actor.role, "decide"):
        raise StaffError("您的角色不能作出研判决定。")
    with desk.sessions() as session:
        begin_write(session)
        row = session.get(m.Submission, submission_id, with_for_update=True)
        if row is None:
            raise StaffError("没有这件。", "not_found")
        if row.status not in (*AWAITING_TRIAGE, "spam"):
            raise StaffError(DECIDED, "conflict")
        if row.current_classification_id != reviewed_id:
            raise StaffError("此件已被他人更新，请刷新页面后再研判。", "conflict")
        current = row.current
        if correction is None:
            if current is None:
                raise StaffError("此件尚无建议，请直接填写研判结果。")
            suggestion = _as_staff_suggestion(current)
            action = "confirm"
        else:
            suggestion = _apply_correction(desk, current, correction)
            action = "correct"
        cls = db_set_classification(session, row, suggestion, source="staff", staff_id=actor.id)
        session.add(m.Decision(
            submission_id=row.id, staff_id=actor.id, action=action,
            reviewed_id=reviewed_id if reviewed_id is not None else cls.id, result_id=cls.id,
            note=note.strip(),
        ))
        if row.status in ("received", "spam"):
            row.status = "triaged"
        row.spam = False
        db_record(session, f"decision.{action}", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, in_scope=suggestion.in_scope,
                  disciplines=list(suggestion.disciplines), routes=list(suggestion.routes))
        session.commit()
        return cls


def _as_staff_suggestion(cls: m.Classification) -> Suggestion:
    return Suggestion(
        in_scope=cls.in_scope,
        subject_role=cls.subject_role,
        subjects=tuple(Subject(**s) for s in cls.subjects),
        disciplines=tuple(cls.disciplines),
        routes=tuple(cls.routes),
        confidence=1.0,
        needs_review=False,
        evidence=tuple(Evidence(**e) for e in cls.evidence),
        model_version="staff",
        candidates=tuple(Subject(**s) for s in cls.candidates),
    )


def _apply_correction(
    desk: Desk, current: m.Classification | None, c: Correction
) -> Suggestion:
    if c.subject_role not in m.SUBJECT_ROLES:
        raise StaffError("被反映人类别不正确。")
    unknown = [d for d in c.disciplines if d not in DISCIPLINES]
    if unknown:
        raise StaffError(f"未知纪律类别：{', '.join(unknown)}。")
    routes = [r for r in dict.fromkeys(c.routes) if r != "accept"]
    bad = [r for r in routes if r not in desk.rules.departments]
    if bad:
        raise StaffError(f"未知去向：{', '.join(bad)}。")
    if c.in_scope:
        routes.insert(0, "accept")
    elif not routes:
        raise StaffError("不属于本轮受理范围的，请至少选择一个转交去向。")
    base = _as_staff_suggestion(current) if current is not None else None
    subjects = base.subjects if base else ()
    if any(not 0 <= i < len(subjects) for i in c.dropped):
        raise StaffError("要删去的人员不在建议中，请刷新页面后再研判。")
    subjects = tuple(s for i, s in enumerate(subjects) if i not in c.dropped)
    candidates = base.candidates if base else ()
    if c.subject is not None:
        picked = c.subject if isinstance(c.subject, dict) else {}
        fields = [picked.get(k, "") for k in ("mention", "name", "post", "role")]
        if not all(isinstance(f, str) for f in fields):
            raise StaffError("所选被反映人信息不完整。")
        mention, name, post, role = (f.strip() for f in fields)
        if not (mention or name):
            raise StaffError("所选被反映人信息不完整。")
        if role not in m.SUBJECT_ROLES:
            raise StaffError("所选被反映人的类别不正确。")
        if len(mention) > 100 or len(name) > 50 or len(post) > 200:
            raise StaffError("所选被反映人信息过长。")

        def same(s: Subject) -> bool:
            return (s.mention, s.name, s.post) == (mention, name, post)

        # A known person keeps their place in the text (and score); the rest move down.
        known = next((s for s in (*candidates, *subjects) if same(s)), None)
        person = Subject(mention, name, post, role, known.score if known else 1.0,
                         known.start if known else -1, known.end if known else -1)
        subjects = (person, *(s for s in subjects if not same(s)))
        candidates = tuple(s for s in candidates if not same(s))
    return Suggestion(
        in_scope=c.in_scope,
        subject_role=c.subject_role,
        subjects=subjects,
        disciplines=tuple(d for d in DISCIPLINES if d in c.disciplines),
        routes=tuple(routes),
        confidence=1.0,
        needs_review=False,
        evidence=base.evidence if base else (),
        model_version="staff",
        candidates=candidates,
    )


def masked_identity(desk: Desk, row: m.Submission) -> dict[str, str]:
    """The reporter's identity, masked for staff pages (empty when anonymous)."""
    if row.identity_sealed is None:
        return {}
    return desk.keyring.open_identity(row.identity_sealed).masked()


REASON_MAX = 200  # characters of a reveal's reason: it stays in the audit chain for good


def recorded_reason(reason: str, identity: Identity | None = None) -> str:
    """A reveal's reason as the audit log keeps it: masked (the declared identity when given,
    the patterns always) and at most REASON_MAX characters, since the log is never pruned."""
    masked = mask_text(reason.strip(), identity)
    return masked if len(masked) <= REASON_MAX else masked[:REASON_MAX - 1] + "…"


def _reveal_reason(
    desk: Desk, actor: Actor, reason: str, refused: str, what: str, action: str,
    submission_id: int | None = None, **detail: int,
) -> str:
    """The stated reason for seeing what identifies a reporter; only team leaders may.

    A refusal (wrong role, no reason, too long a reason) is itself audited, as
    `<action>.refused`, with the reason as `recorded_reason` keeps it. The reason returned is
    as typed: the caller records it through `recorded_reason`.
    """
    reason = reason.strip()
    if not may(actor.role, "reveal_identity"):
        why, message = "role", refused
    elif len(reason) < 4:
        why, message = "reason", f"请写明查看{what}的理由（至少 4 个字）。"
    elif len(reason) > REASON_MAX:
        why, message = "reason", f"查看{what}的理由请写在 {REASON_MAX} 字以内。"
    else:
        return reason
    with desk.sessions() as session:
        begin_write(session)
        if submission_id is not None and session.get(m.Submission, submission_id) is None:
            submission_id = None  # a made-up number: on record, without the link
        db_record(session, f"{action}.refused", actor_id=actor.id, actor_label=actor.username,
                  submission_id=submission_id, reason=recorded_reason(reason), refused=why,
                  **detail)
        session.commit()
    raise StaffError(message)


@dataclass(frozen=True)
class Revealed:
    """What a team leader's audited reveal shows: the identity and what masking hid."""

    identity: Identity | None
    originals: Originals


def reveal_identity(desk: Desk, actor: Actor, submission_id: int, reason: str) -> Identity:
    """The reporter's identity in clear, for a team leader with a stated reason (audited first)."""
    identity = reveal_item(desk, actor, submission_id, reason).identity
    if identity is None:
        raise StaffError("此件没有举报人身份信息。")
    return identity


def reveal_item(desk: Desk, actor: Actor, submission_id: int, reason: str) -> Revealed:
    """The reporter's identity in clear, with the unmasked texts and uploaded file names, for a
    team leader with a stated reason (audited first). An anonymous item whose text had a
    number masked can be revealed too: what was hidden is the reporter's."""
    reason = _reveal_reason(desk, actor, reason, "只有组长可以查看举报人身份。", "举报人身份",
                            "identity.reveal", submission_id)
    with desk.sessions() as session:
        begin_write(session)
        row = session.get(m.Submission, submission_id)
        if row is None or (row.identity_sealed is None and not has_originals(session, row)):
            raise StaffError("此件没有举报人身份信息。")
        identity = (None if row.identity_sealed is None
                    else desk.keyring.open_identity(row.identity_sealed))
        db_record(session, "identity.reveal", actor_id=actor.id, actor_label=actor.username,
                  submission_id=row.id, reason=recorded_reason(reason, identity))
        session.commit()  # the view is on record before anything is shown
        return Revealed(identity, db_originals(session, desk.keyring, row))


def db_audit_trail(session: Session, submission_id: int) -> list[m.AuditEvent]:
    return list(session.scalars(
        select(m.AuditEvent).where(m.AuditEvent.submission_id == submission_id)
        .order_by(m.AuditEvent.at.desc())
    ))


def set_spam(desk: Desk, actor: Actor, submission_id: int, *, spam: bool) -> None:
    """Mark an item as spam, or rescue it from the spam view back into the queue."""
    if not may(actor.role, "decide"):
        raise StaffError("只有研判人员和组长可以标记垃圾信息。")
    with desk.sessions() as session:
        begin_write(session)
        row = session.get(m.Submission, submission_id, with_for_update=True)
        if row is None:
            raise StaffError("没有这件来信。")
        if row.spam == spam and (row.status == "spam") == spam:
            return
        if spam and row.status not in AWAITING_TRIAGE:
            raise StaffError("此件已受理、转办或办结，不能再标为垃圾信息。")
        decided = session.scalar(
            select(m.Decision.id).where(m.Decision.submission_id == row.id).limit(1))
        row.spam = spam
        row.status = "spam" if spam else ("triaged" if decided else "received")
        # A held automatic reply goes out once the item is rescued, and waits again if an
        # item is marked spam before its reply was sent.
        session.execute(
            update(m.OutboxMail)
            .where(m.OutboxMail.submission_id == row.id,
                   m.OutboxMail.status == ("queued" if spam else "held"))
            .values(status="held" if spam else "queued", next_attempt_at=m.utcnow()))
        db_record(session, "item.spam" if spam else "item.not_spam", actor_id=actor.id,
                  actor_label=actor.username, submission_id=row.id)
        session.commit()


@dataclass(frozen=True)
class MailDetails:
    """What the e-mail channel recorded about an item, for its page."""

    inbound: list[m.InboundMail]  # the message that made the item, then follow-ups
    replies: list[m.OutboxMail]
    related: list[tuple[m.DuplicateLink, int]]  # link and the other item's id


def db_mail_details(session: Session, row: m.Submission) -> MailDetails:
    message_ids = [msg.id for msg in row.messages]
    inbound = list(session.scalars(
        select(m.InboundMail).where(
            (m.InboundMail.submission_id == row.id)
            | m.InboundMail.message_id.in_(message_ids or [-1]))
        .order_by(m.InboundMail.id)))
    replies = list(session.scalars(
        select(m.OutboxMail).where(m.OutboxMail.submission_id == row.id)
        .order_by(m.OutboxMail.id)))
    links = session.scalars(select(m.DuplicateLink).where(
        (m.DuplicateLink.submission_id == row.id) | (m.DuplicateLink.other_id == row.id))
        .order_by(m.DuplicateLink.id))
    related = [(link, link.other_id if link.submission_id == row.id else link.submission_id)
               for link in links]
    return MailDetails(inbound, replies, related)


def open_raw_mail(
    desk: Desk, actor: Actor, inbound_id: int, reason: str
) -> tuple[m.InboundMail, Iterator[bytes]]:
    """The original message as received (it shows the sender): team leaders, with a reason."""
    reason = _reveal_reason(desk, actor, reason, "原始邮件含发件人信息，只有组长可以查看。",
                            "原始邮件", "mail.raw_download", inbound_mail_id=inbound_id)
    with desk.sessions() as session:
        begin_write(session)
        mail = session.get(m.InboundMail, inbound_id)
        if mail is None:
            raise StaffError("没有这封邮件。")
        if not mail.raw_storage_name:
            raise StaffError("原始邮件已按保存期限销毁。")
        submission_id = mail.submission_id
        if submission_id is None and mail.message_id is not None:
            message = session.get(m.Message, mail.message_id)
            submission_id = message.submission_id if message else None
        db_record(session, "mail.raw_download", actor_id=actor.id, actor_label=actor.username,
                  submission_id=submission_id, reason=recorded_reason(reason),
                  inbound_mail_id=mail.id)
        session.commit()
    return mail, desk.files.read(mail.raw_storage_name)
