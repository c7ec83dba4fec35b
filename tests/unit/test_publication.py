"""The announcement and the posters as a county office prints them: one A4 page each, the
Chinese font embedded, the text extractable, and every QR code read back from the PNG."""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np
import pypdf
import pypdfium2 as pdfium
import pytest

from intake import publication
from intake.publication import FontMissingError
from intake.round import Round, parse_round
from intake.settings import EXAMPLE_ROUND

BASE = "https://xc.example.cn"
SLUG = "qingshan-2026-2"
SECOND_UNIT = """
inspected_units:
  - name: 中共白水镇委员会
    short: 白水镇党委
    places: [白水镇]
    subordinates: [上湾村]
    roster:
      - {name: 钱立平, post: 镇党委书记, role: leadership}
"""


def round_with(extra: str = "", boxes: list[str] | None = None) -> Round:
    text = EXAMPLE_ROUND.read_text(encoding="utf-8")
    if boxes is not None:
        text = re.sub(r"suggestion_boxes: \[.*\]", f"suggestion_boxes: [{', '.join(boxes)}]",
                      text)
    return parse_round(text + extra)


@pytest.fixture(scope="module")
def cfg() -> Round:
    return round_with(SECOND_UNIT)


@pytest.fixture(scope="module")
def font() -> publication.Font:
    try:
        return publication.find_font()
    except FontMissingError as exc:
        pytest.skip(exc.message)


@pytest.fixture(scope="module")
def announcement(cfg: Round, font: publication.Font) -> bytes:
    return publication.announcement_pdf(cfg, SLUG, BASE, font)


def page_of(pdf: bytes) -> pypdf.PageObject:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0]


def text_of(pdf: bytes) -> str:
    """The page's text as a viewer extracts it (pdfium, Chromium's PDF engine), without line
    breaks. pypdf cannot read it: the CJK font's encoding is an embedded CMap stream (valid,
    and what fpdf2 writes for a CID-keyed CFF font), which pypdf reads as one-byte codes."""
    page_of(pdf)
    document = pdfium.PdfDocument(pdf)
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    return re.sub(r"\s+", "", text)


