"""Publication of a round: its announcement (进驻公告) and the QR-code posters of its form.

The duty officer prints these on the round's first day: the announcement for the notice
boards, one poster per suggestion box (its QR code names the box, so an item records where
the reporter saw the form) and a general one. Pure: a round, its slug and the public base URL
in, bytes out. Each document is laid out once, on an A4 page with fpdf2 and a Chinese font
embedded as a subset (a PDF that relied on the viewer's fonts would print boxes on the county
office's machine); the PNG is that PDF rendered with pypdfium2, so both always agree.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pypdfium2 as pdfium
import segno
from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos

from intake.round import Round
from intake.submission import IntakeError
from intake.workdays import CHINA

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# System fonts that carry simplified Chinese, best first: a serif (宋体-like) face suits a
# formal notice; the others are what Debian, Fedora and Arch install for Chinese.
FONT_FILES = (
    "NotoSerifCJK-Regular.ttc", "NotoSerifCJKsc-Regular.otf", "NotoSerifSC-Regular.otf",
    "SourceHanSerif-Regular.ttc", "SourceHanSerifSC-Regular.otf",
    "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf",
    "SourceHanSans-Regular.ttc", "SourceHanSansSC-Regular.otf",
    "wqy-zenhei.ttc", "wqy-microhei.ttc", "DroidSansFallbackFull.ttf", "DroidSansFallback.ttf",
)
FONT_MISSING = ("找不到可嵌入的中文字体，无法生成公告和海报。请安装 Noto CJK 字体"
                "（Debian/Ubuntu：apt-get install fonts-noto-cjk；Fedora：dnf install "
                "google-noto-serif-cjk-fonts），或在设置 pdf_font 中写明一个中文 TrueType/"
                "OpenType 字体文件（.ttf/.otf/.ttc）的路径。")
GENERAL_POSTER = "poster"  # `?box=poster`: the general poster and the announcement's code
PNG_DPI = 150
MM_PER_PT = 25.4 / 72
# What the announcement says each scope role is, in a notice's words.
ROLE_WORDS = {
    "leadership": "被巡察党组织领导班子及其成员",
    "subordinate_head": "下一级党组织领导班子主要负责人",
    "key_post": "重要岗位领导干部",
    "staff": "其他干部和工作人员",
    "outside_official": "其他有关公职人员",
    "non_official": "其他有关人员",
    "unknown": "其他有关人员",
}
DISCIPLINES = (
    ("政治纪律", "拉帮结派、搞变通打折扣、干扰阻挠巡察、打击阻止他人举报"),
    ("组织纪律", "一个人说了算、选举拉票贿选、招聘提拔优亲厚友、打击报复举报人"),
    ("廉洁纪律", "收受礼金红包购物卡、违规吃喝、公车私用、亲属承揽工程"),
    ("群众纪律", "克扣截留补偿款低保金、乱收费、吃拿卡要、充当“保护伞”"),
    ("工作纪律", "形式主义官僚主义、插手工程招投标、失职造成损失、统计造假"),
    ("生活纪律", "生活奢靡、不正当男女关系、纵容亲属利用职务影响谋利"),
)


class FontMissingError(IntakeError):
    """No Chinese font to embed; `message` (Chinese) says what to install or set."""

    def __init__(self, message: str = FONT_MISSING) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Font:
    """A font file and, in a collection (.ttc), the simplified-Chinese face's number."""

    path: Path
    number: int = 0


@dataclass(frozen=True)
class Poster:
    """One poster: number 0 is the general one, 1.. the suggestion boxes in file order."""

    number: int
    box: str  # the box's name; "" for the general poster

    @property
    def title(self) -> str:
        return f"{self.box}意见箱" if self.box else "通用海报"


def find_font(configured: str = "", dirs: Iterable[Path] = FONT_DIRS) -> Font:
    """The font to embed: the `pdf_font` setting when given, else the best system font
    carrying simplified Chinese; FontMissingError (Chinese, naming what to install) when
    there is none."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FontMissingError(f"设置 pdf_font 指定的字体文件 {path} 不存在。{FONT_MISSING}")
        return Font(path, _sc_face(path))
    return _system_font(tuple(dirs))


@functools.lru_cache(maxsize=8)
def _system_font(dirs: tuple[Path, ...]) -> Font:
    found: dict[str, Path] = {}
    for base in dirs:
        for folder, _subdirs, files in os.walk(base):
            for name in files:
                found.setdefault(name, Path(folder) / name)
    for name in FONT_FILES:
        if name in found:
            return Font(found[name], _sc_face(found[name]))
    raise FontMissingError()


@functools.lru_cache(maxsize=8)
def _sc_face(path: Path) -> int:
    """In a font collection, the face for simplified Chinese (`... SC`); else the first."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    try:
        collection = TTCollection(str(path), lazy=True)
    except Exception as exc:  # fontTools raises assorted errors on a damaged file
        raise FontMissingError(f"字体文件 {path} 无法读取（{exc}）。{FONT_MISSING}") from exc
    try:
        names = [face["name"].getDebugName(4) or "" for face in collection.fonts]
    finally:
        collection.close()
    return next((i for i, name in enumerate(names) if name.endswith(" SC") or " SC " in name),
                0)


