"""The handover bundle (移交材料) gathered from the database: who may make one, what goes in,
and the audit record of it.

`intake.handover` writes the encrypted archive from plain parts; this module collects them
for a round: the ledger workbook (intake.ledgerdata), the closing appendices (intake.reports),
the index, and one folder per item the ledger numbers — every lead, and every item transferred
without becoming a lead (its transfer numbers are its 编号; the commission follows up both) —
with the item's masked text and the reporter's later messages, its signed history, transfers
and replies, and its attachments decrypted from the store. Items that are neither (still
awaiting triage, closed without a number, repeats) are rows of the ledger only.

Making a bundle is the team leader's act (permission `hand_over`); the server operator may
make one from the command line. Identities go in only on a team leader's explicit choice
with a reason, audited `handover.bundle_with_identity` before any identity is decrypted (a
refused choice is audited too); otherwise the bundle is audited `handover.bundle`. The work
runs in the caller's scope, so a team leader bundles their own teams' rounds only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, or_, select

from intake import scope
from intake.audit import db_record
from intake.desk import Desk
from intake.handover import LeadFile, case_text, handover_zip, lead_folder, new_bundle_password
from intake.items import zone_of
from intake.ledger import shorten
from intake.ledgerdata import Ledger, db_ledger, ledger_workbook
from intake.masking import extension_of
from intake.reports import db_appendices
from intake.staff import may
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError
from intake.triage import REASON_MAX, Actor, recorded_reason

INDEX_HEADER = ("序号", "编号", "文件夹", "标题", "承办人", "办理状态", "处置方式")
IDENTITY_LABELS = {"name": "姓名", "phone": "联系电话", "id_number": "身份证号",
                   "address": "住址/单位", "email": "电子邮箱", "display_name": "发件人名称"}
REASON_MIN = 4
MESSAGE_AUTHORS = {"reporter": "反映人补充", "team": "本组回复"}


class HandoverError(IntakeError):
    """A bundle was refused; `kind` is forbidden/invalid/not_found, `message` Chinese."""

    def __init__(self, kind: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.field = kind, message, field


def _refuse_identity(desk: Desk, actor: Actor | None, label: str, entry_slug: str,
                     why: str, message: str, reason: str) -> HandoverError:
    """Audit a refused choice of identities (as a refused reveal is), and say why."""
    with desk.sessions() as session:
        begin_write(session)
        db_record(session, "handover.bundle_with_identity.refused",
                  actor_id=actor.id if actor else None, actor_label=label,
                  reason=recorded_reason(reason), round=entry_slug, refused=why)
        session.commit()
    return HandoverError("forbidden" if why == "role" else "invalid", message,
                         "" if why == "role" else "reason")


def bundled(ledger: Ledger) -> list[int]:
    """The items that get a folder: leads and transferred items, in the ledger's order."""
    return [r.item_id for r in ledger.rows if r.number or r.transfer_numbers]


