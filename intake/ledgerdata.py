"""The round's ledger (台账) gathered from the database: which rows the workbook, the ledger page
and the handover bundle show, and in what words.

`intake.ledger` draws the workbook from plain rows; this module fills those rows: one per item
of the round (spam aside), oldest first, with its lead number or transfer numbers, keeper,
Chinese names, open deadlines (intake.items.deadlines), the person reported on as triage
recorded them, and a short signed history. It reads a round in a fixed handful of queries
whatever its size. It never reads past the viewer's scope (intake.scope applies to every
statement here) and never reads an identity: texts are the stored, masked ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.items import Facts, QueryError, deadlines, transfer_overdue, zone_of
from intake.leads import DISPATCH_NAMES, DISPOSAL_NAMES, REPLY_NAMES, TRANSFER_STATUS_NAMES
from intake.ledger import LedgerRow, TransferRow, ledger_xlsx
from intake.masking import mask_text
from intake.names import (
    CHANNEL_NAMES,
    CLOCK_NAMES,
    STATUS_NAMES,
    STEP_NAMES,
    SUBJECT_ROLE_SHORT,
)
from intake.rounds import RoundEntry, RoundRegistry
from intake.store import models as m
from intake.submission import CATEGORIES as DISCIPLINE_NAMES

HISTORY_STEPS = 8  # the ledger's 办理过程 cell: the latest steps, the bundle has them all


@dataclass(frozen=True)
class Ledger:
    """A round's ledger as rows, with what the bundle needs beyond the workbook."""

    entry: RoundEntry
    rows: list[LedgerRow]
    transfers: list[TransferRow]
    items: dict[int, m.Submission]  # the rows' items (masked texts), by id
    steps: dict[int, list[str]]  # every signed step of an item, as text, oldest first
    transfer_rows: dict[int, list[TransferRow]]  # an item's transfers
    replies: dict[int, list[str]]  # an item's transfer replies, as text

    def counts(self) -> dict[str, int]:
        """The ledger page's figures: received, leads, transferred, closed, repeats, overdue."""
        rows = self.rows
        return {"received": len(rows), "leads": sum(1 for r in rows if r.number),
                "transferred": sum(1 for r in rows if r.transfer_numbers),
                "closed": sum(1 for r in rows if r.closed_on is not None),
                "repeats": sum(1 for r in rows if r.repeat_of),
                "overdue": sum(1 for r in rows if r.overdue)}


def cn_short_date(day: date) -> str:
    return f"{day.month}月{day.day}日"


def step_words(step: m.ItemStep) -> str:
    """What a signed step did, in a few words: 受理（青山巡线〔2026〕001号）, 转办 人社局 …"""
    detail: dict[str, Any] = step.detail or {}
    name = STEP_NAMES.get(step.kind, step.kind)
    if step.kind == "accepted" and detail.get("number"):
        return f"{name}（{detail['number']}）"
    if step.kind == "keeper" and detail.get("keeper"):
        return f"{name}为 {detail['keeper']}"
    if step.kind in ("transferred", "reminded", "reopened") and detail.get("number"):
        return f"{name}（{detail['number']}）"
    if step.kind == "reply":
        return f"{name}：{detail.get('number', '')}{REPLY_NAMES.get(detail.get('reply', ''), '')}"
    if step.kind == "closed" and detail.get("disposal"):
        return f"{name}（{DISPOSAL_NAMES.get(detail['disposal'], detail['disposal'])}）"
    if step.kind in ("repeat", "repeat_undone") and detail.get("of"):
        return f"{name}（第{detail['of']}号件）"
    return name


def subject_of(current: m.Classification | None) -> str:
    """The person reported on as triage recorded them: the current classification's first
    subject, name and post (the accused, never the reporter)."""
    subjects = current.subjects if current is not None else []
    if not subjects or not isinstance(subjects[0], dict):
        return ""
    first = subjects[0]
    name, post = str(first.get("name") or first.get("mention") or ""), str(first.get("post") or "")
    if name and post and post not in name:
        return f"{name}（{post}）"
    return name or post


def _names(session: Session) -> dict[int, str]:
    """Every account's shown name (display name, else user name): few, read once."""
    return {uid: shown or name for uid, name, shown in session.execute(
        select(m.StaffUser.id, m.StaffUser.username, m.StaffUser.display_name))}


