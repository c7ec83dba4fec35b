"""Render the first printed page of a sample ledger to docs/images/ledger.png, for the README.

The rows are invented. The ledger is made by intake.ledger.ledger_xlsx and read back with
openpyxl; the page is then drawn as Excel prints that sheet (landscape A4, fitted to the
page's width: its column widths, row heights, fills and date format) with fpdf2 and the
system's Chinese font, and rasterised with pypdfium2. LibreOffice is not needed.

    .venv/bin/python scripts/render_ledger_image.py [OUT.png]
"""

from __future__ import annotations

import io
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pypdfium2 as pdfium
from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from PIL import Image

from intake.ledger import HEADER_ROW, LEDGER_SHEET, LedgerRow, cn_date, ledger_xlsx
from intake.publication import _break_lines, find_font

OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "ledger.png"
WIDTH_PX = 1200
BEIJING = timezone(timedelta(hours=8))
PAGE_W, PAGE_H = 297.0, 210.0  # A4 landscape, mm
MARGIN_X, MARGIN_Y = 0.4 * 25.4, 0.6 * 25.4  # the sheet's print margins
PT = 25.4 / 72


def sample_rows() -> list[LedgerRow]:
    def at(month: int, day: int, hour: int) -> datetime:
        return datetime(2026, month, day, hour, 12, tzinfo=BEIJING)

    def row(item_id: int, **values: object) -> LedgerRow:
        base: dict[str, object] = {
            "item_id": item_id, "number": "", "transfer_numbers": (), "named": False,
            "subject": "", "subject_role": "", "disciplines": (), "in_scope": None,
            "keeper": "", "disposal": "", "departments": (), "repeat_of": "",
            "deadlines": (), "closed_on": None, "history": "",
        }
        base.update(values)
        return LedgerRow(**base)  # type: ignore[arg-type]

    return [
        row(1, number="青山巡线〔2026〕001号", received_at=at(3, 2, 9), channel="网上反映",
            named=True, title="村支书把低保给了亲戚",
            summary="反映上湾村党支部书记***利用职务便利，将本村低保名额优先给予其亲属"
                    "两户，群众多次反映未果。附低保名单照片一张。",
            subject="上湾村党支部书记", subject_role="下一级主要负责人",
            disciplines=("群众纪律", "廉洁纪律"), in_scope=True, status="已受理", keeper="王五",
            deadlines=(("告知受理", date(2026, 3, 23), False), ("办结", date(2026, 5, 1), False)),
            history="3月3日 李四 研判；3月4日 王五 受理"),
        row(2, number="青山巡线〔2026〕002号", received_at=at(3, 3, 14), channel="电子邮件",
            named=False, title="镇长插手工程招投标",
            summary="镇长***插手镇区道路硬化工程招投标，让其亲戚的公司中标，工程完工后"
                    "还拖欠工人工资。",
            subject="青山镇镇长", subject_role="领导班子成员",
            disciplines=("廉洁纪律", "工作纪律"), in_scope=True, status="已办结", keeper="王五",
            transfer_numbers=("青山巡转〔2026〕001号",), departments=("县人社局",),
            disposal="初步核实", closed_on=date(2026, 4, 10),
            history="3月4日 李四 研判；3月5日 王五 受理；3月6日 王五 转办工资部分；"
                    "4月10日 赵六 办结"),
        row(3, received_at=at(3, 5, 10), channel="值班电话", title="工地欠薪",
            summary="反映青山镇某建筑工地拖欠二十余名工人工资，要求帮助讨薪。",
            in_scope=False, status="已转办", transfer_numbers=("青山巡转〔2026〕002号",),
            departments=("县人社局",),
            deadlines=(("转办受理", date(2026, 3, 13), True),),
            history="3月6日 李四 转办"),
        row(4, received_at=at(3, 6, 16), channel="来信", named=True, title="宅基地审批",
            summary="反映本组宅基地审批迟迟不办，询问办理进度。", in_scope=False,
            status="已研判", deadlines=(("研判", date(2026, 3, 27), True),),
            history="3月9日 李四 研判"),
        row(5, number="青山巡线〔2026〕003号", received_at=at(3, 9, 11), channel="意见箱",
            title="违规吃喝", summary="反映镇财政所负责人***多次在农家乐用公款吃喝，"
                                      "并报销于“办公用品”名下。",
            subject="镇财政所所长", subject_role="重要岗位领导干部",
            disciplines=("廉洁纪律",), in_scope=True, status="已受理", keeper="钱七",
            deadlines=(("办结", date(2026, 5, 8), False),),
            history="3月10日 李四 研判；3月11日 钱七 受理"),
        row(6, received_at=at(3, 10, 8), channel="网上反映", named=True, title="低保问题",
            summary="再次反映上湾村低保名额给了村支书亲戚的问题。",
            subject="上湾村党支部书记", subject_role="下一级主要负责人",
            disciplines=("群众纪律",), in_scope=True, status="重复件",
            repeat_of="青山巡线〔2026〕001号", history="3月10日 李四 登记为重复件"),
        row(7, number="青山巡线〔2026〕004号", received_at=at(3, 12, 15), channel="来访",
            named=True, title="选举拉票",
            summary="反映下湾村换届选举中有人请客送礼拉票，附聊天记录截图。",
            subject="下湾村村委会主任", subject_role="下一级主要负责人",
            disciplines=("组织纪律",), in_scope=True, status="已受理", keeper="王五",
            deadlines=(("告知受理", date(2026, 4, 2), False),),
            history="3月13日 李四 研判；3月16日 王五 受理"),
        row(8, received_at=at(3, 16, 20), channel="电子邮件", title="咨询社保转移",
            summary="咨询外地社保转回本县的手续和所需材料。", in_scope=False, status="待研判",
            deadlines=(("研判", date(2026, 4, 7), False),)),
        row(9, number="青山巡线〔2026〕005号", received_at=at(3, 17, 9), channel="网上反映",
            named=True, title="扶贫项目资金去向不明",
            summary="反映中湾村产业扶贫项目资金三十万元去向不明，村务公开栏未公布。",
            subject="中湾村党支部书记", subject_role="下一级主要负责人",
            disciplines=("群众纪律",), in_scope=True, status="已受理", keeper="钱七",
            deadlines=(("告知受理", date(2026, 4, 8), False),),
            history="3月18日 李四 研判；3月19日 钱七 受理"),
        row(10, received_at=at(3, 18, 10), channel="值班电话", title="噪声扰民",
            summary="反映镇区一家石材厂夜间生产噪声扰民。", in_scope=False, status="已转办",
            transfer_numbers=("青山巡转〔2026〕003号",), departments=("县生态环境局",),
            deadlines=(("转办受理", date(2026, 3, 25), False),),
            history="3月19日 李四 转办"),
        row(11, number="青山巡线〔2026〕006号", received_at=at(3, 19, 16), channel="来信",
            title="公车私用", summary="反映镇党委副书记***周末驾驶公务用车接送子女上学。",
            subject="镇党委副书记", subject_role="领导班子成员", disciplines=("廉洁纪律",),
            in_scope=True, status="已办结", keeper="王五", disposal="谈话函询",
            closed_on=date(2026, 3, 26), history="3月20日 李四 研判；3月20日 王五 受理；"
                                                  "3月26日 赵六 办结"),
        row(12, received_at=at(3, 20, 11), channel="网上反映", title="学校乱收费",
            summary="反映镇中心小学以资料费名义向学生收取费用。", in_scope=False,
            status="已转办", transfer_numbers=("青山巡转〔2026〕004号",), departments=("县教育局",),
            deadlines=(("转办受理", date(2026, 3, 27), False),), history="3月23日 李四 转办"),
        *(row(n, received_at=at(3, day, 9 + n % 8), channel=channel, title=title,
              summary=summary, in_scope=False, status="待研判",
              deadlines=(("研判", due, False),))
          for n, (day, channel, title, summary, due) in enumerate([
              (23, "网上反映", "路灯不亮", "反映镇区东街路灯损坏一月未修。", date(2026, 4, 14)),
              (24, "值班电话", "养老金咨询", "咨询城乡居民养老保险缴费档次。", date(2026, 4, 15)),
              (25, "来信", "征地补偿", "反映征地补偿款标准偏低，要求解释补偿依据。",
               date(2026, 4, 16)),
              (26, "电子邮件", "医保报销", "咨询异地就医医保报销比例和办理流程。",
               date(2026, 4, 17)),
              (26, "网上反映", "道路破损", "反映下湾村通村公路多处破损，雨天积水难行。",
               date(2026, 4, 17)),
          ], 13)),
    ]