def db_handover_bundle(desk: Desk, actor: Actor | None, round_id: int, *, with_identity: bool,
                       reason: str, out: Path, actor_label: str = "",
                       now: datetime | None = None) -> str:
    """Write the round's handover bundle to `out` and return its password (shown once, given
    by another channel). `actor` is the team leader making it; None is the server operator
    (`actor_label`, e.g. "cli:root"), who may not include identities. HandoverError when
    refused: no `hand_over` permission, a round the caller's scope does not hold, identities
    chosen without a team leader or without a reason."""
    label = actor.username if actor is not None else (actor_label or "system")
    now = now or m.utcnow()
    reason = (reason or "").strip()
    viewer = scope.current()
    entry = desk.rounds.get(round_id)
    if entry is None or (viewer is not None and round_id not in viewer.round_ids):
        raise HandoverError("not_found", "没有找到这个轮次。")
    if with_identity:
        if actor is None or not may(actor.role, "hand_over"):
            raise _refuse_identity(desk, actor, label, entry.slug, "role",
                                   "只有组长可以决定移交包含举报人身份。", reason)
        if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
            raise _refuse_identity(desk, actor, label, entry.slug, "reason",
                                   f"请写明包含举报人身份的理由（{REASON_MIN} 到 {REASON_MAX} "
                                   "字）。", reason)
    elif actor is not None and not may(actor.role, "hand_over"):
        raise HandoverError("forbidden", "只有组长可以生成移交包。")

    password = new_bundle_password()
    zone = zone_of(entry.cfg)
    with desk.sessions() as session:
        ledger = db_ledger(session, entry, now)
        chosen = bundled(ledger)
        appendices = db_appendices(session, ledger, now, desk.settings.report_templates_dir)
        attachments: dict[int, list[tuple[str, str]]] = {}
        for att in session.scalars(select(m.Attachment).where(
                m.Attachment.submission_id.in_(chosen)).order_by(m.Attachment.id)):
            if att.storage_name:  # none: destroyed by the retention rule
                attachments.setdefault(att.submission_id, []).append(
                    (att.storage_name, extension_of(att.content_type)))
        messages: dict[int, list[str]] = {}
        # The reporters of an item's repeats (重复件) write to the first: their words too.
        first_of = dict(session.execute(select(m.Submission.id, m.Submission.repeat_of_id).where(
            m.Submission.repeat_of_id.in_(chosen))).all())
        for msg in session.scalars(select(m.Message).where(or_(
                m.Message.submission_id.in_(chosen),
                and_(m.Message.submission_id.in_(first_of), m.Message.author == "reporter")))
                .order_by(m.Message.at, m.Message.id)):
            author = MESSAGE_AUTHORS.get(msg.author, msg.author)
            if msg.submission_id in first_of:
                author = f"重复件第 {msg.submission_id} 号的{author}"
            messages.setdefault(first_of.get(msg.submission_id, msg.submission_id), []).append(
                f"{msg.at.astimezone(zone):%Y-%m-%d %H:%M} {author}：{msg.text}")
    workbook = ledger_workbook(ledger, now)
    with desk.sessions() as session:  # on record before any identity is decrypted
        begin_write(session)
        action = "handover.bundle_with_identity" if with_identity else "handover.bundle"
        db_record(session, action, actor_id=actor.id if actor else None, actor_label=label,
                  reason=recorded_reason(reason) if with_identity else "", round=entry.slug,
                  items=len(ledger.rows), leads=len(chosen), with_identity=with_identity)
        session.commit()
    sealed: dict[int, bytes] = {}
    if with_identity:
        with desk.sessions() as session:
            sealed = {item_id: blob for item_id, blob in session.execute(
                select(m.Submission.id, m.Submission.identity_sealed).where(
                    m.Submission.id.in_(chosen), m.Submission.identity_sealed.is_not(None)))}

    rows = {r.item_id: r for r in ledger.rows}
    index_rows = []
    for position, item_id in enumerate(chosen, 1):
        row = rows[item_id]
        index_rows.append((position, row.ledger_number(),
                           lead_folder(position, row.ledger_number()),
                           row.title or shorten(row.summary, 30), row.keeper, row.status,
                           row.disposal))

    def files() -> Iterator[LeadFile]:
        for position, item_id in enumerate(chosen, 1):
            row = rows[item_id]
            shown: list[tuple[str, bytes]] = []
            for n, (storage, ext) in enumerate(attachments.get(item_id, []), 1):
                shown.append((f"附件{n}.{ext}" if ext else f"附件{n}",
                              b"".join(desk.files.read(storage))))
            text = ledger.items[item_id].text
            if messages.get(item_id):
                text += "\n\n后续留言和回复：\n" + "\n".join(messages[item_id])
            identity = None
            if item_id in sealed:
                found = desk.keyring.open_identity(sealed[item_id])
                identity = "\n".join(f"{IDENTITY_LABELS[k]}：{v}"
                                     for k, v in asdict(found).items() if v) + "\n"
            yield LeadFile(
                folder=lead_folder(position, row.ledger_number()),
                summary_text=case_text(
                    row, text=text, zone=zone, steps=ledger.steps.get(item_id, ()),
                    transfers=ledger.transfer_rows.get(item_id, ()),
                    replies=ledger.replies.get(item_id, ()),
                    attachments=[name for name, _ in shown]),
                attachments=shown, identity_text=identity)

    handover_zip(workbook, index_rows, INDEX_HEADER, files(), password, out=out,
                 round_name=entry.cfg.name, made_at=now, zone=zone,
                 team="" if entry.team in entry.cfg.name else entry.team,  # named once
                 with_identity=with_identity, chosen_by=label if with_identity else "",
                 appendices=appendices)
    return password
