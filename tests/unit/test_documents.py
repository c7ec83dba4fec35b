"""The documents the team sends: transfer letters, notices to named reporters, envelopes, and
the county's receiving bodies. Opened as the receiver opens them: DOCX with python-docx, PDF
text as pypdf extracts it."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import re
import zipfile
from datetime import date
from pathlib import Path

import docx
import pypdf
import pypdfium2 as pdfium
import pytest
import yaml

from intake import documents
from intake.documents import (
    DocumentError,
    Envelope,
    Receiver,
    ReporterLetter,
    TransferLetter,
)
from intake.notices import notice_text
from intake.publication import Font, FontMissingError, find_font
from intake.settings import REPO_ROOT, RULES_DIR
from intake.submission import IntakeError

EXAMPLE = REPO_ROOT / "config" / "departments.example.yaml"
MASKED = "我在［地址已隐去］的工地干活，［姓名已隐去］电话［电话号码已隐去］，老板欠了三个月工资。"
RECEIVER = Receiver("human_resources", "临川县人力资源和社会保障局", "临川县文化路20号", "344000",
                    "劳动保障监察大队", "0000-1234200")


def make_letter(**overrides: object) -> TransferLetter:
    values: dict[str, object] = {
        "number": "青山巡转〔2026〕3号", "team": "县委第一巡察组",
        "round_name": "县委第一巡察组 2026年第二轮常规巡察", "unit_name": "中共青山镇委员会",
        "receiver": RECEIVER, "item_ref": "第 123 号信访件", "received_on": date(2026, 3, 2),
        "channel": "来信", "title": "工地欠薪", "matter": MASKED,
        "request": "请依法处理并按时反馈。",
        "accept_due": date(2026, 3, 9), "reply_due": date(2026, 4, 30),
        "dated": date(2026, 3, 5), "contact": "联系电话：0000-1234567",
    }
    values.update(overrides)
    return TransferLetter(**values)  # type: ignore[arg-type]


def docx_text(data: bytes) -> str:
    """Every paragraph of the body, tables included, one a line."""
    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    lines += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(lines)


def docx_xml(data: bytes) -> str:
    """All XML parts of the file: body, headers, footers, properties."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(n).decode("utf-8") for n in archive.namelist()
                       if n.endswith((".xml", ".rels")))


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text as pypdf extracts it, without whitespace. pypdf reads the two-byte
    codes of fpdf2's embedded CMap one byte at a time and puts a NUL before each character;
    a viewer (pdfium, below) reads them whole."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [re.sub(r"[\s\x00]+", "", page.extract_text()) for page in reader.pages]


def viewer_text(data: bytes, page: int = 0) -> str:
    """The page's text as Chromium's PDF engine gives it to a reader who copies it."""
    document = pdfium.PdfDocument(data)
    try:
        return re.sub(r"\s+", "", document[page].get_textpage().get_text_range())
    finally:
        document.close()


@pytest.fixture(scope="module")
def font() -> Font:
    try:
        return find_font()
    except FontMissingError as exc:
        pytest.skip(f"no Chinese font installed to embed: {exc.message}")


# -- receiving bodies ----------------------------------------------------------------------


def test_every_department_but_the_team_and_the_archive_has_a_receiver() -> None:
    codes = set(yaml.safe_load((RULES_DIR / "departments.yaml").read_text("utf-8"))
                ["departments"])
    generic = documents.load_receivers(None)
    assert set(generic) == codes - {"accept", "none"}
    assert generic["education"] == Receiver("education", "教育局")
    # The generic names' notes for staff are no part of an addressee.
    assert generic["public_security"].name == "公安局"
    assert generic["organization_dept"].name == "组织部"


def test_the_example_file_names_each_countys_body_with_its_address() -> None:
    receivers = documents.load_receivers(EXAMPLE)
    assert set(receivers) == set(documents.load_receivers(None))
    hr = receivers["human_resources"]
    assert hr.name == "临川县人力资源和社会保障局"
    assert (hr.postcode, hr.contact) == ("344000", "劳动保障监察大队")
    assert hr.address and hr.phone
    assert receivers["discipline_commission"].name == "临川县纪委监委信访室"


