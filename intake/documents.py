"""The documents the team sends: transfer letters, letters to named reporters, envelopes.

It owns three things. The county's receiving bodies (`Receiver`, `load_receivers`): the
department codes of `routing_rules/departments.yaml` with the names, addresses and contacts
a county configures (`config/departments.example.yaml`). The documents themselves, each a
pure function from a frozen dataclass to bytes: the transfer letter (转办函) with its redacted
summary of the matter, the notices to a named reporter (受理告知, 转办告知, 办理结果: 件件有
回音) and the sender-neutral envelopes they travel in; each as DOCX, filled from an editable
Word template in `intake/templates/` (docxtpl; built by scripts/make_letter_templates.py), and
as PDF with the Chinese font embedded and the text extractable (fpdf2). And the words the
public reads: the notice texts and the public status names.

A document says what its dataclass holds and nothing else; the transfer letter's has no field
for the reporter at all, so nothing that names them can reach a department. Texts are taken
as given (masked upstream, intake.masking); what a reporter wrote is never read as a template.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from docxtpl import DocxTemplate
from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos
from jsonschema import Draft202012Validator, ValidationError

from intake.publication import MM_PER_PT, Font, _break_lines
from intake.settings import REPO_ROOT, RULES_DIR
from intake.submission import IntakeError

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRANSFER_TEMPLATE = TEMPLATES / "transfer_letter.docx"
REPORTER_TEMPLATE = TEMPLATES / "reporter_letter.docx"
ENVELOPES_TEMPLATE = TEMPLATES / "envelopes.docx"
# Used when the setting `departments_file` is empty and the county has written one.
DEFAULT_DEPARTMENTS_FILE = REPO_ROOT / "config" / "departments.yaml"
# Department codes that are no receiving body: the team itself, and the archive.
NOT_RECEIVERS = ("accept", "none")
RECEIVERS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "departments.yaml (county receiving bodies)",
    "type": "object",
    "required": ["departments"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "departments": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "address": {"type": "string"},
                    "postcode": {"type": "string", "pattern": "^([0-9]{6})?$"},
                    "contact": {"type": "string"},
                    "phone": {"type": "string"},
                },
            },
        },
    },
}
# Line breaking as publication's, and a number stays with its unit: "2026年5|月" never.
UNBROKEN = re.compile(r"[0-9]+[年月日号]|[A-Za-z0-9@._:/?=&%+#~-]+|.", re.S)
NEUTRAL_CREATOR = "Document"  # PDF metadata that names no one (an envelope is seen by all)


class DocumentError(IntakeError):
    """A document or its configuration cannot be made; `message` (Chinese) says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- receiving bodies ----------------------------------------------------------------------


@dataclass(frozen=True)
class Receiver:
    """A receiving body of the county for one department code (domain.md §5)."""

    code: str
    name: str
    address: str = ""
    postcode: str = ""
    contact: str = ""
    phone: str = ""


def receivers_file(configured: str = "") -> Path | None:
    """The county's receiving-body file: the setting `departments_file` when given, else
    config/departments.yaml when the county has written one, else None (generic names)."""
    if configured:
        return Path(configured).expanduser()
    return DEFAULT_DEPARTMENTS_FILE if DEFAULT_DEPARTMENTS_FILE.is_file() else None