def _shown(cell: Cell) -> str:
    """What Excel shows in the cell: dates in the ledger's Chinese format."""
    if cell.value is None:
        return ""
    if isinstance(cell.value, datetime):
        return cn_date(cell.value.date())
    return str(cell.value)


def render_pdf(xlsx: bytes) -> bytes:
    """The sheet's first printed page, drawn from the workbook itself."""
    ws = load_workbook(io.BytesIO(xlsx))[LEDGER_SHEET]
    columns = range(1, ws.max_column + 1)
    widths_mm = [(7 * ws.column_dimensions[get_column_letter(c)].width + 5) * 25.4 / 96
                 for c in columns]
    scale = (PAGE_W - 2 * MARGIN_X) / sum(widths_mm)  # fit to the page's width
    widths = [w * scale for w in widths_mm]
    font = find_font()
    pdf = FPDF(orientation="L", format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_X, MARGIN_Y, MARGIN_X)
    pdf.add_font("cjk", "", str(font.path), collection_font_number=font.number)
    pdf.add_page()
    pdf.set_draw_color(128, 128, 128)
    pdf.set_line_width(0.1)
    pdf.c_margin = 0.4  # a cell's inner margin, as Excel leaves it
    table_w = sum(widths)

    def bold(size: float):  # CJK fonts seldom ship a bold face: stroke it
        return pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=size * 0.02)

    title, note = ws.cell(1, 1).value, ws.cell(2, 1).value
    pdf.set_font("cjk", size=16 * scale)
    with bold(16 * scale):
        pdf.cell(table_w, ws.row_dimensions[1].height * PT * scale, title, align=Align.C,
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=10 * scale)
    pdf.cell(table_w, 15 * PT * scale, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y()
    for r in range(HEADER_ROW, ws.max_row + 1):
        height = (ws.row_dimensions[r].height or 15) * PT * scale
        if y + height > PAGE_H - MARGIN_Y:
            break  # the first page only
        x = MARGIN_X
        for c, width in zip(columns, widths, strict=True):
            cell = ws.cell(r, c)
            fill = cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None
            if fill:
                pdf.set_fill_color(*(int(fill[i:i + 2], 16) for i in (2, 4, 6)))
            pdf.rect(x, y, width, height, style="DF" if fill else "D")
            colour = cell.font.color.rgb if cell.font.color is not None else None
            if isinstance(colour, str):
                pdf.set_text_color(*(int(colour[i:i + 2], 16) for i in (2, 4, 6)))
            else:
                pdf.set_text_color(0, 0, 0)
            size = (cell.font.sz or 10) * scale
            pdf.set_font("cjk", size=size)
            centred = cell.alignment.horizontal == "center"
            line = size * PT * 1.3
            # Chinese line breaking (no 。， at a line's start), as the notices use it.
            lines = [part for para in _shown(cell).split("\n") for part in _break_lines(
                para, width - 2 * pdf.c_margin, pdf.get_string_width)]
            top = y + 0.4 if r > HEADER_ROW else y + max(0.4, (height - line * len(lines)) / 2)
            with bold(size) if cell.font.b else pdf.local_context():
                for n, text in enumerate(lines):
                    pdf.set_xy(x, top + n * line)
                    pdf.cell(width, line, text, align=Align.C if centred else Align.L)
            x += width
        y += height
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=8)
    pdf.set_xy(MARGIN_X, PAGE_H - MARGIN_Y + 3)
    pdf.cell(PAGE_W - 2 * MARGIN_X, 4, "第 1 页", align=Align.C)
    return bytes(pdf.output())


def render_png(pdf: bytes, width_px: int = WIDTH_PX) -> Image.Image:
    """The page at twice the size, scaled down: smoother small print than a direct render."""
    page = pdfium.PdfDocument(pdf)[0]
    big = page.render(scale=2 * width_px / page.get_width()).to_pil().convert("RGB")
    return big.resize((width_px, round(big.height * width_px / big.width)),
                      Image.Resampling.LANCZOS)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    generated = datetime(2026, 3, 27, 16, 30, tzinfo=BEIJING)
    xlsx = ledger_xlsx("青山镇巡察", "县委第一巡察组", sample_rows(),
                       generated_at=generated, zone=BEIJING)
    out.parent.mkdir(parents=True, exist_ok=True)
    render_png(render_pdf(xlsx)).save(out, optimize=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