def db_ledger(session: Session, entry: RoundEntry, now: datetime) -> Ledger:
    """The round's ledger: one row per item except spam, oldest first, in a fixed number of
    queries whatever the round's size (items and their current classifications, accounts,
    leads, transfers, replies, signed steps, items answered by a team message). Runs in the
    caller's scope: rows the viewer may not read are not there."""
    cfg = entry.cfg
    zone = zone_of(cfg)
    today = now.astimezone(zone).date()
    items = list(session.scalars(
        select(m.Submission).where(m.Submission.round_id == entry.id,
                                   m.Submission.status != "spam")
        .options(selectinload(m.Submission.current))
        .order_by(m.Submission.received_at, m.Submission.id)))
    names = _names(session)
    leads = {lead.submission_id: lead for lead in session.scalars(
        select(m.Lead).where(m.Lead.round_id == entry.id))}
    transfers: dict[int, list[m.Transfer]] = {}
    for t in session.scalars(select(m.Transfer).where(m.Transfer.round_id == entry.id)
                             .order_by(m.Transfer.seq, m.Transfer.id)):
        transfers.setdefault(t.submission_id, []).append(t)
    by_transfer = {t.id: t for ts in transfers.values() for t in ts}
    replies: dict[int, list[str]] = {}
    if by_transfer:
        for reply in session.scalars(
                select(m.TransferReply)
                .join(m.Transfer, m.Transfer.id == m.TransferReply.transfer_id)
                .where(m.Transfer.round_id == entry.id).order_by(m.TransferReply.at)):
            t = by_transfer[reply.transfer_id]
            at = reply.at.astimezone(zone)
            text = f"：{reply.text}" if reply.text else ""
            replies.setdefault(t.submission_id, []).append(
                f"{at:%Y-%m-%d} {t.number} {t.department_name} "
                f"{REPLY_NAMES.get(reply.kind, reply.kind)}{text}")
    steps: dict[int, list[m.ItemStep]] = {}
    for step in session.scalars(
            select(m.ItemStep).join(m.Submission, m.Submission.id == m.ItemStep.submission_id)
            .where(m.Submission.round_id == entry.id).order_by(m.ItemStep.at, m.ItemStep.id)):
        steps.setdefault(step.submission_id, []).append(step)
    replied = set(session.scalars(
        select(m.Message.submission_id).distinct()
        .join(m.Submission, m.Submission.id == m.Message.submission_id)
        .where(m.Submission.round_id == entry.id, m.Message.author == "team")))

    def number_of(item_id: int) -> str:
        lead = leads.get(item_id)
        if lead is not None:
            return lead.number
        return "、".join(t.number for t in transfers.get(item_id, ())) or f"第{item_id}号件"

    rows: list[LedgerRow] = []
    transfer_rows: dict[int, list[TransferRow]] = {}
    for row in items:
        lead = leads.get(row.id)
        mine = transfers.get(row.id, [])
        keeper = names.get(lead.keeper_id, "") if lead is not None else ""
        facts = Facts(lead.number if lead else None, keeper or None,
                      lead.keeper_id if lead else None, tuple(mine), row.id in replied)
        open_clocks = tuple(
            (CLOCK_NAMES.get(d.kind, d.kind), d.due, d.overdue(today))
            for d in deadlines(row, cfg, facts) if not d.done)
        current = row.current
        disciplines = tuple(DISCIPLINE_NAMES.get(d, d) for d in (
            current.disciplines if current is not None else ()))
        role = row.subject_role or (current.subject_role if current is not None else "")
        signed = steps.get(row.id, [])
        history = "；".join(" ".join(part for part in (
            cn_short_date(s.at.astimezone(zone).date()), names.get(s.staff_id or 0, ""),
            step_words(s)) if part) for s in signed[-HISTORY_STEPS:])
        if len(signed) > HISTORY_STEPS:
            history = "…；" + history
        rows.append(LedgerRow(
            item_id=row.id,
            number=lead.number if lead is not None else "",
            transfer_numbers=tuple(t.number for t in mine),
            received_at=row.received_at,
            channel=CHANNEL_NAMES.get(row.channel, row.channel),
            named=not row.anonymous,
            title=row.title,
            summary=row.text,
            subject=subject_of(current),
            subject_role=SUBJECT_ROLE_SHORT.get(role, "") if role else "",
            disciplines=disciplines,
            # triage's decision: an item awaiting triage has only the classifier's suggestion
            in_scope=None if row.status == "received" else row.in_scope,
            status=STATUS_NAMES.get(row.status, row.status),
            keeper=keeper,
            disposal=DISPOSAL_NAMES.get(row.disposal, row.disposal) if row.disposal else "",
            departments=tuple(t.department_name for t in mine),
            repeat_of=number_of(row.repeat_of_id) if row.repeat_of_id else "",
            deadlines=open_clocks,
            closed_on=row.closed_at.astimezone(zone).date() if row.closed_at else None,
            history=history,
        ))
        transfer_rows[row.id] = [_transfer_row(t, rows[-1].ledger_number(), zone, today)
                                 for t in mine]
    every_transfer = sorted((t for ts in transfers.values() for t in ts),
                            key=lambda t: (t.seq, t.id))
    # The 转办记录 sheet names the item by its lead number, else by its own (a transfer's
    # number beside itself would say nothing).
    numbers = {r.item_id: r.number or f"第{r.item_id}号件" for r in rows}
    all_transfers = [_transfer_row(t, numbers.get(t.submission_id, f"第{t.submission_id}号件"),
                                   zone, today) for t in every_transfer]
    # The bundle's full history keeps the staff's notes, masked once more (free text typed
    # by staff could carry a phone number); the workbook's short one leaves them out.
    full_steps = {
        item_id: [" ".join(part for part in (
            f"{s.at.astimezone(zone):%Y-%m-%d %H:%M}", names.get(s.staff_id or 0, ""),
            step_words(s)) if part) + (f"：{mask_text(s.note)}" if s.note else "")
            for s in signed]
        for item_id, signed in steps.items()}
    return Ledger(entry, rows, all_transfers, {r.id: r for r in items}, full_steps,
                  transfer_rows, replies)