def load_receivers(path: Path | None, rules_dir: Path = RULES_DIR) -> dict[str, Receiver]:
    """A Receiver for every department code of `rules_dir/departments.yaml` but `accept`
    and `none`: the generic name, overridden by the county's entry in `path` (None: generic
    names only). DocumentError (Chinese, naming the file and field) for a file that is
    missing or invalid or names a code the rules do not know."""
    try:
        generic = yaml.safe_load((rules_dir / "departments.yaml").read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DocumentError(f"无法读取部门代码表 {rules_dir / 'departments.yaml'}：{exc}") from exc
    # A generic name's note in brackets ("公安局（紧急情况拨打110）") is for staff, not an
    # addressee.
    codes = {str(k): re.sub(r"（[^（）]*）$", "", str(v)).strip()
             for k, v in generic["departments"].items() if k not in NOT_RECEIVERS}
    receivers = {code: Receiver(code, name) for code, name in codes.items()}
    if path is None:
        return receivers
    for code, entry in _county_entries(path).items():
        if code not in codes:
            known = "、".join(codes)
            raise DocumentError(f"{path}: departments.{code}: 未知部门代码 {code!r}"
                                f"（可用代码：{known}）")
        receivers[code] = Receiver(code, **{k: str(v).strip() for k, v in entry.items()})
    return receivers


def _county_entries(path: Path) -> Mapping[str, Mapping[str, str]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DocumentError(f"无法读取接收单位配置 {path}：{exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: YAML 格式错误：{exc}") from exc
    errors = sorted(Draft202012Validator(RECEIVERS_SCHEMA).iter_errors(doc),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(文件)"
        raise DocumentError(f"{path}: {where}: {_in_chinese(err)}")
    return doc["departments"]


def _in_chinese(err: ValidationError) -> str:
    """The schema's complaint in words a county clerk reads."""
    if err.validator == "required":
        return f"缺少 {', '.join(repr(k) for k in err.validator_value)}（接收单位名称必填）"
    if err.validator == "additionalProperties":
        return f"有未知字段（{err.message}）；可用字段：name、address、postcode、contact、phone"
    if err.validator == "type" and err.validator_value == "object":
        return f"应为映射，如 education: {{name: 某县教育局}}（{err.message}）"
    if err.validator == "type":
        # 344000 unquoted is a number in YAML, and 010000 an octal one.
        return f"应为文字，邮编和电话请加引号，如 postcode: \"344000\"（{err.message}）"
    if err.validator == "pattern":
        return f"邮编应为 6 位数字（{err.message}）"
    if err.validator == "minLength":
        return "不能为空"
    return err.message


# -- what the documents hold ----------------------------------------------------------------


@dataclass(frozen=True)
class TransferLetter:
    """A transfer letter (转办函) to a receiving body, with the redacted matter. It has no
    field for the reporter: their name, contact or query code cannot be put into one."""

    number: str  # "青山巡转〔2026〕3号"
    team: str  # "县委第一巡察组"
    round_name: str
    unit_name: str  # the inspected unit, "中共青山镇委员会"
    receiver: Receiver
    item_ref: str  # the team's own reference, "第 123 号信访件"
    received_on: date
    channel: str  # "来信", "来电", "网络举报" …
    title: str  # masked; may be ""
    matter: str  # the masked text, as stored
    request: str  # what the team asks of the receiver (a staff note); may be ""
    accept_due: date  # say whether accepted by this date (5 working days)
    reply_due: date  # report the result by this date
    dated: date
    contact: str  # the team's contact line, "联系电话：0000-1234567"


REPORTER_KINDS = {"accepted": "受理告知书", "transferred": "转办告知书", "result": "办理结果告知书"}


@dataclass(frozen=True)
class ReporterLetter:
    """A notice to a named reporter (件件有回音); it goes to them alone."""

    kind: str  # accepted | transferred | result
    addressee: str  # as the reporter gave their name, "张三同志"
    body: str  # the notice text (notice_text)
    team: str
    dated: date
    contact: str

    def __post_init__(self) -> None:
        if self.kind not in REPORTER_KINDS:
            raise DocumentError(f"未知告知类型 {self.kind!r}")


@dataclass(frozen=True)
class Envelope:
    """One envelope to a reporter. The return address names neither the team nor the
    inspection (a postal box, say): whoever handles the post must not learn who wrote."""

    name: str
    address: str
    postcode: str
    return_address: str

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.address.strip():
            raise DocumentError("信封须写明收件人姓名和地址。")
        if "巡察" in self.return_address:
            raise DocumentError("信封的回信地址不得出现“巡察”字样，请使用不显示寄件单位的地址"
                                "（如邮政专用信箱）。")


# -- dates as letters write them ------------------------------------------------------------


def cn_date(day: date) -> str:
    """2026年3月5日, as the body of a letter gives dates."""
    return f"{day.year}年{day.month}月{day.day}日"


_DIGITS = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else _DIGITS[tens]}十{_DIGITS[ones] if ones else ''}"


def cn_date_upper(day: date) -> str:
    """二〇二六年三月五日, as a letter is dated under its signature."""
    year = "".join(_DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{_cn_number(day.month)}月{_cn_number(day.day)}日"


def _clean(text: str) -> str:
    """No control characters but newlines: docxtpl turns some (\\a, \\f) into paragraphs
    and page breaks, and a PDF cannot show them."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")


def _line(text: str) -> str:
    """A field printed on one line: its line breaks and runs of spaces become one space."""
    return " ".join(_clean(text).split())


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in _clean(text).split("\n") if line.strip()]


# -- DOCX -----------------------------------------------------------------------------------


def _docx(template: Path, context: dict[str, Any]) -> bytes:
    """Fill a docxtpl template. Values are escaped and never parsed as template code."""
    if not template.is_file():
        raise DocumentError(f"找不到文书模板 {template}")
    document = DocxTemplate(str(template))
    document.render(context, autoescape=True)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _transfer_context(letter: TransferLetter) -> dict[str, Any]:
    r = letter.receiver
    return {
        "number": _line(letter.number), "team": _line(letter.team),
        "round_name": _line(letter.round_name), "unit_name": _line(letter.unit_name),
        "receiver": {"name": _line(r.name), "address": _line(r.address),
                     "postcode": _line(r.postcode), "contact": _line(r.contact),
                     "phone": _line(r.phone)},
        "item_ref": _line(letter.item_ref), "channel": _line(letter.channel),
        "received_on": cn_date(letter.received_on), "title": _line(letter.title) or "（无）",
        "matter": _paragraphs(letter.matter) or ["（无）"], "request": _line(letter.request),
        "accept_due": cn_date(letter.accept_due), "reply_due": cn_date(letter.reply_due),
        "dated": cn_date_upper(letter.dated), "contact": _line(letter.contact),
    }


def transfer_letter_docx(letter: TransferLetter, template: Path | None = None) -> bytes:
    """The transfer letter as DOCX from `template` (the setting `transfer_letter_template`;
    None: intake/templates/transfer_letter.docx)."""
    return _docx(template or TRANSFER_TEMPLATE, _transfer_context(letter))


def _reporter_context(letter: ReporterLetter) -> dict[str, Any]:
    return {"title": REPORTER_KINDS[letter.kind], "kind": letter.kind,
            "addressee": _line(letter.addressee), "body": _paragraphs(letter.body),
            "team": _line(letter.team), "dated": cn_date_upper(letter.dated),
            "contact": _line(letter.contact)}


def reporter_letter_docx(letter: ReporterLetter, template: Path | None = None) -> bytes:
    """The notice to a named reporter as DOCX (intake/templates/reporter_letter.docx)."""
    return _docx(template or REPORTER_TEMPLATE, _reporter_context(letter))


def _envelopes_context(envelopes: Sequence[Envelope]) -> dict[str, Any]:
    return {"envelopes": [
        {"digits": [*_postcode(e.postcode), *[""] * (6 - len(_postcode(e.postcode)))],
         "postcode": _postcode(e.postcode), "address": _line(e.address),
         "name": _line(e.name), "return_address": _line(e.return_address)}
        for e in envelopes]}


def envelopes_docx(envelopes: Sequence[Envelope], template: Path | None = None) -> bytes:
    """DL envelopes as DOCX, one a page (intake/templates/envelopes.docx)."""
    return _docx(template or ENVELOPES_TEMPLATE, _envelopes_context(envelopes))


def _postcode(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits[:6]


# -- PDF ------------------------------------------------------------------------------------


class _Paper(FPDF):
    """Pages with the Chinese font loaded, text flowing onto new pages as needed, and
    (for letters) the page number at the foot, "— 1 —"."""

    def __init__(self, font: Font, *, size: tuple[float, float] = (210, 297),
                 margins: tuple[float, float, float, float] = (37, 35, 28, 26),
                 numbered: bool = True, title: str = "", author: str = "") -> None:
        super().__init__(unit="mm", format=size)
        top, bottom, left, right = margins
        self.set_margins(left, top, right)
        self.set_auto_page_break(True, bottom)
        self.add_font("cjk", "", str(font.path), collection_font_number=font.number)
        self.numbered = numbered
        self.set_title(title)
        self.set_author(author)
        self.set_creator(NEUTRAL_CREATOR)
        self.set_producer(NEUTRAL_CREATOR)
        self.set_lang("zh-CN")

    def footer(self) -> None:
        if not self.numbered:
            return
        self.set_y(-25)
        self.set_font("cjk", size=14)
        self.cell(0, 7, f"— {self.page_no()} —", align=Align.C)

    def write_text(self, text: str, size: float = 16, *, align: Align = Align.L,
                   bold: bool = False, indent: bool = False, line: float = 28,
                   right: float = 0) -> None:
        """A paragraph broken into lines the Chinese way, `line` pt apart (公文: 28 pt);
        bold by stroking, since a CJK font seldom comes with its bold face."""
        self.set_font("cjk", size=size)
        width = self.epw - right
        lines = _break_lines(("\u3000\u3000" if indent else "") + text, width,
                             self.get_string_width, UNBROKEN)
        with self.local_context(text_mode=TextMode.FILL_STROKE if bold else TextMode.FILL,
                                line_width=size * 0.02 if bold else 0.2):
            for part in lines:
                self.set_x(self.l_margin)
                self.cell(width, line * MM_PER_PT, part, align=align,
                          new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def signature(self, signer: str, dated: str, size: float = 16, line: float = 28) -> None:
        """The signer centred over the date, the date four characters from the right edge
        (GB/T 9704: 成文日期右空四字, 发文机关署名以成文日期为准居中)."""
        self.set_font("cjk", size=size)
        date_width = self.get_string_width(dated)
        date_x = self.l_margin + self.epw - 4 * size * MM_PER_PT - date_width
        signer_width = self.get_string_width(signer)
        signer_x = max(self.l_margin, min(date_x + (date_width - signer_width) / 2,
                                          self.l_margin + self.epw - signer_width))
        for x, text, width in ((signer_x, signer, signer_width), (date_x, dated, date_width)):
            self.set_x(x)
            self.cell(width, line * MM_PER_PT, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def blank(self, lines: float = 1, line: float = 28) -> None:
        self.set_y(self.get_y() + lines * line * MM_PER_PT)

    def bytes(self) -> bytes:
        try:
            return bytes(self.output())
        finally:
            # fpdf2 reads the font lazily and leaves its file open.
            for loaded in self.fonts.values():
                if (ttfont := getattr(loaded, "ttfont", None)) is not None:
                    ttfont.close()


def transfer_letter_pdf(letter: TransferLetter, font: Font) -> bytes:
    """The transfer letter as an A4 PDF in 公文 layout, the font embedded, the text
    extractable; a long matter runs onto as many pages as it needs."""
    c = _transfer_context(letter)
    pdf = _Paper(font, title=f"关于转办信访举报事项的函 {c['number']}", author=c["team"])
    pdf.add_page()
    pdf.write_text(f"编号：{c['number']}")
    pdf.blank()
    pdf.write_text("关于转办信访举报事项的函", 22, align=Align.C, bold=True, line=36)
    pdf.blank()
    pdf.write_text(f"{c['receiver']['name']}：")
    pdf.write_text(
        f"我组在对{c['unit_name']}开展巡察期间，于{c['received_on']}收到{c['channel']}反映的"
        f"问题（{c['item_ref']}），经研究，该问题不属于本轮巡察受理范围，根据有关规定，现转你"
        f"单位依规依纪依法处理。请于{c['accept_due']}前将受理情况、于{c['reply_due']}前将办理"
        "结果书面反馈我组。", indent=True)
    if c["request"]:
        pdf.write_text(c["request"], indent=True)
    pdf.write_text("请严格遵守保密规定，不得将信访举报材料转给被反映人或者被反映单位，不得泄露"
                   "反映人信息。", indent=True)
    pdf.blank()
    pdf.write_text("附件：信访举报事项摘要（已隐去反映人信息）", indent=True)
    pdf.blank(2)
    pdf.signature(c["team"], c["dated"])
    if c["contact"]:
        pdf.blank()
        pdf.write_text(f"（{c['contact']}）", indent=True)

    pdf.add_page()
    pdf.write_text("附件")
    pdf.blank()
    pdf.write_text("信访举报事项摘要", 22, align=Align.C, bold=True, line=36)
    pdf.blank()
    for label, key in (("转办编号", "number"), ("巡察轮次", "round_name"),
                       ("被巡察单位", "unit_name"), ("事项编号", "item_ref"),
                       ("收到日期", "received_on"), ("来源渠道", "channel"),
                       ("事项标题", "title")):
        pdf.write_text(f"{label}：{c[key]}")
    pdf.write_text("反映内容：")
    for para in c["matter"]:
        pdf.write_text(para, indent=True)
    pdf.blank()
    pdf.write_text("此件不得转给被反映人", bold=True)
    return pdf.bytes()


def reporter_letter_pdf(letter: ReporterLetter, font: Font) -> bytes:
    """The notice to a named reporter as an A4 PDF."""
    c = _reporter_context(letter)
    pdf = _Paper(font, title=c["title"], author=c["team"])
    pdf.add_page()
    pdf.write_text(c["title"], 22, align=Align.C, bold=True, line=36)
    pdf.blank()
    pdf.write_text(f"{c['addressee']}：")
    for para in c["body"]:
        pdf.write_text(para, indent=True)
    pdf.write_text("感谢您的信任和支持。", indent=True)
    pdf.blank(2)
    pdf.signature(c["team"], c["dated"])
    if c["contact"]:
        pdf.blank()
        pdf.write_text(f"（{c['contact']}）", indent=True)
    return pdf.bytes()


def envelopes_pdf(envelopes: Sequence[Envelope], font: Font) -> bytes:
    """One DL envelope (220 × 110 mm, landscape) a page: the postcode in six boxes top
    left, the address, the name, the sender-neutral return address bottom right. Nothing
    on it, metadata included, names the team or the inspection."""
    pdf = _Paper(font, size=(110, 220), margins=(10, 8, 15, 15), numbered=False)
    pdf.set_auto_page_break(False)
    for envelope in envelopes:
        pdf.add_page(orientation="L")
        c = _envelopes_context([envelope])["envelopes"][0]
        pdf.set_draw_color(192, 0, 0)
        pdf.set_line_width(0.4)
        pdf.set_font("cjk", size=16)
        for i, digit in enumerate(c["digits"]):
            x = 15 + i * 10
            pdf.rect(x, 10, 8, 10)
            pdf.set_xy(x, 10)
            pdf.cell(8, 10, digit, align=Align.C)
        pdf.set_draw_color(0)
        pdf.set_xy(20, 30)
        pdf.set_left_margin(20)
        pdf.write_text(c["address"], 14, line=22, right=20)
        pdf.set_left_margin(15)
        pdf.set_y(max(pdf.get_y() + 4, 55))
        pdf.write_text(f"{c['name']}　收", 22, align=Align.C, line=34)
        pdf.set_y(88)
        pdf.write_text(c["return_address"], 12, align=Align.R, line=18, right=5)
    return pdf.bytes()

