"""The round's ledger (问题线索台账) as an Excel workbook, and the transfer register beside it.

This module owns the workbook's layout: which columns a team leader's paper ledger has and in
what order, how each cell is written, how it prints. It is pure: plain rows in, `.xlsx` bytes
out. What goes into a row (the lead number, the keeper, the masked texts, the deadlines) is
decided by the ledger core; a row never holds the reporter's name, phone, ID number, address,
e-mail address or query code, and nothing here adds one.

Every text cell is written as text, never as a formula: the texts come from the public, and a
cell starting with `=`, `+`, `-` or `@` would otherwise run in Excel (formula injection). Dates
are real Excel dates with a Chinese date format, so the ledger sorts and filters by date.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

LEDGER_SHEET = "问题线索台账"
TRANSFER_SHEET = "转办记录"
# The ledger's columns, in a paper ledger's order: who/what/when first, then how it is handled.
LEDGER_COLUMNS: tuple[str, ...] = (
    "序号", "编号", "收件日期", "来源渠道", "实名/匿名", "反映对象", "对象类别", "问题类别",
    "标题", "内容摘要", "是否属受理范围", "办理状态", "承办人", "转办单位及文号", "处置方式",
    "最近期限", "期限事项", "是否超期", "办结日期", "重复件", "办理过程",
)
# Widths in Excel's character units (a Chinese character takes about two; a date 2026年12月25日
# needs 15, or Excel shows ####).
LEDGER_WIDTHS: tuple[float, ...] = (
    5, 23, 15, 9, 6, 12, 12, 10, 18, 36, 7, 8, 8, 24, 9, 15, 8, 6, 15, 12, 30,
)
TRANSFER_COLUMNS: tuple[str, ...] = (
    "序号", "转办文号", "线索编号", "转办单位", "转办日期", "转办方式", "受理期限", "答复期限",
    "办理状态", "是否超期", "受理日期", "答复日期",
)
TRANSFER_WIDTHS: tuple[float, ...] = (5, 20, 20, 22, 15, 10, 15, 15, 10, 6, 15, 15)
SUMMARY_CHARS = 120
LINE_POINTS = 13.5  # one line of 10-point 宋体, for the row heights
DATE_FORMAT = 'yyyy"年"m"月"d"日"'
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"  # a time (the export for people), to the minute
MAX_ROW_POINTS = 409  # Excel's tallest row
EXCEL_CELL_MAX = 32767  # characters Excel keeps in one cell
TITLE_ROW, NOTE_ROW, HEADER_ROW = 1, 2, 3
# What Excel would read as a formula, or as an error value, if it were typed in.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
OVERDUE_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's "light red" for bad values
_OVERDUE_FONT = Font(name="宋体", size=10, color="9C0006")
_BODY_FONT = Font(name="宋体", size=10)
_HEADER_FONT = Font(name="黑体", size=10, bold=True)
_TITLE_FONT = Font(name="黑体", size=16, bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTRE = Alignment(wrap_text=True, vertical="top", horizontal="center")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class LedgerRow:
    """One item received in the round (spam aside), as the ledger shows it. Texts are masked."""

    item_id: int
    number: str  # lead number ("青山巡线〔2026〕012号") or "" when not a lead
    transfer_numbers: tuple[str, ...]  # "青山巡转〔2026〕3号", ...
    received_at: datetime  # aware; shown in the round's zone
    channel: str  # Chinese channel name
    named: bool  # 实名 / 匿名
    title: str  # masked
    summary: str  # masked text; shortened here to about SUMMARY_CHARS
    subject: str  # the person/unit reported on, as recorded by triage ("" if none)
    subject_role: str  # Chinese
    disciplines: tuple[str, ...]  # Chinese names
    in_scope: bool | None
    status: str  # Chinese status name
    keeper: str  # 承办人, "" if none
    disposal: str  # Chinese disposal name, "" if open
    departments: tuple[str, ...]  # receiving bodies of transfers
    repeat_of: str  # "" or the first item's number/id text
    # The open deadlines (steps not yet done): (kind's Chinese name, due, overdue).
    deadlines: tuple[tuple[str, date, bool], ...]
    closed_on: date | None
    history: str  # short signed history "3月5日 王五 受理；3月9日 王五 转办…"

    @property
    def overdue(self) -> bool:
        return any(late for _kind, _due, late in self.deadlines)

    def ledger_number(self) -> str:
        """What the 编号 column shows: the lead number, else the transfer number(s), else the
        item's own number."""
        return self.number or "、".join(self.transfer_numbers) or f"未编号（第{self.item_id}号件）"


@dataclass(frozen=True)
class TransferRow:
    """One transfer (转办), for the 转办记录 sheet."""

    number: str  # "青山巡转〔2026〕3号"
    item_number: str  # the item's 编号 as the ledger shows it
    department: str  # the receiving body's name
    dispatched_on: date
    method: str  # 机要交换, 邮寄, 系统推送 …
    accept_due: date
    reply_due: date | None
    status: str  # Chinese status name
    accepted_on: date | None = None
    answered_on: date | None = None
    overdue: bool = False