# -- what the documents say -------------------------------------------------------------------


def posters(cfg: Round) -> list[Poster]:
    """The general poster, then one per suggestion box."""
    return [Poster(0, ""), *(Poster(i, box) for i, box in enumerate(cfg.suggestion_boxes, 1))]


def form_url(base_url: str, slug: str, box: int | str | None = None) -> str:
    """The public form of a round; with `box`, the address its QR codes carry (a number
    names a suggestion box, 0 the general poster)."""
    url = f"{base_url.rstrip('/')}/r/{slug}/report"
    if box is None:
        return url
    return f"{url}?box={GENERAL_POSTER if box in (0, '0') else box}"


def is_local(base_url: str) -> bool:
    """True when the address only works on the server itself: useless on paper."""
    host = base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0") or host.startswith("127.")  # noqa: S104


def cn_date(at: datetime) -> str:
    local = at.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日"


def cn_datetime(at: datetime) -> str:
    return f"{cn_date(at)}{at.astimezone(CHINA):%H:%M}"


def _team(cfg: Round) -> str:
    return cfg.team or "巡察组"


def _committee(team: str) -> str:
    """Whose deployment the team carries out: 县委第一巡察组 → 县委."""
    for prefix in ("县委", "区委", "市委", "州委", "旗委", "盟委", "省委"):
        if team.startswith(prefix):
            return prefix
    return "党委"


def _places(cfg: Round) -> str:
    """The inspected units as a title names them: 青山镇, 青山镇、白水镇, 青山镇等5个单位."""
    names = [u.places[0] if u.places else u.short for u in cfg.units] or [cfg.unit.short]
    if len(names) > 3:
        return f"{names[0]}等{len(names)}个单位"
    return "、".join(names)


def _hours(cfg: Round) -> str:
    return "、".join(f"{h.start.hour}:{h.start:%M}—{h.end.hour}:{h.end:%M}"
                    for h in cfg.hotline_hours)


def _roles(cfg: Round) -> str:
    words = list(dict.fromkeys(ROLE_WORDS[r] for r in cfg.scope_roles))
    return words[0] if len(words) == 1 else f"{'、'.join(words[:-1])}和{words[-1]}"


def announcement_title(cfg: Round) -> str:
    return f"{_team(cfg)}进驻{_places(cfg)}开展巡察的公告"


def _announcement_body(cfg: Round) -> list[str]:
    team, units = _team(cfg), "、".join(u.name for u in cfg.units) or cfg.unit.name
    return [
        f"根据{_committee(team)}巡察工作统一部署，{team}于{cn_date(cfg.opens)}至"
        f"{cn_date(cfg.closes)}对{units}开展巡察。",
        "根据《中国共产党巡视工作条例》有关规定，巡察期间，巡察组主要受理反映"
        f"{_roles(cfg)}问题的来信、来电、来访，重点是关于违反政治纪律、组织纪律、廉洁纪律、"
        "群众纪律、工作纪律和生活纪律等方面的举报和反映，例如：",
    ]


def _channels(cfg: Round, base_url: str, slug: str) -> list[tuple[str, str]]:
    lines = []
    if cfg.hotline_number:
        hours = f"（工作日 {_hours(cfg)}）" if cfg.hotline_hours else ""
        lines.append(("值班电话", f"{cfg.hotline_number}{hours}"))
    if cfg.mailbox:
        lines.append(("电子邮箱", cfg.mailbox))
    if cfg.postal_box:
        lines.append(("邮政信箱", cfg.postal_box))
    if cfg.suggestion_boxes:
        lines.append(("意见箱", f"设在{'、'.join(cfg.suggestion_boxes)}"))
    lines.append(("网上反映", "扫描右侧二维码或访问以下网址，全天开放，可以匿名，"
                              "也可在网上预约当面反映："))
    return lines


# -- layout -----------------------------------------------------------------------------------


# Line breaking as Chinese typesetting does it (禁则): no closing mark at a line's start, no
# opening mark at its end, and a number, time or address never cut in two.
NO_LINE_START = set("，。、；：！？）》」』”’…—%")
NO_LINE_END = set("（《「『“‘")
UNBROKEN = re.compile(r"[A-Za-z0-9@._:/?=&%+#~-]+|.", re.S)