def test_a_code_left_out_keeps_its_generic_name(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text("departments:\n  education: {name: 临川县教育体育局}\n", encoding="utf-8")
    receivers = documents.load_receivers(path)
    assert receivers["education"] == Receiver("education", "临川县教育体育局")
    assert receivers["health"].name == "卫健局"


def test_an_unknown_code_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text("departments:\n  tax_bureau: {name: 临川县税务局}\n", encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        documents.load_receivers(path)
    assert isinstance(caught.value, IntakeError)
    assert "tax_bureau" in caught.value.message
    assert "未知部门代码" in caught.value.message
    # The team itself and the archive are no receiving body either.
    path.write_text("departments:\n  accept: {name: 本组}\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="accept"):
        documents.load_receivers(path)


@pytest.mark.parametrize(("text", "field", "words"), [
    ("departments:\n  education: {address: 学府路2号}\n", "departments.education", "缺少"),
    ("departments:\n  education: {name: 教育局, postcode: '3440'}\n",
     "departments.education.postcode", "邮编应为 6 位数字"),
    # Unquoted, YAML reads a number (and 010000 as octal 4096).
    ("departments:\n  education: {name: 教育局, postcode: 010000}\n",
     "departments.education.postcode", "请加引号"),
    ("departments:\n  education: {name: 教育局, fax: '1'}\n", "departments.education",
     "未知字段"),
    ("departments:\n  education: {name: ''}\n", "departments.education.name", "不能为空"),
    ("departments: [education]\n", "departments", "应为映射"),
])
def test_a_malformed_entry_is_refused_naming_its_field(tmp_path: Path, text: str,
                                                       field: str, words: str) -> None:
    path = tmp_path / "departments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        documents.load_receivers(path)
    assert f"{path}: {field}: " in caught.value.message
    assert words in caught.value.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="无法读取接收单位配置"):
        documents.load_receivers(tmp_path / "nowhere.yaml")


def test_the_setting_names_the_file_else_the_countys_own_else_none() -> None:
    assert documents.receivers_file("/etc/xc/departments.yaml") == \
        Path("/etc/xc/departments.yaml")
    default = documents.DEFAULT_DEPARTMENTS_FILE
    assert documents.receivers_file("") == (default if default.is_file() else None)


# -- the transfer letter --------------------------------------------------------------------


def test_the_letter_has_no_field_that_could_carry_the_reporter() -> None:
    names = [f.name for f in dataclasses.fields(TransferLetter)]
    for name in names:
        assert name not in ("name", "reporter", "code", "phone", "email", "address")
        for part in ("reporter", "phone", "code", "mail", "identity", "id_", "address",
                     "password"):
            assert part not in name, name


def test_the_docx_letter_says_who_what_and_by_when() -> None:
    data = documents.transfer_letter_docx(make_letter())
    text = docx_text(data)
    for needed in ("编号：青山巡转〔2026〕3号", "关于转办信访举报事项的函",
                   "临川县人力资源和社会保障局：",
                   "我组在对中共青山镇委员会开展巡察期间，于2026年3月2日收到来信反映的问题"
                   "（第 123 号信访件），经研究，该问题不属于本轮巡察受理范围",
                   "请于2026年3月9日前将受理情况、于2026年4月30日前将办理结果书面反馈我组。",
                   "请依法处理并按时反馈。", "附件：信访举报事项摘要（已隐去反映人信息）",
                   "\t县委第一巡察组\n\t二〇二六年三月五日", "（联系电话：0000-1234567）",
                   "信访举报事项摘要", "巡察轮次：县委第一巡察组 2026年第二轮常规巡察",
                   "事项标题：工地欠薪", MASKED):
        assert needed in text, needed
    assert text.rstrip().endswith("此件不得转给被反映人")
    # Real text only: no picture anywhere in the file.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert not [n for n in archive.namelist() if n.startswith("word/media/")]
    section = docx.Document(io.BytesIO(data)).sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert (round(section.top_margin.mm), round(section.left_margin.mm)) == (37, 28)


def test_the_matter_is_printed_as_given_never_read_as_a_template(font: Font) -> None:
    matter = (f"{MASKED}\n举报人留言：{{{{ receiver.name }}}} {{% if 1 %}}是{{% endif %}} "
              "<w:t>&amp;</w:t> \a\f结束")
    letter = make_letter(matter=matter, title="{{ number }}")
    text = docx_text(documents.transfer_letter_docx(letter))
    assert MASKED in text
    assert "举报人留言：{{ receiver.name }} {% if 1 %}是{% endif %} <w:t>&amp;</w:t> 结束" in text
    assert "事项标题：{{ number }}" in text
    pdf = "".join(pdf_pages(documents.transfer_letter_pdf(letter, font)))
    assert "［姓名已隐去］电话［电话号码已隐去］" in pdf
    assert "{{receiver.name}}{%if1%}是{%endif%}<w:t>&amp;</w:t>结束" in pdf


def test_a_letter_without_title_request_or_contact_leaves_their_lines_out() -> None:
    text = docx_text(documents.transfer_letter_docx(
        make_letter(title="", request="", contact="")))
    assert "事项标题：（无）" in text
    assert "（）" not in text
    assert "依规依纪依法处理" in text


def test_one_line_fields_stay_on_one_line(font: Font) -> None:
    letter = make_letter(title="工地\n欠薪", request="请依法处理，\r\n并按时反馈。")
    text = docx_text(documents.transfer_letter_docx(letter))
    assert "事项标题：工地 欠薪" in text
    assert "请依法处理， 并按时反馈。" in text
    pdf = "".join(pdf_pages(documents.transfer_letter_pdf(letter, font)))
    assert "事项标题：工地欠薪" in pdf
    assert "请依法处理，并按时反馈。" in pdf


def test_the_pdf_letter_is_a4_with_the_font_embedded_and_its_text_extractable(
        font: Font) -> None:
    data = documents.transfer_letter_pdf(make_letter(), font)
    reader = pypdf.PdfReader(io.BytesIO(data))
    first = reader.pages[0]
    assert (round(float(first.mediabox.width)), round(float(first.mediabox.height))) == (595, 842)
    for ref in first["/Resources"]["/Font"].values():
        font_dict = ref.get_object()
        descendant = font_dict["/DescendantFonts"][0].get_object()
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
        assert "/ToUnicode" in font_dict
    pages = pdf_pages(data)
    assert len(pages) == 2  # the letter, then the summary of the matter
    for needed in ("编号：青山巡转〔2026〕3号", "关于转办信访举报事项的函",
                   "临川县人力资源和社会保障局：", "于2026年3月2日收到来信反映的问题",
                   "请于2026年3月9日前将受理情况", "于2026年4月30日前将办理结果书面反馈我组",
                   "县委第一巡察组二〇二六年三月五日", "—1—"):
        assert needed in pages[0], needed
    assert re.sub(r"\s+", "", MASKED) in pages[1]
    assert viewer_text(data).startswith("编号：青山巡转〔2026〕3号关于转办信访举报事项的函")
    assert pages[1].endswith("此件不得转给被反映人—2—")
    assert reader.metadata is not None and "巡察" not in str(reader.metadata.creator)


def test_a_long_matter_runs_onto_more_pages(font: Font) -> None:
    paragraphs = [f"第{i}段：{MASKED}村里的补偿款一直没有发放，镇里说钱已经拨下去了。"
                  for i in range(1, 61)]
    data = documents.transfer_letter_pdf(make_letter(matter="\n".join(paragraphs)), font)
    pages = pdf_pages(data)
    assert len(pages) >= 4
    everything = "".join(pages)
    for paragraph in (paragraphs[0], paragraphs[29], paragraphs[-1]):
        assert re.sub(r"\s+", "", paragraph) in everything
    assert pages[-1].endswith(f"此件不得转给被反映人—{len(pages)}—")


def test_a_countys_own_template_is_used(tmp_path: Path) -> None:
    own = docx.Document()
    own.add_paragraph("临川县委巡察办 转办通知 {{ number }}")
    own.add_paragraph("致{{ receiver.name }}（{{ receiver.address }}），"
                      "请于{{ accept_due }}前回复。")
    own.add_paragraph("{%p for para in matter %}")
    own.add_paragraph("{{ para }}")
    own.add_paragraph("{%p endfor %}")
    path = tmp_path / "our_letter.docx"
    own.save(str(path))
    text = docx_text(documents.transfer_letter_docx(make_letter(), path))
    assert "临川县委巡察办 转办通知 青山巡转〔2026〕3号" in text
    assert "致临川县人力资源和社会保障局（临川县文化路20号），请于2026年3月9日前回复。" in text
    assert MASKED in text
    assert "关于转办信访举报事项的函" not in text
    with pytest.raises(DocumentError, match="找不到文书模板"):
        documents.transfer_letter_docx(make_letter(), tmp_path / "gone.docx")


def test_the_shipped_templates_are_what_the_script_builds(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_letter_templates", REPO_ROOT / "scripts" / "make_letter_templates.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main([str(tmp_path)])
    for name in ("transfer_letter", "reporter_letter", "envelopes"):
        built = (tmp_path / f"{name}.docx").read_bytes()
        shipped = (documents.TEMPLATES / f"{name}.docx").read_bytes()
        assert docx_text(built) == docx_text(shipped), name


# -- named reporters: letters, envelopes -------------------------------------------


def make_notice(kind: str = "accepted") -> ReporterLetter:
    body = notice_text(kind, received_on=date(2026, 3, 2), department_name="临川县民政局",
                       result="已按规定办理")
    return ReporterLetter(kind, "张三同志", body, "县委第一巡察组", date(2026, 3, 20),
                          "联系电话：0000-1234567")


@pytest.mark.parametrize(("kind", "title"), [("accepted", "受理告知书"),
                                             ("transferred", "转办告知书"),
                                             ("result", "办理结果告知书")])
def test_the_letter_to_a_named_reporter(font: Font, kind: str, title: str) -> None:
    letter = make_notice(kind)
    text = docx_text(documents.reporter_letter_docx(letter))
    for needed in (title, "张三同志：", letter.body, "\t县委第一巡察组\n\t二〇二六年三月二十日",
                   "（联系电话：0000-1234567）"):
        assert needed in text, needed
    pages = pdf_pages(documents.reporter_letter_pdf(letter, font))
    assert len(pages) == 1
    assert pages[0].startswith(f"{title}张三同志：")
    assert "县委第一巡察组二〇二六年三月二十日" in pages[0]
    with pytest.raises(DocumentError):
        ReporterLetter("closed", "张三同志", "…", "县委第一巡察组", date(2026, 3, 20), "")


ENVELOPES = [Envelope("张三", "临川县青山镇东岭村三组12号", "344100", "临川县邮政专用信箱 01 号"),
             Envelope("李四", "临川县城关镇人民路88号3单元501室", "344000",
                      "临川县邮政专用信箱 01 号"),
             Envelope("王五", "临川县白水镇上湾村", "", "临川县邮政专用信箱 01 号"),
             Envelope("赵六", "临川县城关镇解放路南段工业园区东侧新建安置小区幸福家园二期"
                      "十七栋二单元一楼东户隔壁的车库旁边的小屋", "344000",
                      "临川县邮政专用信箱 01 号")]


def test_envelopes_pdf_one_dl_page_each_and_nothing_says_inspection(font: Font) -> None:
    data = documents.envelopes_pdf(ENVELOPES, font)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == len(ENVELOPES)
    for page in reader.pages:
        size = (round(float(page.mediabox.width) * 25.4 / 72),
                round(float(page.mediabox.height) * 25.4 / 72))
        assert size == (220, 110)
    pages = pdf_pages(data)
    assert pages[0] == "344100临川县青山镇东岭村三组12号张三收临川县邮政专用信箱01号"
    assert pages[1].startswith("344000临川县城关镇人民路88号3单元501室李四收")
    assert pages[2].startswith("临川县白水镇上湾村王五收")
    # A long address takes more lines, and the envelope still one page.
    assert pages[3].endswith("车库旁边的小屋赵六收临川县邮政专用信箱01号")
    assert not any("巡察" in page for page in pages)
    assert "巡察" not in str(reader.metadata)


def test_envelopes_docx_one_page_each_and_nothing_says_inspection() -> None:
    data = documents.envelopes_docx(ENVELOPES)
    document = docx.Document(io.BytesIO(data))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (220, 110)
    # Six boxes, with a column of space between each two.
    assert [[c.text for c in t.rows[0].cells][::2] for t in document.tables] == [
        list("344100"), list("344000"), [""] * 6, list("344000")]
    text = docx_text(data)
    for envelope in ENVELOPES:
        assert envelope.address in text
        assert f"{envelope.name}\u3000收" in text
    xml = docx_xml(data)
    assert xml.count('w:type="page"') == len(ENVELOPES) - 1
    assert "巡察" not in xml


def test_an_envelope_cannot_carry_the_inspection_as_sender() -> None:
    with pytest.raises(DocumentError, match="巡察"):
        Envelope("张三", "临川县青山镇东岭村", "344100", "县委第一巡察组 青山镇政府大院")
    with pytest.raises(DocumentError, match="收件人"):
        Envelope("张三", " ", "344100", "临川县邮政专用信箱 01 号")


@pytest.mark.parametrize(("day", "words"), [
    (date(2026, 3, 5), "二〇二六年三月五日"),
    (date(2026, 10, 20), "二〇二六年十月二十日"),
    (date(2026, 11, 10), "二〇二六年十一月十日"),
    (date(2030, 12, 31), "二〇三〇年十二月三十一日"),
])
def test_a_letter_is_dated_in_chinese_numerals(day: date, words: str) -> None:
    assert documents.cn_date_upper(day) == words