def assert_a4_with_embedded_fonts(pdf: bytes) -> None:
    page = page_of(pdf)
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    fonts = page["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font \
            else font
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, descriptor
        assert "/ToUnicode" in font  # text can be searched and copied


def qr_of(png: bytes, *, crowded: bool = False) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    # On the announcement the code sits among lines of text, which the classic detector
    # mistakes for finder patterns; the ArUco-based one finds it.
    detector = cv2.QRCodeDetectorAruco() if crowded else cv2.QRCodeDetector()
    text, _points, _straight = detector.detectAndDecode(image)
    return text


def test_the_announcement_says_who_whom_until_when_and_every_channel(
        cfg: Round, announcement: bytes) -> None:
    assert announcement.startswith(b"%PDF")
    assert_a4_with_embedded_fonts(announcement)
    text = text_of(announcement)
    for needed in ("县委第一巡察组进驻青山镇、白水镇开展巡察的公告",
                   "中共青山镇委员会", "中共白水镇委员会",
                   "2026年3月2日至2026年4月10日", "截止时间为2026年4月10日17:30",
                   "被巡察党组织领导班子及其成员", "下一级党组织领导班子主要负责人",
                   "重要岗位领导干部", "政治纪律", "生活纪律", "涉法涉诉", "110",
                   "0000-1234567", "8:00—12:00、14:30—17:30", "xcz1@intake.example.cn",
                   "青山镇邮政专用信箱01号", "北山社区服务中心",
                   f"{BASE}/r/{SLUG}/report", "匿名", "绝不透露给被反映人", "特此公告"):
        assert needed in text, needed
    # Signed by the team on the opening day, at the end.
    assert text.endswith("县委第一巡察组2026年3月2日")


def test_the_announcements_png_carries_the_forms_qr_code(announcement: bytes) -> None:
    png = publication.to_png(announcement)
    assert png.startswith(b"\x89PNG")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert abs(image.shape[0] - 1754) <= 1 and abs(image.shape[1] - 1240) <= 1  # A4, 150 dpi
    assert qr_of(png, crowded=True) == f"{BASE}/r/{SLUG}/report?box=poster"


def test_one_poster_per_box_and_a_general_one_each_naming_its_box(
        cfg: Round, font: publication.Font) -> None:
    posters = publication.posters(cfg)
    assert [p.number for p in posters] == list(range(len(cfg.suggestion_boxes) + 1))
    assert posters[0].box == "" and posters[2].box == "东岭村村委会"
    for poster in (posters[0], posters[2], posters[-1]):
        pdf = publication.poster_pdf(cfg, SLUG, BASE, poster.number, font)
        assert_a4_with_embedded_fonts(pdf)
        text = text_of(pdf)
        box = "poster" if poster.number == 0 else str(poster.number)
        assert f"{BASE}/r/{SLUG}/report?box={box}" in text
        assert "2026年4月10日17:30" in text and "匿名" in text
        assert (f"{poster.box}意见箱" in text) == bool(poster.box)
        assert qr_of(publication.to_png(pdf)) == f"{BASE}/r/{SLUG}/report?box={box}"
    with pytest.raises(IndexError):
        publication.poster_pdf(cfg, SLUG, BASE, len(posters), font)


def test_many_units_and_boxes_still_fit_one_page(font: publication.Font) -> None:
    units = "".join(f"""
  - name: 中共第{i}镇委员会
    places: [第{i}镇]
    subordinates: [第{i}村]""" for i in range(2, 7))
    cfg = round_with("inspected_units:" + units,
                     boxes=[f"第{i}村村民委员会办公楼一楼大厅东侧" for i in range(30)])
    pdf = publication.announcement_pdf(cfg, SLUG, BASE, font)
    text = text_of(pdf)  # one page, or page_of fails
    assert "县委第一巡察组进驻青山镇等6个单位开展巡察的公告" in text
    assert "中共第6镇委员会" in text and "第29村村民委员会" in text


def test_form_urls_and_local_addresses() -> None:
    assert publication.form_url(BASE + "/", SLUG) == f"{BASE}/r/{SLUG}/report"
    assert publication.form_url(BASE, SLUG, 0) == f"{BASE}/r/{SLUG}/report?box=poster"
    assert publication.form_url(BASE, SLUG, 3) == f"{BASE}/r/{SLUG}/report?box=3"
    for local in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000/x"):
        assert publication.is_local(local), local
    for public in (BASE, "http://10.1.2.3:8000", "https://xc.linchuan.gov.cn:8443"):
        assert not publication.is_local(public), public


def test_the_font_is_the_setting_or_a_system_face_for_simplified_chinese(
        tmp_path: Path, font: publication.Font) -> None:
    if font.path.suffix == ".ttc":
        from fontTools.ttLib import TTCollection

        collection = TTCollection(str(font.path), lazy=True)
        try:
            assert collection.fonts[font.number]["name"].getDebugName(4).endswith(" SC")
        finally:
            collection.close()
    assert publication.find_font(str(font.path)) == font
    with pytest.raises(FontMissingError, match="pdf_font") as missing:
        publication.find_font(str(tmp_path / "nope.ttf"))
    assert "nope.ttf" in missing.value.message
    empty = tmp_path / "fonts"
    empty.mkdir()
    with pytest.raises(FontMissingError, match="fonts-noto-cjk"):
        publication.find_font(dirs=[empty])


def test_write_files_names_them_as_the_command_promises(
        tmp_path: Path, font: publication.Font) -> None:
    cfg = round_with(boxes=["青山镇人民政府大院"])
    paths = publication.write_files(cfg, SLUG, BASE, font, tmp_path / "out")
    assert [p.name for p in paths] == ["announcement.pdf", "announcement.png", "poster-0.pdf",
                                       "poster-0.png", "poster-1.pdf", "poster-1.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_lines_break_as_chinese_typesetting_does() -> None:
    def lines(text: str, width: int) -> list[str]:
        return publication._break_lines(text, width, len)

    # No closing mark starts a line, no opening mark ends one.
    assert lines("甲乙丙，丁", 3) == ["甲乙", "丙，丁"]
    assert lines("甲乙（丙）", 3) == ["甲乙", "（丙）"]
    # Numbers, times and addresses stay whole; only what cannot fit a line is cut.
    assert lines("截止17:30整", 6) == ["截止", "17:30整"]
    assert lines("abcdefgh", 4) == ["abcd", "efgh"]
