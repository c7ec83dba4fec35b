"""The ledger workbook read back as Excel would: its sheets, columns, real dates, highlighted
overdue rows, print setup, and texts from the public that stay text (formula injection)."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from intake import ledger
from intake.ledger import (
    LEDGER_COLUMNS,
    LEDGER_SHEET,
    TRANSFER_COLUMNS,
    TRANSFER_SHEET,
    LedgerRow,
    TransferRow,
    ledger_xlsx,
)

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 20, 9, 30, tzinfo=BEIJING)
HEADER = ledger.HEADER_ROW


def make_row(**overrides: object) -> LedgerRow:
    values: dict[str, object] = {
        "item_id": 7,
        "number": "青山巡线〔2026〕012号",
        "transfer_numbers": (),
        # 23:30 UTC is the next morning in Beijing: the ledger shows the round's date.
        "received_at": datetime(2026, 3, 4, 23, 30, tzinfo=UTC),
        "channel": "网上反映",
        "named": True,
        "title": "村支书把低保给了亲戚",
        "summary": "反映上湾村党支部书记***把低保名额给了自己亲戚。",
        "subject": "上湾村党支部书记",
        "subject_role": "下一级党组织主要负责人",
        "disciplines": ("群众纪律", "廉洁纪律"),
        "in_scope": True,
        "status": "已受理",
        "keeper": "王五",
        "disposal": "",
        "departments": (),
        "repeat_of": "",
        "deadlines": (("办结", date(2026, 5, 4), False), ("告知受理", date(2026, 3, 26), False)),
        "closed_on": None,
        "history": "3月5日 李四 研判；3月9日 王五 受理",
    }
    values.update(overrides)
    return LedgerRow(**values)  # type: ignore[arg-type]


def open_book(rows: list[LedgerRow], **kwargs: object) -> tuple[Worksheet, Worksheet]:
    data = ledger_xlsx("青山镇巡察", "县委第一巡察组", rows, generated_at=NOW, zone=BEIJING,
                       **kwargs)  # type: ignore[arg-type]
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [LEDGER_SHEET, TRANSFER_SHEET]
    return book[LEDGER_SHEET], book[TRANSFER_SHEET]


def header(ws: Worksheet) -> tuple[str, ...]:
    return tuple(c.value for c in ws[HEADER])


def body(ws: Worksheet) -> list[dict[str, object]]:
    names = header(ws)
    return [dict(zip(names, (c.value for c in row), strict=True))
            for row in ws.iter_rows(min_row=HEADER + 1)]


def cell(ws: Worksheet, row: int, column: str) -> Cell:
    return ws.cell(row=HEADER + row, column=header(ws).index(column) + 1)


def test_title_count_and_columns() -> None:
    rows = [make_row(item_id=i, number=f"青山巡线〔2026〕{i:03d}号") for i in range(1, 6)]
    ws, _ = open_book(rows)
    assert ws["A1"].value == "青山镇巡察问题线索台账"
    assert "共 5 件（不含垃圾信息）" in ws["A2"].value
    assert "导出时间：2026年4月20日 09:30" in ws["A2"].value
    assert header(ws) == LEDGER_COLUMNS
    assert LEDGER_COLUMNS[:2] == ("序号", "编号") and "承办人" in LEDGER_COLUMNS
    assert len(body(ws)) == 5
    assert [r["序号"] for r in body(ws)] == [1, 2, 3, 4, 5]
    assert body(ws)[2]["编号"] == "青山巡线〔2026〕003号"


def test_empty_round_still_has_its_header() -> None:
    ws, transfers = open_book([])
    assert header(ws) == LEDGER_COLUMNS and body(ws) == []
    assert "共 0 件" in ws["A2"].value
    assert header(transfers) == TRANSFER_COLUMNS


def test_number_is_the_lead_number_else_the_transfers_else_the_item() -> None:
    ws, _ = open_book([
        make_row(),
        make_row(number="", transfer_numbers=("青山巡转〔2026〕3号", "青山巡转〔2026〕4号"),
                 departments=("县人社局", "县住建局")),
        make_row(number="", item_id=42),
    ])
    numbers = [r["编号"] for r in body(ws)]
    assert numbers == ["青山巡线〔2026〕012号", "青山巡转〔2026〕3号、青山巡转〔2026〕4号",
                       "未编号（第42号件）"]
    assert body(ws)[1]["转办单位及文号"] == (
        "县人社局（青山巡转〔2026〕3号）；县住建局（青山巡转〔2026〕4号）")


def test_values_in_chinese_and_summary_shortened() -> None:
    ws, _ = open_book([make_row(summary="内容 " * 200, named=False, in_scope=None)])
    (row,) = body(ws)
    assert row["承办人"] == "王五"
    assert row["实名/匿名"] == "匿名"
    assert row["是否属受理范围"] == "待研判"
    assert row["问题类别"] == "群众纪律、廉洁纪律"
    assert row["办理过程"] == "3月5日 李四 研判；3月9日 王五 受理"
    summary = str(row["内容摘要"])
    assert len(summary) == ledger.SUMMARY_CHARS and summary.endswith("…")
    assert "\n" not in summary and "  " not in summary


def test_dates_are_excel_dates_in_the_round_zone() -> None:
    ws, _ = open_book([make_row(closed_on=date(2026, 4, 1))])
    received = cell(ws, 1, "收件日期")
    assert received.is_date and received.value == datetime(2026, 3, 5)  # Beijing's date
    assert "年" in received.number_format and "日" in received.number_format
    closed = cell(ws, 1, "办结日期")
    assert closed.is_date and closed.value == datetime(2026, 4, 1)
    due = cell(ws, 1, "最近期限")  # the earliest of the open deadlines
    assert due.is_date and due.value == datetime(2026, 3, 26)
    assert cell(ws, 1, "期限事项").value == "告知受理"
    assert cell(ws, 1, "是否超期").value == "否"


def test_overdue_rows_are_highlighted_and_show_the_overdue_deadline() -> None:
    late = make_row(item_id=8, deadlines=(("研判", date(2026, 3, 26), False),
                                          ("转办受理", date(2026, 4, 1), True)))
    ws, _ = open_book([make_row(), late, make_row(deadlines=())])
    assert [r["是否超期"] for r in body(ws)] == ["否", "是", None]
    assert cell(ws, 2, "期限事项").value == "转办受理"
    assert cell(ws, 2, "最近期限").value == datetime(2026, 4, 1)
    for column in range(1, len(LEDGER_COLUMNS) + 1):
        assert ws.cell(HEADER + 2, column).fill.fgColor.rgb.endswith("FFC7CE")
        assert ws.cell(HEADER + 1, column).fill.fill_type is None
        assert ws.cell(HEADER + 3, column).fill.fill_type is None


@pytest.mark.parametrize("text", [
    "=HYPERLINK(\"http://evil.example\",\"点此\")", "+1+cmd|' /C calc'!A0", "-2+3",
    "@SUM(A1:A2)", "#N/A", "=1+1",
])
def test_texts_from_the_public_stay_text(text: str) -> None:
    ws, _ = open_book([make_row(title=text, summary=text, subject=text, history=text)])
    for column in ("标题", "内容摘要", "反映对象", "办理过程"):
        found = cell(ws, 1, column)
        assert found.value == text
        assert found.data_type == "s"
        if text[0] in "=+-@":
            assert found.quotePrefix  # Excel keeps it text even when the cell is edited


def test_control_characters_are_dropped_not_fatal() -> None:
    ws, _ = open_book([make_row(title="标题\x0b带\x01控制符")])
    assert cell(ws, 1, "标题").value == "标题带控制符"


def test_layout_for_screen_and_print() -> None:
    ws, transfers = open_book([make_row()])
    assert ws.freeze_panes == f"C{HEADER + 1}"
    assert ws.print_title_rows == f"${HEADER}:${HEADER}"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.column_dimensions["B"].width == 23  # 青山巡线〔2026〕012号 on one line
    assert ws.column_dimensions["C"].width >= 15  # a date never shows as ####
    assert ws.column_dimensions["J"].width > 30  # the summary has room
    assert cell(ws, 1, "内容摘要").alignment.wrap_text
    assert ws.auto_filter.ref == f"A{HEADER}:U{HEADER + 1}"
    assert transfers.print_title_rows == f"${HEADER}:${HEADER}"


def test_transfer_sheet_has_one_row_per_transfer() -> None:
    sent = TransferRow(number="青山巡转〔2026〕3号", item_number="未编号（第9号件）",
                       department="县人社局", dispatched_on=date(2026, 3, 9), method="机要交换",
                       accept_due=date(2026, 3, 16), reply_due=date(2026, 5, 8),
                       status="已受理", accepted_on=date(2026, 3, 12))
    late = dataclasses.replace(sent, number="青山巡转〔2026〕4号", department="县住建局",
                               status="已超期", accepted_on=None, overdue=True)
    _, ws = open_book([make_row()], transfers=[sent, late])
    rows = body(ws)
    assert [r["转办文号"] for r in rows] == ["青山巡转〔2026〕3号", "青山巡转〔2026〕4号"]
    assert rows[0]["转办日期"] == datetime(2026, 3, 9)
    assert cell(ws, 1, "受理日期").is_date and rows[1]["受理日期"] is None
    assert rows[1]["是否超期"] == "是"
    assert cell(ws, 2, "转办单位").fill.fgColor.rgb.endswith("FFC7CE")
    assert cell(ws, 1, "转办单位").fill.fill_type is None
    assert "共 2 件" in ws["A2"].value


def test_no_identity_field_exists_on_a_row() -> None:
    names = {f.name for f in dataclasses.fields(LedgerRow)}
    assert not names & {"name", "phone", "id_number", "address", "email", "query_code",
                        "reporter"}


def test_rows_are_as_tall_as_their_wrapped_text() -> None:
    ws, _ = open_book([make_row(summary="短。", history=""), make_row(summary="长" * 120)])
    short, tall = (ws.row_dimensions[HEADER + n].height for n in (1, 2))
    # 120 wide characters in a 36-unit column: about seven lines.
    assert tall >= 7 * ledger.LINE_POINTS > short
    header_height = ws.row_dimensions[HEADER].height
    assert header_height >= 3 * ledger.LINE_POINTS  # 是否属受理范围 in a narrow column


def test_readme_image_script_draws_the_sheet() -> None:
    from scripts import render_ledger_image as script

    data = ledger_xlsx("青山镇巡察", "县委第一巡察组", script.sample_rows(),
                       generated_at=NOW, zone=BEIJING)
    document = pdfium.PdfDocument(script.render_pdf(data))
    try:  # the page's text as a viewer extracts it
        text = re.sub(r"\s+", "", document[0].get_textpage().get_text_range())
    finally:
        document.close()
    assert "青山镇巡察问题线索台账" in text and "承办人" in text
    assert "青山巡线〔2026〕001号" in text
