"""Build the editable Word templates of the team's reports (intake/reportdocs.py).

    .venv/bin/python scripts/make_report_templates.py [OUT_DIR]

writes `weekly_report.docx` (信访举报受理情况周报) and the round's closing appendices
`round_statistics.docx` (信访举报受理情况统计表), `round_leads.docx` (问题线索移交清单) and
`round_transfers.docx` (转办情况一览表) into OUT_DIR (default: intake/templates). They are
docxtpl templates: Jinja tags in the text (`{{ summary }}`) and table rows repeated with
`{%tr for c in channels %}`, so an office may open one in Word, change the wording, fonts or
columns, keep the tags, and put its copy in the folder of the setting `report_templates_dir`.
The variables each receives are listed in intake/reportdocs.py (`_weekly_context`,
`statistics_docx`, `leads_docx`, `transfers_docx`). The weekly report is laid out as the
team's letters are (scripts/make_letter_templates.py: GB/T 9704 A4 portrait, 仿宋 三号 body,
小标宋 title, 黑体 headings 一、二、…); the appendices are landscape tables, as such lists are
printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_letter_templates import (  # the letters' layout helpers
    BODY_SIZE,
    HEADING_FONT,
    TITLE_FONT,
    _a4,
    _document,
    _east_asian,
    _page_numbers,
    _para,
    _signature,
    _style,
)

OUT = Path(__file__).resolve().parent.parent / "intake" / "templates"
TABLE_FONT = "仿宋"
TABLE_SIZE = Pt(11)  # between 五号 and 小四: seven columns fit the portrait page
TABLE_LINE = Pt(16)
KAI_FONT = "楷体"


def _styles(doc: Document) -> None:
    title = _style(doc, "公文标题", TITLE_FONT, Pt(22), align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = Pt(36)
    _style(doc, "副标题", KAI_FONT, BODY_SIZE, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(doc, "一级标题", HEADING_FONT, BODY_SIZE)
    cell = _style(doc, "表格文字", TABLE_FONT, TABLE_SIZE, align=WD_ALIGN_PARAGRAPH.CENTER)
    cell.paragraph_format.line_spacing = TABLE_LINE
    head = _style(doc, "表头", HEADING_FONT, TABLE_SIZE, align=WD_ALIGN_PARAGRAPH.CENTER)
    head.paragraph_format.line_spacing = TABLE_LINE
    note = _style(doc, "表注", TABLE_FONT, TABLE_SIZE)
    note.paragraph_format.line_spacing = Pt(20)


def _repeat_header(table: Table) -> None:
    """The header row is printed again at the top of every page the table runs onto."""
    trpr = table.rows[0]._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    trpr.append(flag)


def _cell(cell: object, text: str, style: str, *, left: bool = False) -> None:
    paragraph = cell.paragraphs[0]  # type: ignore[attr-defined]
    paragraph.style = style
    if left:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    if text:
        paragraph.add_run(text)


def _table(doc: Document, header: Sequence[str], cells: Sequence[str], loop: str,
           widths: Sequence[float], *, totals: Sequence[str] = (),
           left: Sequence[int] = ()) -> Table:
    """A bordered table: the header, one row repeated for each element of `loop` (docxtpl
    `{%tr for … %}`), and optionally a totals row. `left`: columns of running text."""
    rows = 4 + (1 if totals else 0)
    table = doc.add_table(rows=rows, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)
    for i, name in enumerate(header):
        _cell(table.rows[0].cells[i], name, "表头")
    _cell(table.rows[1].cells[0], f"{{%tr for {loop} %}}", "表格文字")
    for i, value in enumerate(cells):
        _cell(table.rows[2].cells[i], value, "表格文字", left=i in left)
    _cell(table.rows[3].cells[0], "{%tr endfor %}", "表格文字")
    for i, value in enumerate(totals):
        _cell(table.rows[4].cells[i], value, "表头")
    _repeat_header(table)
    return table


def weekly_report() -> Document:
    doc = _a4()
    _styles(doc)
    _para(doc, "{{ team }}", "公文标题")
    _para(doc, "信访举报受理情况周报", "公文标题")
    _para(doc, "（第{{ week_no }}周）", "副标题")
    _para(doc)
    _para(doc, "巡察轮次：{{ round_name }}")
    _para(doc, "被巡察单位：{{ unit }}")
    _para(doc, "统计时段：{{ period }}（{{ iso_week }}）")
    _para(doc)
    _para(doc, "一、总体情况", "一级标题", indent=True)
    _para(doc, "{{ summary }}", indent=True)
    _para(doc, "二、受理情况（按来源渠道）", "一级标题", indent=True)
    _table(doc, ("来源渠道", "本周（件）", "累计（件）"),
           ("{{ c.name }}", "{{ c.week }}", "{{ c.total }}"), "c in channels", (60, 45, 45),
           totals=("合计", "{{ received.week }}", "{{ received.total }}"))
    _para(doc, "三、研判情况", "一级标题", indent=True)
    _table(doc, ("研判结果", "本周（件）", "累计（件）"),
           ("{{ c.name }}", "{{ c.week }}", "{{ c.total }}"), "c in triage", (60, 45, 45),
           totals=("合计", "{{ received.week }}", "{{ received.total }}"))
    _para(doc, "四、反映问题类别", "一级标题", indent=True)
    _table(doc, ("问题类别", "本周（件）", "累计（件）"),
           ("{{ c.name }}", "{{ c.week }}", "{{ c.total }}"), "c in disciplines", (60, 45, 45))
    _para(doc, "注：一件反映多类问题的，在各类别分别计数。", "表注")
    _para(doc, "五、本周受理问题线索", "一级标题", indent=True)
    _para(doc, "{%p if leads %}")
    _table(doc, ("序号", "线索编号", "受理日期", "反映对象", "问题类别", "承办人", "处置情况"),
           ("{{ x.n }}", "{{ x.number }}", "{{ x.accepted_on }}", "{{ x.subject }}",
            "{{ x.disciplines }}", "{{ x.keeper }}", "{{ x.disposal }}"), "x in leads",
           (10, 34, 22, 26, 22, 18, 24))
    _para(doc, "注：反映对象只写职务或类别。", "表注")
    _para(doc, "{%p else %}")
    _para(doc, "本周无新受理的问题线索。", indent=True)
    _para(doc, "{%p endif %}")
    _para(doc, "六、本周转办情况", "一级标题", indent=True)
    _para(doc, "{%p if transfers %}")
    _table(doc, ("序号", "转办文号", "件号", "转办单位", "转办日期", "办理状态", "是否超期"),
           ("{{ t.n }}", "{{ t.number }}", "{{ t.item }}", "{{ t.department }}",
            "{{ t.dispatched_on }}", "{{ t.status }}", "{{ t.overdue }}"), "t in transfers",
           (10, 30, 26, 30, 22, 24, 14))
    _para(doc, "{%p else %}")
    _para(doc, "本周无转办事项。", indent=True)
    _para(doc, "{%p endif %}")
    _para(doc, "七、办结情况（按处置方式）", "一级标题", indent=True)
    _para(doc, "{%p if closed %}")
    _table(doc, ("处置方式", "本周（件）", "累计（件）"),
           ("{{ c.name }}", "{{ c.week }}", "{{ c.total }}"), "c in closed", (60, 45, 45),
           totals=("合计", "{{ closed_week }}", "{{ closed_total }}"))
    _para(doc, "{%p else %}")
    _para(doc, "截至本周末尚无办结件。", indent=True)
    _para(doc, "{%p endif %}")
    _para(doc, "八、超期未办情况", "一级标题", indent=True)
    _para(doc, "截至{{ as_of }}，超期未办{{ overdue_count }}件。", indent=True)
    _para(doc, "{%p if overdue %}")
    _table(doc, ("序号", "编号", "超期事项", "期限"),
           ("{{ o.n }}", "{{ o.number }}", "{{ o.clocks }}", "{{ o.due }}"), "o in overdue",
           (12, 64, 40, 40))
    _para(doc, "{%p endif %}")
    _para(doc, "九、重复件和告知反映人情况", "一级标题", indent=True)
    _para(doc, "本周登记重复件{{ repeats.week }}件，累计{{ repeats.total }}件；"
               "本周告知反映人{{ notices.week }}次，累计{{ notices.total }}次。", indent=True)
    _para(doc)
    _signature(doc, "{{ team }}", "{{ dated }}")
    return doc


def _landscape() -> Document:
    """A4 landscape, 25 mm margins all round: the appendices are wide tables."""
    doc = _document(Mm(297), Mm(210), (Mm(25), Mm(25), Mm(25), Mm(25)), Pt(14), Pt(24))
    doc.sections[0].orientation = WD_ORIENT.LANDSCAPE
    _page_numbers(doc)
    _styles(doc)
    return doc


def _appendix_head(doc: Document, number: int) -> None:
    _east_asian(_para(doc, f"附件{number}", "一级标题").runs[0]._element, HEADING_FONT)
    _para(doc, "{{ title }}", "公文标题")
    _para(doc, "{{ round_line }}　被巡察单位：{{ unit }}　"
               "巡察开始：{{ opened }}　统计截至：{{ as_of }}", align=WD_ALIGN_PARAGRAPH.CENTER)


def _appendix_foot(doc: Document) -> None:
    _para(doc)
    _para(doc, "填报单位：{{ team }}　　　　填报日期：{{ dated }}", align=WD_ALIGN_PARAGRAPH.RIGHT)


def round_statistics() -> Document:
    doc = _landscape()
    _appendix_head(doc, 1)
    _para(doc, "一、按来源渠道和办理结果（件）", "一级标题")
    _table(doc, ("来源渠道", "收件数", "受理为问题线索", "转办", "重复件", "其他办结", "待办理"),
           ("{{ c.name }}", "{{ c.received }}", "{{ c.leads }}", "{{ c.transferred }}",
            "{{ c.repeats }}", "{{ c.closed }}", "{{ c.pending }}"), "c in channels",
           (45, 30, 40, 30, 30, 30, 30))
    _para(doc, "注：每件只计一种办理结果，依次按问题线索、转办、重复件、其他办结、待办理计入；"
               "不含疑似垃圾信息。", "表注")
    _para(doc, "二、按反映问题类别（件）", "一级标题")
    _table(doc, ("问题类别", "件数", "其中问题线索"),
           ("{{ d.name }}", "{{ d.count }}", "{{ d.leads }}"), "d in disciplines", (60, 40, 40))
    _para(doc, "注：一件反映多类问题的，在各类别分别计数。", "表注")
    _para(doc, "三、按研判结果（件）", "一级标题")
    _table(doc, ("研判结果", "件数"), ("{{ s.name }}", "{{ s.count }}"), "s in scope", (60, 40))
    _appendix_foot(doc)
    return doc


def round_leads() -> Document:
    doc = _landscape()
    _appendix_head(doc, 2)
    _para(doc, "共{{ count }}件。", align=WD_ALIGN_PARAGRAPH.LEFT)
    _table(doc, ("序号", "线索编号", "收件日期", "反映对象", "问题类别", "线索摘要", "承办人",
                 "处置方式", "办理过程"),
           ("{{ x.n }}", "{{ x.number }}", "{{ x.received_on }}", "{{ x.subject }}",
            "{{ x.disciplines }}", "{{ x.summary }}", "{{ x.keeper }}", "{{ x.disposal }}",
            "{{ x.steps }}"), "x in leads", (10, 32, 22, 26, 20, 60, 16, 18, 43),
           left=(5, 8))
    _para(doc, "注：线索摘要为遮蔽后的内容摘录，不含反映人信息；完整内容见移交材料各案卷。",
          "表注")
    _appendix_foot(doc)
    return doc


def round_transfers() -> Document:
    doc = _landscape()
    _appendix_head(doc, 3)
    _para(doc, "共{{ count }}件。", align=WD_ALIGN_PARAGRAPH.LEFT)
    _table(doc, ("序号", "转办文号", "件号", "转办单位", "转办日期", "受理日期", "办理结果",
                 "办理状态", "是否超期"),
           ("{{ t.n }}", "{{ t.number }}", "{{ t.item }}", "{{ t.department }}",
            "{{ t.dispatched_on }}", "{{ t.accepted_on }}", "{{ t.result }}", "{{ t.status }}",
            "{{ t.overdue }}"), "t in transfers", (10, 35, 32, 40, 24, 24, 50, 20, 12),
           left=(6,))
    _appendix_foot(doc)
    return doc


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, build in (("weekly_report", weekly_report), ("round_statistics", round_statistics),
                        ("round_leads", round_leads), ("round_transfers", round_transfers)):
        path = out / f"{name}.docx"
        build().save(str(path))
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