def nearest_deadline(row: LedgerRow) -> tuple[str, date, bool] | None:
    """The deadline the ledger shows (最近期限): the earliest overdue one, else the earliest
    due; None when no step is open."""
    if not row.deadlines:
        return None
    return min(row.deadlines, key=lambda d: (not d[2], d[1]))


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The text on one line, cut to `limit` characters with an ellipsis."""
    flat = _SPACES.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def text_width(text: str) -> int:
    """The width of `text` in Excel's character units: two for a wide (CJK) character.

    Counted from the UTF-8 length (a CJK character or full-width mark takes three bytes, an
    ASCII one one), which is exact for Chinese and ASCII text and fast in C: this runs for
    every cell of a ledger or an export."""
    if text.isascii():
        return len(text)
    return len(text) + (len(text.encode("utf-8", "surrogatepass")) - len(text)) // 2


def line_count(value: object, width: float) -> int:
    """How many lines a wrapped cell of `width` needs for `value`: the row heights are set
    from this, since Excel does not always fit a row to wrapped text it did not type itself."""
    if not isinstance(value, str):
        return 1
    usable = max(1.0, width - 1.5)
    return sum(max(1, math.ceil(text_width(part) / usable)) for part in value.split("\n"))


def write_cell(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write one value: text always as text (never a formula or an error value, and without
    the control characters XML forbids), dates as Excel dates in DATE_FORMAT."""
    return put_value(ws.cell(row=row, column=column), value)


def sheet_cell(ws: Worksheet | WriteOnlyWorksheet, value: object) -> Cell:
    """A detached cell holding `value` as write_cell writes it, for `ws.append` (the way a
    write-only sheet takes styled cells; a normal sheet takes them too)."""
    return put_value(WriteOnlyCell(ws), value)


def put_value(cell: Cell, value: object, date_format: str = DATE_FORMAT) -> Cell:
    """Put `value` into `cell`: text as text (a leading =, +, -, @ kept by Excel's quote
    prefix), dates as Excel dates in `date_format`, times in DATETIME_FORMAT."""
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)[:EXCEL_CELL_MAX]
        if not text:
            return cell  # an empty cell, not an empty string
        cell.value = text
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
        if text.startswith(FORMULA_START):
            cell.quotePrefix = True  # Excel's leading apostrophe: stays text when edited
    else:
        cell.value = value
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = date_format
    return cell


def cn_date(day: date) -> str:
    """2026年3月5日."""
    return f"{day.year}年{day.month}月{day.day}日"


def _ledger_values(index: int, row: LedgerRow, zone: tzinfo) -> tuple[object, ...]:
    nearest = nearest_deadline(row)
    transfers = "；".join(
        f"{dept}（{no}）" if no else dept
        for dept, no in _pair(row.departments, row.transfer_numbers))
    in_scope = {True: "是", False: "否", None: "待研判"}[row.in_scope]
    return (
        index,
        row.ledger_number(),
        row.received_at.astimezone(zone).date(),
        row.channel,
        "实名" if row.named else "匿名",
        row.subject,
        row.subject_role,
        "、".join(row.disciplines),
        row.title,
        shorten(row.summary),
        in_scope,
        row.status,
        row.keeper,
        transfers,
        row.disposal,
        nearest[1] if nearest else None,
        nearest[0] if nearest else "",
        ("是" if row.overdue else "否") if row.deadlines else "",
        row.closed_on,
        row.repeat_of,
        row.history,
    )


def _pair(departments: Sequence[str], numbers: Sequence[str]) -> list[tuple[str, str]]:
    """Departments with their transfer numbers, in order; either list may be the longer."""
    count = max(len(departments), len(numbers))
    return [(departments[i] if i < len(departments) else "",
             numbers[i] if i < len(numbers) else "") for i in range(count)]


def _transfer_values(index: int, row: TransferRow) -> tuple[object, ...]:
    return (index, row.number, row.item_number, row.department, row.dispatched_on, row.method,
            row.accept_due, row.reply_due, row.status, "是" if row.overdue else "否",
            row.accepted_on, row.answered_on)


