"""The statistics workbook (信访举报受理情况统计, `.xlsx`): the counts of intake.stats as sheets an
office files and prints.

Pure: counts and their sections in, bytes out. The first sheet 汇总 has the headline figures
(收件, 线索, 转办, 重复件, 超期); then one sheet per count (按受理渠道, 按收到日期, …) with 类别,
件数 and 占比 (of the items counted). Each sheet has a title row naming the round or team and
the period, a frozen header row repeated on every printed page, set widths, dates as Excel
dates, and prints on landscape A4 fitted to the width (intake.ledger.write_table, as the
ledger). Counts only: no item text, no identity; a place or code is one the service names.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from intake.ledger import HEADER_ROW, cn_date, write_table
from intake.stats import FIGURES, Section, fill_days

SUMMARY_SHEET = "汇总"
PERCENT_FORMAT = "0.0%"
EXCEL_SHEET_NAME_MAX = 31


def stats_xlsx(counts: Mapping[str, Any], sections: Sequence[Section], *, heading: str,
               period: str, generated_at: datetime, zone: tzinfo) -> bytes:
    """The workbook: `heading` names what was counted (a round, a team, 全部巡察组), `period`
    the date range in words; `sections` (intake.stats.sections) name and order the counts.
    A section whose count is absent is left out."""
    book = Workbook()
    summary = book.active
    summary.title = SUMMARY_SHEET
    local = generated_at.astimezone(zone)
    note = f"统计范围：{heading}    收到时间：{period}    导出时间：{cn_date(local)} {local:%H:%M}"
    figures = [((name, int(counts[key])), False) for key, name in FIGURES if key in counts]
    write_table(summary, f"{heading}信访举报受理情况统计", note, ("项目", "件数"), (30, 14),
                figures, centred={2})
    _finish(summary)
    for section in sections:
        values = counts.get(section.key)
        if not isinstance(values, Mapping):
            continue
        sheet = book.create_sheet(_sheet_name(section.title))
        base = section.base(counts)
        if section.daily:
            rows: list[tuple[tuple[object, ...], bool]] = [
                ((day, n, _share(n, base)), False) for day, n in fill_days(dict(values))]
            columns: tuple[str, ...] = ("收到日期", "件数", "占比")
        else:
            rows = [((name, n, _share(n, base)), False) for name, n in section.rows(counts)]
            columns = ("类别", "件数", "占比")
        write_table(sheet, f"{heading}信访举报受理情况：{section.title}", note, columns,
                    (34, 12, 12), rows, centred={2, 3})
        for offset in range(1, len(rows) + 1):
            sheet.cell(row=HEADER_ROW + offset, column=3).number_format = PERCENT_FORMAT
        _finish(sheet)
    book.properties.title = f"{heading}信访举报受理情况统计"
    book.properties.creator = "巡察组"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def period_words(since: date | None, until: date | None) -> str:
    """2026年3月1日至2026年3月31日; 2026年3月1日以来; 截至…; 全部."""
    if since and until:
        return f"{cn_date(since)}至{cn_date(until)}"
    if since:
        return f"{cn_date(since)}以来"
    if until:
        return f"截至{cn_date(until)}"
    return "全部"


def _share(n: int, total: int) -> float | None:
    return n / total if total else None


def _finish(ws: Worksheet) -> None:
    """Only the header frozen (the tables are narrow), no filter on a two-column table."""
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    ws.auto_filter.ref = None


def _sheet_name(title: str) -> str:
    """A sheet's name: the title before its note in brackets, without what Excel forbids."""
    name = title.split("（")[0]
    for bad in "[]:*?/\\":
        name = name.replace(bad, "")
    return name[:EXCEL_SHEET_NAME_MAX]