def _transfer_row(t: m.Transfer, item_number: str, zone: tzinfo, today: date) -> TransferRow:
    def day(value: datetime | None) -> date | None:
        return value.astimezone(zone).date() if value else None

    return TransferRow(
        number=t.number, item_number=item_number, department=t.department_name,
        dispatched_on=t.dispatched_at.astimezone(zone).date(),
        method=DISPATCH_NAMES.get(t.dispatch_method, t.dispatch_method),
        accept_due=t.accept_due, reply_due=t.reply_due,
        status=TRANSFER_STATUS_NAMES.get(t.status, t.status),
        accepted_on=day(t.accepted_at), answered_on=day(t.answered_at),
        overdue=transfer_overdue(t, today))


def ledger_workbook(ledger: Ledger, now: datetime) -> bytes:
    """The ledger as `.xlsx` bytes (intake.ledger)."""
    cfg = ledger.entry.cfg
    return ledger_xlsx(cfg.name, ledger.entry.team, ledger.rows, generated_at=now,
                       zone=zone_of(cfg), transfers=ledger.transfers)


def pick_round(rounds: RoundRegistry, visible: Iterable[int], slug: str) -> RoundEntry | None:
    """The round a ledger request names (`round=SLUG`), or the viewer's one round when none is
    named. QueryError (field `round`) for a slug no round has, or for none named when the
    viewer has several; None for a round outside the viewer's scope (a 404, as for an item)."""
    mine = [e for e in rounds.all() if e.id in set(visible)]
    slug = slug.strip()
    if not slug:
        if len(mine) == 1:
            return mine[0]
        if not mine:
            return None
        raise QueryError("round", "您能查看多个轮次，请指定轮次（round=轮次代码）："
                         f"{'、'.join(e.slug for e in mine)}。")
    entry = rounds.by_slug(slug)
    if entry is None:
        raise QueryError("round", f"没有轮次 {slug}。")
    return entry if entry.id in {e.id for e in mine} else None


def ledger_filename(entry: RoundEntry, now: datetime, suffix: str = ".xlsx") -> str:
    """The download's Chinese name: 青山镇…问题线索台账-20260315.xlsx."""
    day = now.astimezone(zone_of(entry.cfg)).date()
    return f"{entry.cfg.name}问题线索台账-{day:%Y%m%d}{suffix}"


def filter_rows(rows: Sequence[LedgerRow], *, status: str = "", keeper: str = "",
                overdue: bool = False) -> list[LedgerRow]:
    """The ledger page's filters: a Chinese status name, a keeper, overdue rows only."""
    return [r for r in rows
            if (not status or r.status == status) and (not keeper or r.keeper == keeper)
            and (not overdue or r.overdue)]