def write_table(ws: Worksheet | WriteOnlyWorksheet, title: str, note: str,
                columns: Sequence[str], widths: Sequence[float],
                rows: Iterable[tuple[tuple[object, ...], bool]], centred: set[int]) -> int:
    """A titled table on a fresh sheet: title row, note row, header row (frozen, repeated on
    every printed page, with a filter), then the rows; `rows` pairs each row's values with its
    overdue flag, which fills the row light red. Returns how many rows were written.

    Rows are appended one by one, so on a write-only sheet (`Workbook(write_only=True)`) each
    goes to disk as it is written and memory stays flat whatever the count; a normal sheet
    takes the same cells."""
    last = get_column_letter(len(columns))
    # What a write-only sheet writes before its first row: the frozen pane, the widths, the
    # fit-to-page flag. The rest (print setup, filter, merged title) is written at the end.
    ws.freeze_panes = f"C{HEADER_ROW + 1}"  # header and 序号/编号 stay
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width
    _print_setup(ws)
    heights = ws.row_dimensions
    titled = sheet_cell(ws, title)
    titled.font, titled.alignment = _TITLE_FONT, Alignment(horizontal="center",
                                                           vertical="center")
    heights[TITLE_ROW].height = 30
    ws.append([titled])
    noted = sheet_cell(ws, note)
    noted.font = _BODY_FONT
    ws.append([noted])
    ws.merged_cells.add(f"A{TITLE_ROW}:{last}{TITLE_ROW}")
    ws.merged_cells.add(f"A{NOTE_ROW}:{last}{NOTE_ROW}")
    header = []
    for name in columns:
        cell = sheet_cell(ws, name)
        cell.font, cell.fill, cell.border, cell.alignment = (
            _HEADER_FONT, _HEADER_FILL, _BORDER, Alignment(
                wrap_text=True, horizontal="center", vertical="center"))
        header.append(cell)
    heights[HEADER_ROW].height = max(
        30, max(line_count(n, w) for n, w in zip(columns, widths, strict=True)) * LINE_POINTS + 3)
    ws.append(header)
    # openpyxl hashes every style object each time one is assigned (about 0.1 ms a cell: 15 s
    # for a 5,000-item ledger); a body cell's styles are one of a few combinations, so each is
    # styled once and its style array copied to the cells that share it.
    styled: dict[tuple[tuple[int, ...], bool, bool], StyleArray] = {}
    write_only = isinstance(ws, WriteOnlyWorksheet)
    if write_only:
        # openpyxl's append binds each cell it is given once more, raising and catching an
        # error per cell (a third of the time); these cells are ready: they go as they are.
        ws._values_to_row = _placed  # type: ignore[union-attr]
    count = 0
    for count, (values, overdue) in enumerate(rows, 1):
        cells = []
        for col, value in enumerate(values, 1):
            cell = sheet_cell(ws, value)
            # the number format and quote prefix put_value set are part of the key
            key = (tuple(cell._style or ()), col in centred, overdue)
            if key in styled:
                cell._style = StyleArray(styled[key])
            else:
                cell.border = _BORDER
                cell.alignment = _CENTRE if col in centred else _WRAP
                cell.font = _OVERDUE_FONT if overdue else _BODY_FONT
                if overdue:
                    cell.fill = OVERDUE_FILL
                styled[key] = StyleArray(cell._style)
            cells.append(cell)
        at = HEADER_ROW + count
        lines = max((line_count(v, w) for v, w in zip(values, widths, strict=False)), default=1)
        heights[at].height = min(MAX_ROW_POINTS, lines * LINE_POINTS + 3)
        ws.append(cells)
        if write_only:
            del heights[at]  # written with its row; kept, it would grow with the sheet
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + count}"
    return count


def _placed(cells: Sequence[Cell], row: int) -> Iterator[Cell]:
    """A row of ready cells, given their coordinates, for a write-only sheet's writer."""
    for column, cell in enumerate(cells, 1):
        cell.row, cell.column = row, column
        yield cell


def _print_setup(ws: Worksheet | WriteOnlyWorksheet) -> None:
    """Landscape A4, fitted to the page's width, the header row repeated, pages numbered."""
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as it needs
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def ledger_xlsx(round_name: str, team: str, rows: Sequence[LedgerRow], *,
                generated_at: datetime, zone: tzinfo,
                transfers: Sequence[TransferRow] = ()) -> bytes:
    """The round's ledger as `.xlsx` bytes: the sheet 问题线索台账 (title, export time and
    count, then one row per item in the order given, columns LEDGER_COLUMNS; overdue rows
    filled light red) and the sheet 转办记录 (one row per transfer). Both print on landscape A4,
    fitted to the page's width, the header row repeated on each page. The workbook is written
    row by row (openpyxl's write-only mode): memory does not grow with the rows' cells."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(LEDGER_SHEET)
    local = generated_at.astimezone(zone)
    made = f"{cn_date(local)} {local:%H:%M}"
    team_part = f"{team}    " if team else ""
    write_table(ws, f"{round_name}问题线索台账",
           f"{team_part}导出时间：{made}    共 {len(rows)} 件（不含垃圾信息）",
           LEDGER_COLUMNS, LEDGER_WIDTHS,
           ((_ledger_values(i, row, zone), row.overdue) for i, row in enumerate(rows, 1)),
           centred={1, 3, 4, 5, 11, 12, 13, 16, 18, 19})
    sheet = book.create_sheet(TRANSFER_SHEET)
    write_table(sheet, f"{round_name}转办记录",
           f"{team_part}导出时间：{made}    共 {len(transfers)} 件",
           TRANSFER_COLUMNS, TRANSFER_WIDTHS,
           ((_transfer_values(i, row), row.overdue) for i, row in enumerate(transfers, 1)),
           centred={1, 5, 6, 7, 8, 9, 10, 11, 12})
    book.properties.creator = team or "巡察组"
    book.properties.title = f"{round_name}问题线索台账"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
