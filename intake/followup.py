"""Follow-up work after triage: what is overdue (超期督办), and the deliveries still to do of
the notices that tell reporters what happened (件件有回音: letters to print, calls to make).

The overdue list is the queue's `overdue` filter (intake.items.overdue_cuts) read clock by
clock with `deadlines`: which step is late, since when, and for a transfer how often the body
was reminded. The notice lists are the `Notice` rows with a `letter` or `callback` delivery
still `pending` (intake.notices writes them); marking one done, or a call that reached no one,
is a signed step of the item (ItemStep `notice`) and audited.

Duty-desk work: the lists and the marking need the `desk` permission (duty officers and team
leaders). What identifies a reporter, a phone number in clear, a letter's name and address,
is for a team leader only (`reveal_identity`), audited before it is shown. Callers run inside
the viewer's scope (intake.scope), as every staff request does.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pypdf import PdfWriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake import documents
from intake.audit import db_record
from intake.desk import Desk
from intake.items import Facts, db_facts, deadlines, overdue_cuts, zone_of
from intake.leads import NOTE_MAX, LeadError
from intake.names import CLOCK_NAMES  # in the order the overdue page shows them
from intake.notices import NOTICE_NAMES, cn_date
from intake.protect import Identity
from intake.publication import find_font
from intake.rounds import RoundEntry
from intake.staff import may
from intake.store import models as m
from intake.store.db import begin_write
from intake.triage import Actor, QueueFilters, db_queue_page, reveal_identity

CLOCK_HINTS = {"triage": "收件后 15 个工作日内受理或转办",
               "reply_accept": "实名举报 15 个工作日内告知是否受理",
               "close": "60 日内办结（可延期一次 30 日）",
               "transfer_accept": "转出后 5 个工作日内受理",
               "transfer_reply": "受理后按期反馈办理结果"}
OVERDUE_SCAN = 200  # items a queue page brings at a time
OVERDUE_MAX = 5000  # a list longer than this says so rather than growing without end
LETTER_MAX = 200  # letters printed at once


# -- overdue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Late:
    """One clock past its limit: the item, which step, due when, how many days late."""

    kind: str
    item_id: int
    lead_no: str | None
    keeper: str | None
    round_name: str
    due: date
    days: int
    transfer: m.Transfer | None = None

    @property
    def ref(self) -> str:
        return self.lead_no or f"第 {self.item_id} 号"


@dataclass(frozen=True)
class Overdue:
    groups: dict[str, list[Late]]  # clock kind → worst first
    truncated: bool

    @property
    def total(self) -> int:
        return sum(len(found) for found in self.groups.values())


def late_clocks(row: m.Submission, entry: RoundEntry, facts: Facts, today: date) -> list[Late]:
    """The item's clocks past their limit on `today`."""
    transfers = {t.number: t for t in facts.transfers}
    return [Late(d.kind, row.id, facts.lead_no, facts.keeper, entry.cfg.name, d.due,
                 (today - d.due).days, transfers.get(d.transfer))
            for d in deadlines(row, entry.cfg, facts) if d.overdue(today)]


