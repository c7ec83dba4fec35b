"""Build the editable Word templates of the documents the team sends (intake/documents.py).

    .venv/bin/python scripts/make_letter_templates.py [OUT_DIR]

writes `transfer_letter.docx` (转办函), `reporter_letter.docx` (告知书 to a named reporter) and
`envelopes.docx` (DL envelopes, one a page) into OUT_DIR (default: intake/templates). They
are docxtpl templates: Jinja tags in the text (`{{ number }}`, `{%p for para in matter %}`),
so a county office may open one in Word, change the letterhead, fonts or wording, keep the
tags, and point the setting `transfer_letter_template` at its copy. The variables each one
receives are listed in intake/documents.py (`_transfer_context`, `_reporter_context`,
`_envelopes_context`). Layout after GB/T 9704-2012 (党政机关公文格式): A4, 37/35/28/26 mm
margins, 仿宋 三号 body on a 28 pt line, 小标宋 二号 title, page numbers "— 1 —".
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.styles.style import ParagraphStyle
from docx.text.paragraph import Paragraph

OUT = Path(__file__).resolve().parent.parent / "intake" / "templates"
BODY_FONT = "仿宋"  # FangSong: on every Windows; 仿宋_GB2312 is what the standard names
TITLE_FONT = "方正小标宋简体"  # Word falls back to 宋体 where it is not installed
HEADING_FONT = "黑体"
BODY_SIZE = Pt(16)  # 三号
BODY_LINE = Pt(28)  # 22 lines to the page
INDENT = Pt(32)  # two characters


def _east_asian(element: object, name: str, latin: str = "Times New Roman") -> None:
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    for key in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(key), latin)
    fonts.set(qn("w:eastAsia"), name)


def _style(doc: Document, name: str, font: str, size: Pt, *, bold: bool = False,
           align: WD_ALIGN_PARAGRAPH | None = None) -> ParagraphStyle:
    style = doc.styles.add_style(name, 1)
    style.base_style = doc.styles["Normal"]
    style.font.size = size
    style.font.bold = bold
    _east_asian(style.element, font)
    if align is not None:
        style.paragraph_format.alignment = align
    return style


def _document(width: Mm, height: Mm, margins: tuple[Mm, Mm, Mm, Mm],
              size: Pt = BODY_SIZE, line: Pt = BODY_LINE) -> Document:
    """An empty document: one section of the given paper, body style set."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = width, height
    section.top_margin, section.bottom_margin, section.left_margin, section.right_margin = margins
    section.header_distance = section.footer_distance = Mm(10)
    normal = doc.styles["Normal"]
    normal.font.size = size
    _east_asian(normal.element, BODY_FONT)
    fmt = normal.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = line
    fmt.widow_control = False
    # No author, no title: a document carries nothing about who made it.
    props = doc.core_properties
    props.author = props.last_modified_by = props.title = props.comments = ""
    return doc


def _a4(doc_size: Pt = BODY_SIZE) -> Document:
    doc = _document(Mm(210), Mm(297), (Mm(37), Mm(35), Mm(28), Mm(26)), doc_size)
    _page_numbers(doc)
    return doc


def _page_numbers(doc: Document) -> None:
    """"— 1 —" centred in the footer, 宋体 四号, as 公文 number their pages."""
    paragraph = doc.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for text in ("— ", None, " —"):
        if text is not None:
            run = paragraph.add_run(text)
        else:
            field = OxmlElement("w:fldSimple")
            field.set(qn("w:instr"), "PAGE")
            inner = OxmlElement("w:r")
            value = OxmlElement("w:t")
            value.text = "1"
            inner.append(value)
            field.append(inner)
            paragraph._p.append(field)
            continue
        run.font.size = Pt(14)
        _east_asian(run._element, "宋体")