def _break_lines(text: str, width: float, measure: Callable[[str], float],
                 unbroken: re.Pattern[str] = UNBROKEN) -> list[str]:
    tokens: list[str] = []
    for token in unbroken.findall(text):
        if tokens and (token[0] in NO_LINE_START or tokens[-1][-1] in NO_LINE_END):
            tokens[-1] += token
        else:
            tokens.append(token)
    # What cannot fit a line at all (a very long address) is cut where it must.
    tokens = [part for token in tokens
              for part in (token if measure(token) > width else [token])]
    lines, line = [], ""
    for token in tokens:
        if line and measure(line + token) > width:
            lines.append(line.rstrip())
            line = token.lstrip(" ")
        else:
            line += token
    return [*lines, line] if line or not lines else lines


class _Sheet:
    """An A4 page with the font loaded and the few moves the documents need."""

    def __init__(self, font: Font, title: str, author: str, scale: float = 1.0) -> None:
        self.scale = scale
        self.pdf = pdf = FPDF(format="A4", unit="mm")
        pdf.set_margins(22, 20, 22)
        pdf.set_auto_page_break(False)
        pdf.add_font("cjk", "", str(font.path), collection_font_number=font.number)
        pdf.set_title(title)
        pdf.set_author(author)
        pdf.set_lang("zh-CN")
        pdf.set_creator("巡察组信访举报受理服务")
        pdf.add_page()

    @property
    def width(self) -> float:
        return self.pdf.epw

    def text(self, text: str, size: float, *, align: Align = Align.L, bold: bool = False,
             width: float = 0, leading: float = 1.6, indent: bool = False) -> None:
        pdf = self.pdf
        size *= self.scale
        pdf.set_font("cjk", size=size)
        pdf.set_x(pdf.l_margin)
        # Bold by stroking the outlines: a CJK font file rarely comes with its bold face.
        width = width or pdf.epw
        lines = _break_lines(("\u3000\u3000" if indent else "") + text, width,
                             pdf.get_string_width)
        with pdf.local_context(text_mode=TextMode.FILL_STROKE if bold else TextMode.FILL,
                               line_width=size * 0.02 if bold else 0.2):
            for line in lines:
                pdf.cell(width, size * MM_PER_PT * leading, line, align=align,
                         new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def gap(self, mm: float) -> None:
        self.pdf.set_y(self.pdf.get_y() + mm * self.scale)

    def qr(self, url: str, x: float, y: float, size: float) -> None:
        """The QR code as vector squares (sharp at any print size), quiet zone included."""
        code = segno.make(url, error="q", micro=False)
        rows = [list(row) for row in code.matrix_iter(border=4)]
        cell = size / len(rows)
        pdf = self.pdf
        pdf.set_fill_color(255)
        pdf.rect(x, y, size, size, style="F")
        pdf.set_fill_color(0)
        for r, row in enumerate(rows):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                # A hair taller than a module, so rendered rows leave no seams.
                pdf.rect(x + start * cell, y + r * cell, (c - start) * cell, cell * 1.02,
                         style="F")

    def fits(self) -> bool:
        return self.pdf.get_y() <= self.pdf.h - 12

    def output(self) -> bytes:
        return bytes(self.pdf.output())

    def close(self) -> None:
        # fpdf2 reads the font lazily and leaves its file open.
        for font in self.pdf.fonts.values():
            if (ttfont := getattr(font, "ttfont", None)) is not None:
                ttfont.close()


def _fitting(draw: Callable[[float], _Sheet], *scales: float) -> bytes:
    """Draw at the first scale whose content stays on the one page (a round with many
    units or boxes gets smaller type rather than a second page)."""
    for i, scale in enumerate(scales):
        sheet = draw(scale)
        try:
            if sheet.fits() or i == len(scales) - 1:
                return sheet.output()
        finally:
            sheet.close()
    raise AssertionError("no scales")


def announcement_pdf(cfg: Round, slug: str, base_url: str, font: Font) -> bytes:
    """The announcement (进驻公告) as a one-page A4 PDF: who inspects whom and until when,
    what is accepted and what is transferred, every channel with the form's QR code, the
    protection of reporters, signed by the team on the opening date."""
    team = _team(cfg)

    def draw(scale: float) -> _Sheet:
        s = _Sheet(font, announcement_title(cfg), team, scale)
        s.text(announcement_title(cfg), 20, align=Align.C, bold=True, leading=1.45)
        s.gap(5)
        first, scope = _announcement_body(cfg)
        s.text(first, 12, indent=True)
        s.text(scope, 12, indent=True)
        for name, examples in DISCIPLINES:
            s.text(f"{name}：{examples}等问题；", 10, indent=True, leading=1.55)
        s.text("其他不属于巡察受理范围的个人诉求、涉法涉诉等信访问题，将按照“分级负责、属地"
               "管理”原则转交有关部门处理。紧急警情请直接拨打 110。", 12, indent=True)
        s.text(f"巡察期间设立以下受理渠道，受理信访举报截止时间为{cn_datetime(cfg.closes)}：",
               12, indent=True)
        s.gap(1)
        qr_size = 34 * scale
        top = s.pdf.get_y()
        for label, value in _channels(cfg, base_url, slug):
            s.text(f"{label}：{value}", 11.5, width=s.width - qr_size - 6, leading=1.5,
                   indent=True)
        # On a line of its own, never broken: it is typed from the paper.
        s.text(form_url(base_url, slug), 11.5, width=s.width - qr_size - 6, leading=1.5,
               align=Align.C)
        s.qr(form_url(base_url, slug, GENERAL_POSTER), s.pdf.l_margin + s.width - qr_size,
             top, qr_size)
        s.pdf.set_y(max(s.pdf.get_y(), top + qr_size) + 2 * scale)
        s.text("巡察组对反映人的身份信息严格保密。可以匿名反映；实名反映的，身份信息加密保存，"
               "绝不透露给被反映人，严禁打击报复。反映问题应实事求是，不得捏造事实、诬告陷害。"
               "欢迎广大干部群众积极反映问题、提出意见建议。", 12, indent=True)
        s.text("特此公告。", 12, indent=True)
        s.gap(8)
        s.text(team, 12, align=Align.R)
        s.text(cn_date(cfg.opens), 12, align=Align.R)
        return s

    return _fitting(draw, 1.1, 1.0, 0.92, 0.85, 0.78, 0.7)


def poster_pdf(cfg: Round, slug: str, base_url: str, number: int, font: Font) -> bytes:
    """Poster `number` (0 general, 1.. the suggestion boxes) as a one-page A4 PDF: a large
    QR code for the form naming the box, the box's name, a call to act, the closing date and
    the promise of anonymity. IndexError for a number without a box."""
    poster = posters(cfg)[number]
    team = _team(cfg)
    url = form_url(base_url, slug, number)

    def draw(scale: float) -> _Sheet:
        s = _Sheet(font, f"{team} · {poster.title}", team, scale)
        s.text(f"{team}巡察{_places(cfg)}", 16, align=Align.C, leading=1.4)
        s.gap(3)
        s.text("扫码反映问题", 40, align=Align.C, bold=True, leading=1.3)
        if poster.box:
            s.text(f"{poster.box}意见箱", 20, align=Align.C, leading=1.4)
        s.gap(4)
        size = 118 * scale
        y = s.pdf.get_y()
        s.qr(url, (s.pdf.w - size) / 2, y, size)
        s.pdf.set_y(y + size + 2)
        s.text(url, 10, align=Align.C, leading=1.3)
        s.gap(5)
        other = "写信投入本意见箱" if poster.box else "拨打值班电话或写信"
        s.text("用手机扫描上方二维码，即可向巡察组反映领导干部违反纪律的问题，可以上传照片和"
               f"材料。不方便扫码的，也可以{other}。", 14, align=Align.C, leading=1.5)
        s.gap(3)
        s.text(f"受理截止：{cn_datetime(cfg.closes)}", 16, align=Align.C, bold=True)
        s.gap(3)
        s.text("可以匿名，无需填写姓名和电话。实名反映的，身份信息加密保存，绝不透露给被反映人。"
               "提交后请记下查询码，凭码查询办理进展。", 12, align=Align.C, leading=1.5)
        if cfg.hotline_number:
            hours = f"（工作日 {_hours(cfg)}）" if cfg.hotline_hours else ""
            s.text(f"值班电话：{cfg.hotline_number}{hours}", 12, align=Align.C)
        return s

    return _fitting(draw, 1.1, 1.0, 0.9, 0.8, 0.7)


def to_png(pdf: bytes, dpi: int = PNG_DPI) -> bytes:
    """The PDF's first page as a PNG at `dpi` (150: sharp on a phone, fine for printing)."""
    document = pdfium.PdfDocument(pdf)
    try:
        bitmap = document[0].render(scale=dpi / 72)
        image = bitmap.to_pil().convert("L")
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def write_files(cfg: Round, slug: str, base_url: str, font: Font, out: Path) -> list[Path]:
    """`intake rounds publish`: announcement.pdf/.png and poster-N.pdf/.png (0 general,
    1.. the boxes) in `out`, created if need be; the paths written, in that order."""
    out.mkdir(parents=True, exist_ok=True)
    documents = [("announcement", announcement_pdf(cfg, slug, base_url, font))]
    documents += [(f"poster-{p.number}", poster_pdf(cfg, slug, base_url, p.number, font))
                  for p in posters(cfg)]
    written = []
    for name, pdf in documents:
        for suffix, data in ((".pdf", pdf), (".png", to_png(pdf))):
            path = out / f"{name}{suffix}"
            path.write_bytes(data)
            written.append(path)
    return written