def db_overdue(session: Session, entries: Sequence[RoundEntry], now: datetime) -> Overdue:
    """Every clock past its limit in these rounds, grouped by kind, the longest late first."""
    groups: dict[str, list[Late]] = {kind: [] for kind in CLOCK_NAMES}
    by_id = {e.id: e for e in entries}
    filters = QueueFilters(overdue=overdue_cuts(entries, now))
    cursor, seen, truncated = None, 0, False
    while True:
        page = db_queue_page(session, filters, cursor, OVERDUE_SCAN)
        facts = db_facts(session, [r.id for r in page.rows])
        for row in page.rows:
            entry = by_id[row.round_id]
            today = now.astimezone(zone_of(entry.cfg)).date()
            for late in late_clocks(row, entry, facts[row.id], today):
                groups[late.kind].append(late)
        seen += len(page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
        if seen >= OVERDUE_MAX:
            truncated = True
            break
    for found in groups.values():
        found.sort(key=lambda late: (-late.days, late.item_id))
    return Overdue(groups, truncated)


# -- the notices still to deliver ------------------------------------------------------------


@dataclass(frozen=True)
class PendingNotice:
    """A letter to print or a call to make, as the duty desk lists it: no identity in clear."""

    id: int
    item_id: int
    round_id: int
    lead_no: str | None
    kind: str
    delivery: str
    created_at: datetime
    received_on: date
    text: str  # the notice's words (a team message: no names, no query code)
    masked: dict[str, str]  # the reporter's identity, masked
    attempts: int  # calls that reached no one

    @property
    def ref(self) -> str:
        return self.lead_no or f"第 {self.item_id} 号"

    @property
    def kind_name(self) -> str:
        return NOTICE_NAMES[self.kind]


def call_script(notice: PendingNotice) -> str:
    """What the officer says on the phone: make sure it is the reporter, then the notice."""
    return (f"您好！请问是{cn_date(notice.received_on)}反映过问题的同志本人吗？"
            "（确认是本人后再往下说；不是本人接听的，不说明来意，另找时间再打。）"
            f"{notice.text}如有补充，可凭查询码在网上查询或补充。")


def db_pending_notices(session: Session, desk: Desk, delivery: str,
                       ids: Sequence[int] | None = None) -> list[PendingNotice]:
    """The pending deliveries of one kind (`letter` or `callback`), oldest first."""
    stmt = (select(m.Notice, m.Submission, m.Message.text)
            .join(m.Submission, m.Submission.id == m.Notice.submission_id)
            .join(m.Message, m.Message.id == m.Notice.message_id)
            .where(m.Notice.delivery == delivery, m.Notice.state == "pending")
            .order_by(m.Notice.id))
    if ids is not None:
        stmt = stmt.where(m.Notice.id.in_(ids))
    found = session.execute(stmt).all()
    item_ids = sorted({row.id for _, row, _ in found})
    leads = dict(session.execute(select(m.Lead.submission_id, m.Lead.number)
                                 .where(m.Lead.submission_id.in_(item_ids))).all())
    attempts: dict[int, int] = {}
    for step in session.scalars(select(m.ItemStep).where(
            m.ItemStep.submission_id.in_(item_ids), m.ItemStep.kind == "notice")):
        if step.detail.get("attempt"):
            key = int(step.detail.get("notice_id", 0))
            attempts[key] = attempts.get(key, 0) + 1
    listed = []
    for notice, row, text in found:
        entry = desk.rounds.get(row.round_id)
        zone = zone_of(entry.cfg if entry is not None else None)
        masked = ({} if row.identity_sealed is None
                  else desk.keyring.open_identity(row.identity_sealed).masked())
        listed.append(PendingNotice(
            notice.id, row.id, row.round_id, leads.get(row.id), notice.kind, notice.delivery,
            notice.created_at, row.received_at.astimezone(zone).date(), text, masked,
            attempts.get(notice.id, 0)))
    return listed


def db_pending_counts(session: Session) -> dict[str, int]:
    """How many letters and calls wait (for the duty desk's links)."""
    counts = dict.fromkeys(("letter", "callback"), 0)
    counts.update(session.execute(
        select(m.Notice.delivery, func.count()).select_from(m.Notice)
        .where(m.Notice.delivery.in_(counts), m.Notice.state == "pending")
        .group_by(m.Notice.delivery)).all())
    return counts


def _may_desk(actor: Actor) -> None:
    if not may(actor.role, "desk"):
        raise LeadError("forbidden", "只有值班人员和组长可以办理告知。")


def _pending(session: Session, notice_id: int, delivery: str | None = None) -> m.Notice:
    notice = session.get(m.Notice, notice_id, with_for_update=True)
    if notice is None or (delivery is not None and notice.delivery != delivery):
        raise LeadError("not_found", "没有找到这份告知。")
    if notice.state != "pending":
        raise LeadError("conflict", "这份告知已办理。")
    if notice.delivery not in ("letter", "callback"):
        raise LeadError("conflict", "这份告知无需人工送达。")
    return notice


def mark_done(desk: Desk, actor: Actor, notice_ids: Sequence[int], *, delivery: str,
              note: str = "") -> int:
    """Letters posted (已寄出) or a call that reached the reporter (已回复): each notice is
    done, signed on its item and audited. All or none: one that is not pending refuses all."""
    _may_desk(actor)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise LeadError("invalid", f"最多 {NOTE_MAX} 字。", "note")
    if not notice_ids:
        raise LeadError("invalid", "请先选择。", "notice")
    with desk.sessions() as session:
        begin_write(session)
        now = m.utcnow()
        for notice_id in dict.fromkeys(notice_ids):
            notice = _pending(session, notice_id, delivery)
            notice.state, notice.done_at, notice.done_by = "done", now, actor.id
            session.add(m.ItemStep(submission_id=notice.submission_id, staff_id=actor.id,
                                   kind="notice", note=note, at=now,
                                   detail={"notice": notice.kind, "delivery": notice.delivery,
                                           "notice_id": notice.id, "done": True}))
            db_record(session, "notice.done", actor_id=actor.id, actor_label=actor.username,
                      submission_id=notice.submission_id, notice_id=notice.id,
                      delivery=notice.delivery)
        session.commit()
        return len(dict.fromkeys(notice_ids))


def no_answer(desk: Desk, actor: Actor, notice_id: int, *, note: str = "") -> None:
    """A call that reached no one (未接通): noted on the item; the call stays on the list."""
    _may_desk(actor)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise LeadError("invalid", f"最多 {NOTE_MAX} 字。", "note")
    with desk.sessions() as session:
        begin_write(session)
        notice = _pending(session, notice_id, "callback")
        session.add(m.ItemStep(submission_id=notice.submission_id, staff_id=actor.id,
                               kind="notice", note=note, at=m.utcnow(),
                               detail={"notice": notice.kind, "delivery": "callback",
                                       "notice_id": notice.id, "done": False,
                                       "attempt": "no_answer"}))
        db_record(session, "notice.no_answer", actor_id=actor.id, actor_label=actor.username,
                  submission_id=notice.submission_id, notice_id=notice.id)
        session.commit()


def reveal_phone(desk: Desk, actor: Actor, notice_id: int, reason: str) -> str:
    """The number to call, in clear: a team leader, with a reason, audited as a reveal of the
    item's identity (intake.triage.reveal_identity; a refusal is audited too)."""
    with desk.sessions() as session:
        notice = session.get(m.Notice, notice_id)
        if notice is None or notice.delivery != "callback":
            raise LeadError("not_found", "没有找到这份告知。")
        item_id = notice.submission_id
    identity = reveal_identity(desk, actor, item_id, reason)
    if not identity.phone:
        raise LeadError("conflict", "举报人没有留电话。")
    return identity.phone


@dataclass(frozen=True)
class LetterToPrint:
    notice: PendingNotice
    identity: Identity


def letters_to_print(desk: Desk, actor: Actor, notice_ids: Sequence[int]
                     ) -> list[LetterToPrint]:
    """The pending letters chosen, with their reporters' names and addresses in clear, for
    the letters and envelopes: a team leader only, audited (`notice.letter`, how many)
    before anything is given out."""
    if not may(actor.role, "reveal_identity"):
        raise LeadError("forbidden", "告知书和信封上有举报人姓名和地址，只有组长可以打印。")
    ids = list(dict.fromkeys(notice_ids))
    if not ids:
        raise LeadError("invalid", "请先选择要打印的告知书。", "notice")
    if len(ids) > LETTER_MAX:
        raise LeadError("invalid", f"一次最多打印 {LETTER_MAX} 份。", "notice")
    with desk.sessions() as session:
        begin_write(session)
        listed = db_pending_notices(session, desk, "letter", ids)
        if len(listed) != len(ids):
            raise LeadError("conflict", "所选告知有的已寄出或不存在，请刷新页面后重新选择。")
        rows = {r.id: r for r in session.scalars(select(m.Submission).where(
            m.Submission.id.in_([n.item_id for n in listed])))}
        found = []
        for notice in listed:
            sealed = rows[notice.item_id].identity_sealed
            identity = desk.keyring.open_identity(sealed) if sealed is not None else Identity()
            if not (identity.name or identity.display_name) or not identity.address:
                raise LeadError("conflict", f"{notice.ref} 的举报人没有留姓名或地址，"
                                "无法邮寄，请改用其他方式告知。")
            found.append(LetterToPrint(notice, identity))
        db_record(session, "notice.letter", actor_id=actor.id, actor_label=actor.username,
                  count=len(found), notice_ids=[n.notice.id for n in found])
        session.commit()
    return found


# -- the letters and envelopes as files ------------------------------------------------------

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP = "application/zip"
POSTCODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def _addressee(identity: Identity) -> str:
    return f"{identity.name or identity.display_name}同志"


def letter_files(desk: Desk, chosen: Sequence[LetterToPrint], what: str, today: date
                 ) -> tuple[str, bytes, str]:
    """The chosen letters as one download: `pdf` (all letters in one PDF, to print at once),
    `docx` (one Word file, or a zip of them) or `envelopes` (one sender-neutral envelope a
    page; the return address is the round's postal box). Returns (file name, bytes, type);
    DocumentError (Chinese) when an envelope cannot be made."""
    letters, envelopes = [], []
    for item in chosen:
        entry = desk.rounds.get(item.notice.round_id)
        cfg = entry.cfg if entry is not None else desk.round
        letters.append(documents.ReporterLetter(
            kind=item.notice.kind, addressee=_addressee(item.identity), body=item.notice.text,
            team=cfg.team or cfg.name, dated=today,
            contact=f"联系电话：{cfg.hotline_number}" if cfg.hotline_number else ""))
        if what == "envelopes":
            postcode = POSTCODE.search(item.identity.address)
            envelopes.append(documents.Envelope(
                name=_addressee(item.identity), address=item.identity.address,
                postcode=postcode.group(0) if postcode else "",
                return_address=cfg.postal_box))
    stamp = today.strftime("%Y%m%d")
    if what == "envelopes":
        return (f"信封-{stamp}.pdf", documents.envelopes_pdf(
            envelopes, find_font(desk.settings.pdf_font)), PDF)
    if what == "pdf":
        font = find_font(desk.settings.pdf_font)
        merged = PdfWriter()
        for letter in letters:
            merged.append(io.BytesIO(documents.reporter_letter_pdf(letter, font)))
        buffer = io.BytesIO()
        merged.write(buffer)
        return f"告知书-{stamp}.pdf", buffer.getvalue(), PDF
    files = {f"告知书-{i:03d}-{documents.REPORTER_KINDS[letter.kind]}.docx":
             documents.reporter_letter_docx(letter) for i, letter in enumerate(letters, 1)}
    if len(files) == 1:
        return f"告知书-{stamp}.docx", next(iter(files.values())), DOCX
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return f"告知书-{stamp}.zip", buffer.getvalue(), ZIP

