"""The export for people (`intake export --format xlsx|csv`): every item as one row of a
spreadsheet, in the words the staff pages use.

This module owns that table: its Chinese columns and widths, how an item becomes a row (local
times in its round's zone, codes as Chinese names, its lead number, keeper and transfers), and
the two files it is written to: an Excel workbook (written row by row, openpyxl's write-only
mode, laid out and neutralised as the ledger is, intake.ledger.write_table) and a CSV file in
UTF-8 with a BOM, which Excel on Windows opens as UTF-8. Memory stays flat whatever the count:
items are read in batches (intake.export.iter_items) and rows leave as they are made.

Texts are the stored, masked ones; a row never holds the reporter's name, phone, ID number,
address, e-mail address or query code, and the identity is never read (the machine export,
JSON Lines, is the only one that may carry it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from sqlalchemy import select

from intake.desk import Desk
from intake.export import Batch, iter_items
from intake.items import zone_of
from intake.leads import DISPOSAL_NAMES
from intake.ledger import FORMULA_START, write_table
from intake.ledgerdata import _names as staff_names
from intake.ledgerdata import subject_of
from intake.names import CHANNEL_NAMES, STATUS_NAMES, SUBJECT_ROLE_SHORT
from intake.rounds import RoundEntry
from intake.store import models as m
from intake.submission import CATEGORIES as DISCIPLINE_NAMES

SHEET = "信访举报件"
# One row per item; the names are the ledger's where they mean the same (intake.ledger).
COLUMNS: tuple[str, ...] = (
    "件号", "编号", "收件时间", "来源渠道", "轮次", "实名/匿名", "标题", "内容", "反映对象",
    "对象类别", "问题类别", "是否属受理范围", "办理状态", "承办人", "转办单位及文号", "处置方式",
    "办结时间", "重复件", "巡察结束后收到", "附件数",
)
WIDTHS: tuple[float, ...] = (
    7, 23, 17, 9, 22, 6, 24, 60, 14, 12, 12, 7, 8, 8, 24, 9, 17, 10, 7, 6,
)
CENTRED = {1, 3, 4, 6, 12, 13, 14, 16, 17, 19, 20}
TIME_FORMAT = "%Y-%m-%d %H:%M"  # the CSV's times; the workbook's are Excel dates
FORMATS = ("jsonl", "xlsx", "csv")


def db_rows(batch: Batch, desk: Desk) -> Iterator[tuple[object, ...]]:
    """The batch's items as rows of COLUMNS: times as naive datetimes in each round's zone,
    everything else text or a number. Three small queries a batch (leads, transfers, names
    of the keepers)."""
    session = batch.session
    ids = [row.id for row in batch.items]
    leads = {lead.submission_id: lead for lead in session.scalars(
        select(m.Lead).where(m.Lead.submission_id.in_(ids)))}
    transfers: dict[int, list[m.Transfer]] = {}
    for t in session.scalars(select(m.Transfer).where(m.Transfer.submission_id.in_(ids))
                             .order_by(m.Transfer.seq, m.Transfer.id)):
        transfers.setdefault(t.submission_id, []).append(t)
    names = staff_names(session) if leads else {}
    for row in batch.items:
        entry = desk.rounds.get(row.round_id)
        zone = zone_of(entry.cfg if entry is not None else None)
        lead = leads.get(row.id)
        mine = transfers.get(row.id, [])
        current = row.current
        role = row.subject_role or (current.subject_role if current is not None else "")
        disciplines = current.disciplines if current is not None else []
        subject = subject_of(current) or "，".join(
            part for part in (row.subject_name, row.subject_post, row.subject_unit) if part)
        yield (
            row.id,
            lead.number if lead is not None else "、".join(t.number for t in mine),
            _local(row.received_at, zone),
            CHANNEL_NAMES.get(row.channel, row.channel),
            entry.cfg.name if entry is not None else "",
            "匿名" if row.anonymous else "实名",
            row.title,
            row.text,
            subject,
            SUBJECT_ROLE_SHORT.get(role, role) if role else "",
            "、".join(DISCIPLINE_NAMES.get(d, d) for d in disciplines),
            "待研判" if row.status == "received" else
            {True: "是", False: "否", None: "未定"}[row.in_scope],
            STATUS_NAMES.get(row.status, row.status),
            names.get(lead.keeper_id, "") if lead is not None else "",
            "；".join(f"{t.department_name}（{t.number}）" for t in mine),
            DISPOSAL_NAMES.get(row.disposal, row.disposal) if row.disposal else "",
            _local(row.closed_at, zone) if row.closed_at else None,
            f"第{row.repeat_of_id}号件" if row.repeat_of_id else "",
            "是" if row.late else "否",
            len(row.attachments),
        )


def _local(moment: datetime, zone: tzinfo) -> datetime:
    """The moment in the round's zone to the minute, naive (Excel keeps no zone)."""
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def export_rows(
    desk: Desk, *, since: datetime | None, until: datetime | None,
    rounds: Sequence[RoundEntry], fmt: str, actor_label: str,
) -> Iterator[tuple[object, ...]]:
    """Every item received in [since, until) in `rounds` (every round when empty) as a row,
    oldest first; the export is audited (`export.plain`, with its format and rounds) before
    the first row."""
    for batch in iter_items(desk, since=since, until=until, rounds=rounds, fmt=fmt,
                            with_identity=False, actor_label=actor_label, messages=False):
        yield from db_rows(batch, desk)


def csv_value(value: object) -> str:
    """A CSV cell as Excel should show it: times to the minute, and text from the public
    never a formula (a leading =, +, -, @ gets an apostrophe, as the audit CSV does)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(rows: Iterable[Sequence[object]], out: IO[str]) -> int:
    """The rows under COLUMNS as CSV, a UTF-8 BOM first (`out` is opened as UTF-8 text with
    newline=""); returns how many rows."""
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([csv_value(v) for v in row])
        count += 1
    return count


def write_xlsx(rows: Iterable[Sequence[object]], out: Path | IO[bytes], *, title: str,
               note: str) -> int:
    """The rows under COLUMNS as a workbook: a title and a note above the header, the header
    frozen and repeated on each printed page (A4 landscape), times as Excel dates; written
    row by row (openpyxl write-only). Returns how many rows."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(SHEET)
    count = write_table(ws, title, note, COLUMNS, WIDTHS,
                        ((tuple(row), False) for row in rows), centred=CENTRED)
    book.properties.title = title
    book.save(out)
    return count