def _para(doc: Document, text: str = "", style: str | None = None, *, indent: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = None, right: Pt | None = None,
          bold: bool = False) -> Paragraph:
    paragraph = doc.add_paragraph(style=style)
    if text:
        run = paragraph.add_run(text)
        run.bold = bold or None
    if indent:
        paragraph.paragraph_format.first_line_indent = INDENT
    if align is not None:
        paragraph.alignment = align
    if right is not None:
        paragraph.paragraph_format.right_indent = right
    return paragraph


def _signature(doc: Document, signer: str, dated: str) -> None:
    """The signer centred over the date on one tab stop, the date ending about four
    characters from the right (GB/T 9704: 成文日期右空四字, 署名以成文日期为准居中)."""
    centre = Mm(156) - INDENT * 2 - BODY_SIZE * 5  # a ten-character date
    for text in (signer, dated):
        paragraph = doc.add_paragraph()
        paragraph.paragraph_format.tab_stops.add_tab_stop(centre, WD_TAB_ALIGNMENT.CENTER)
        paragraph.add_run(f"\t{text}")


def _page_break(doc: Document) -> None:
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def transfer_letter() -> Document:
    doc = _a4()
    title = _style(doc, "公文标题", TITLE_FONT, Pt(22), align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = Pt(36)
    _style(doc, "附件标识", HEADING_FONT, BODY_SIZE)
    _para(doc, "编号：{{ number }}")
    _para(doc)
    _para(doc, "关于转办信访举报事项的函", "公文标题")
    _para(doc)
    _para(doc, "{{ receiver.name }}：")
    _para(doc, "我组在对{{ unit_name }}开展巡察期间，于{{ received_on }}收到{{ channel }}反映的问题"
               "（{{ item_ref }}），经研究，该问题不属于本轮巡察受理范围，根据有关规定，现转你单位"
               "依规依纪依法处理。请于{{ accept_due }}前将受理情况、于{{ reply_due }}前将办理结果"
               "书面反馈我组。", indent=True)
    _para(doc, "{%p if request %}")
    _para(doc, "{{ request }}", indent=True)
    _para(doc, "{%p endif %}")
    _para(doc, "请严格遵守保密规定，不得将信访举报材料转给被反映人或者被反映单位，不得泄露反映人"
               "信息。", indent=True)
    _para(doc)
    _para(doc, "附件：信访举报事项摘要（已隐去反映人信息）", indent=True)
    _para(doc)
    _para(doc)
    _signature(doc, "{{ team }}", "{{ dated }}")
    _para(doc)
    _para(doc, "{%p if contact %}")
    _para(doc, "（{{ contact }}）", indent=True)
    _para(doc, "{%p endif %}")
    _page_break(doc)
    _para(doc, "附件", "附件标识")
    _para(doc)
    _para(doc, "信访举报事项摘要", "公文标题")
    _para(doc)
    _para(doc, "转办编号：{{ number }}")
    _para(doc, "巡察轮次：{{ round_name }}")
    _para(doc, "被巡察单位：{{ unit_name }}")
    _para(doc, "事项编号：{{ item_ref }}")
    _para(doc, "收到日期：{{ received_on }}")
    _para(doc, "来源渠道：{{ channel }}")
    _para(doc, "事项标题：{{ title }}")
    _para(doc, "反映内容：")
    _para(doc, "{%p for para in matter %}")
    _para(doc, "{{ para }}", indent=True)
    _para(doc, "{%p endfor %}")
    _para(doc)
    _para(doc, "此件不得转给被反映人", bold=True)
    return doc


def reporter_letter() -> Document:
    doc = _a4()
    title = _style(doc, "公文标题", TITLE_FONT, Pt(22), align=WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = Pt(36)
    _para(doc, "{{ title }}", "公文标题")
    _para(doc)
    _para(doc, "{{ addressee }}：")
    _para(doc, "{%p for para in body %}")
    _para(doc, "{{ para }}", indent=True)
    _para(doc, "{%p endfor %}")
    _para(doc, "感谢您的信任和支持。", indent=True)
    _para(doc)
    _para(doc)
    _signature(doc, "{{ team }}", "{{ dated }}")
    _para(doc)
    _para(doc, "{%p if contact %}")
    _para(doc, "（{{ contact }}）", indent=True)
    _para(doc, "{%p endif %}")
    return doc


def _box_borders(cell: object, colour: str = "C00000") -> None:
    tcpr = cell._tc.get_or_add_tcPr()  # type: ignore[attr-defined]
    borders = OxmlElement("w:tcBorders")
    for side in ("top", "left", "bottom", "right"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "single" if colour else "nil")
        if colour:
            edge.set(qn("w:sz"), "8")
            edge.set(qn("w:color"), colour)
        borders.append(edge)
    tcpr.append(borders)


def _twips(length: Mm) -> str:
    return str(round(length / 635))  # EMU → twentieths of a point


# What may follow w:framePr in a paragraph's properties (ECMA-376 CT_PPrBase order).
AFTER_FRAME = (
    "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
    "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
    "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap",
    "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl",
    "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)


def _frame(paragraph: Paragraph, x: Mm, y: Mm, width: Mm) -> None:
    """Place the paragraph at a fixed spot of the page (a Word frame), so a long address
    never pushes the name or the return address off the envelope."""
    frame = OxmlElement("w:framePr")
    for key, value in (("w:w", _twips(width)), ("w:hAnchor", "page"), ("w:vAnchor", "page"),
                       ("w:x", _twips(x)), ("w:y", _twips(y)), ("w:wrap", "around")):
        frame.set(qn(key), value)
    ppr = paragraph._p.get_or_add_pPr()
    ppr.insert_element_before(frame, *AFTER_FRAME)


def envelopes() -> Document:
    """A DL envelope (220 × 110 mm) a page: the postcode in six boxes top left, the address,
    the name, and the sender-neutral return address bottom right."""
    doc = _document(Mm(220), Mm(110), (Mm(10), Mm(8), Mm(15), Mm(15)), Pt(14), Pt(22))
    doc.sections[0].start_type = WD_SECTION.NEW_PAGE
    _style(doc, "收件人", BODY_FONT, Pt(22), align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "{%p for e in envelopes %}")
    # Six 8 × 10 mm boxes 2 mm apart: the gaps are columns without borders.
    table = doc.add_table(rows=1, cols=11)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    row = table.rows[0]
    row.height, row.height_rule = Mm(10), WD_ROW_HEIGHT_RULE.EXACTLY
    for i, (column, cell) in enumerate(zip(table.columns, row.cells, strict=True)):
        column.width = cell.width = Mm(2) if i % 2 else Mm(8)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        _box_borders(cell, "" if i % 2 else "C00000")
        paragraph = cell.paragraphs[0]
        paragraph.paragraph_format.line_spacing = Pt(20)
        if not i % 2:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.add_run(f"{{{{ e.digits[{i // 2}] }}}}").font.size = Pt(16)
    _frame(_para(doc, "{{ e.address }}"), Mm(20), Mm(30), Mm(165))
    name = _para(doc, "{{ e.name }}　收", "收件人")
    name.paragraph_format.line_spacing = Pt(36)
    _frame(name, Mm(15), Mm(55), Mm(190))
    back = _para(doc, "{{ e.return_address }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    back.runs[0].font.size = Pt(12)
    _frame(back, Mm(100), Mm(88), Mm(100))
    _para(doc, "{%p if not loop.last %}")
    _page_break(doc)
    _para(doc, "{%p endif %}")
    _para(doc, "{%p endfor %}")
    return doc


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, build in (("transfer_letter", transfer_letter),
                        ("reporter_letter", reporter_letter), ("envelopes", envelopes)):
        path = out / f"{name}.docx"
        build().save(str(path))
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
