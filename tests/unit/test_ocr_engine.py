"""The OCR engine's pure pieces: box geometry, orientation and skew decisions, reading order,
image preparation and file handling. No model runs here."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from intake import ocr
from intake.ocr import Line, OcrInputError


def box(x: float, y: float, w: float, h: float, degrees: float = 0.0) -> np.ndarray:
    """Corners (tl, tr, br, bl) of a w x h box at (x, y), turned clockwise on screen by
    `degrees` around its centre (image coordinates, y down)."""
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64) - [w / 2, h / 2]
    t = math.radians(degrees)
    turn = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return corners @ turn.T + [x + w / 2, y + h / 2]


def line(x: float, y: float, w: float, h: float, text: str, score: float = 0.99) -> Line:
    return Line(box(x, y, w, h), text, score)


# --- geometry -----------------------------------------------------------------------------


def test_box_angle_and_elongation() -> None:
    assert ocr.box_angle(box(0, 0, 800, 40)) == pytest.approx(0.0)
    assert ocr.box_angle(box(0, 0, 800, 40, 5)) == pytest.approx(5.0)  # descends to the right
    assert ocr.box_angle(box(0, 0, 800, 40, -7)) == pytest.approx(-7.0)
    assert abs(ocr.box_angle(box(0, 0, 40, 800))) == pytest.approx(90.0)
    # the corner order does not matter
    assert ocr.box_angle(box(0, 0, 800, 40, 5)[[2, 3, 0, 1]]) == pytest.approx(5.0)
    assert ocr.box_elongation(box(0, 0, 800, 40)) == pytest.approx(20.0)
    assert ocr.box_elongation(box(0, 0, 40, 800, 3)) == pytest.approx(20.0)
    assert ocr.box_length(box(0, 0, 40, 800)) == pytest.approx(800.0)


def test_vertical_lines_decided_by_long_boxes() -> None:
    wide = [box(100, 100 + 60 * i, 900, 40) for i in range(8)]
    tall = [box(100 + 60 * i, 100, 40, 900) for i in range(8)]
    squares = [box(100, 100 + 60 * i, 45, 42) for i in range(20)]
    assert not ocr.lines_are_vertical(wide)
    assert ocr.lines_are_vertical(tall)
    assert ocr.lines_are_vertical(tall + squares)  # squarish boxes have no say
    assert not ocr.lines_are_vertical(wide + tall[:2])
    assert not ocr.lines_are_vertical(squares)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotate_points_matches_turning_the_image(rotation: int) -> None:
    image = np.zeros((30, 50, 3), dtype=np.uint8)
    image[4, 7] = 255  # row 4, column 7
    turned = ocr._turn(image, rotation)
    (row,), (col,) = np.nonzero(turned[:, :, 0])
    centre = ocr.rotate_points(np.array([7.5, 4.5]), rotation, (50, 30))
    assert centre == pytest.approx([col + 0.5, row + 0.5])


def test_rotate_points_round_trip_and_bad_rotation() -> None:
    pts = box(10, 20, 300, 40, 3)
    there = ocr.rotate_points(pts, 90, (1240, 1754))
    back = ocr.rotate_points(there, 270, (1754, 1240))  # the turned image is 1754 wide
    assert back == pytest.approx(pts)
    with pytest.raises(ValueError, match="rotation"):
        ocr.rotate_points(pts, 45, (100, 100))


def test_deskew_angle_is_the_clockwise_correction() -> None:
    # lines descending to the right by 5 degrees need a 5 degree counter-clockwise turn
    tilted = [box(100, 100 + 60 * i, 900, 40, 5) for i in range(10)]
    assert ocr.deskew_angle(tilted) == pytest.approx(-5.0)
    rising = [box(100, 100 + 60 * i, 700, 36, -3.5) for i in range(10)]
    assert ocr.deskew_angle(rising) == pytest.approx(3.5)
    # the median ignores a few odd boxes; short and vertical boxes are not measured
    odd = [box(300, 50, 600, 40, 30), box(100, 900, 40, 600), box(5, 5, 30, 28, 20)]
    assert ocr.deskew_angle(tilted + odd) == pytest.approx(-5.0)
    assert ocr.deskew_angle([box(5, 5, 30, 28, 20)]) == 0.0
    assert ocr.deskew_angle([]) == 0.0


def test_deskew_turns_the_page_as_measured() -> None:
    # a horizontal bar, turned 5 degrees clockwise, descends to the right by 5 degrees
    page = np.full((400, 600, 3), 255, dtype=np.uint8)
    page[190:210, 100:500] = 0
    turned = ocr._deskew(page, 5.0)
    assert turned.shape[0] > 400 and turned.shape[1] > 600  # the canvas grows
    assert turned[0, 0].tolist() == [255, 255, 255]  # corners filled with paper colour
    ys, xs = np.nonzero(turned[:, :, 0] < 128)
    slope = np.polyfit(xs, ys, 1)[0]
    assert math.degrees(math.atan(slope)) == pytest.approx(5.0, abs=0.3)


# --- orientation decisions ----------------------------------------------------------------


def never() -> list[float]:
    raise AssertionError("the turned lines should not have been read")


def test_upright_page_is_settled_cheaply() -> None:
    votes = [("0", 0.99), ("0", 1.0), ("180", 0.7), ("0", 0.95)]
    assert not ocr.upside_down(votes, [0.99, 0.98, 1.0, 0.97], never)


def test_classifier_doubt_is_settled_by_recognition_scores() -> None:
    flipped_votes = [("180", 1.0), ("180", 0.98), ("0", 0.6)]
    assert ocr.upside_down(flipped_votes, [0.55, 0.6, 0.7], lambda: [0.99, 1.0, 0.98])
    # the classifier alone does not turn a page that reads well as it stands
    assert not ocr.upside_down(flipped_votes, [0.99, 1.0, 0.98], lambda: [0.5, 0.6, 0.4])
    # upright votes but poor scores (handwriting): turned only if it reads clearly better
    upright_votes = [("0", 0.9), ("0", 0.8)]
    assert not ocr.upside_down(upright_votes, [0.6, 0.65], lambda: [0.61, 0.63])
    assert ocr.upside_down(upright_votes, [0.6, 0.65], lambda: [0.9, 0.95])
    assert not ocr.upside_down([], [], never)


def test_best_rotation_prefers_upright_on_a_tie() -> None:
    assert ocr.best_rotation({0: 0.2, 90: 0.95, 180: 0.3, 270: 0.1}) == 90
    assert ocr.best_rotation({0: 0.90, 90: 0.91, 180: 0.3, 270: 0.1}) == 0
    assert ocr.best_rotation({0: 0.0, 90: 0.0, 180: 0.0, 270: 0.0}) == 0


# --- reading order ------------------------------------------------------------------------


def test_join_fragments_spaces_only_between_latin_words() -> None:
    assert ocr.join_fragments(["反映人：", "王建国"]) == "反映人：王建国"
    assert ocr.join_fragments(["Hello", "world"]) == "Hello world"
    assert ocr.join_fragments(["电话", "139 0571"]) == "电话139 0571"
    assert ocr.join_fragments(["2026", "年3月"]) == "2026年3月"
    assert ocr.join_fragments(["他说“", "再等等”。", "OK"]) == "他说“再等等”。OK"
    assert ocr.join_fragments([" ", "a ", " b"]) == "a b"


def test_ascii_punctuation_next_to_chinese_becomes_full_width() -> None:
    assert ocr.normalise_punctuation("请巡视组:一、核查;二、公开") == "请巡视组：一、核查；二、公开"
    assert ocr.normalise_punctuation("居民(共41人签名)") == "居民（共41人签名）"
    assert ocr.normalise_punctuation("“集体发展”,但是?") == "“集体发展”，但是？"
    assert ocr.normalise_punctuation("附件(1)共3页") == "附件（1）共3页"  # brackets pair up
    assert ocr.normalise_punctuation("(a)条(b)") == "（a）条（b）"
    unchanged = "会议12:30开始，每户￥1,260元 Hello, world (ok)!"
    assert ocr.normalise_punctuation(unchanged) == unchanged
    assert ocr.normalise_punctuation("") == ""


def test_reading_order_rows_top_to_bottom_fragments_left_to_right() -> None:
    lines = [
        line(700, 303, 300, 40, "第二行右"),
        line(100, 100, 400, 42, "第一行左"),
        line(100, 300, 500, 44, "第二行左"),
        line(560, 96, 300, 40, "第一行右"),
        line(100, 500, 900, 40, "第三行"),
        line(400, 700, 200, 38, "world"),
        line(100, 704, 200, 38, "Hello"),
    ]
    assert ocr.reading_order(lines) == ["第一行左第一行右", "第二行左第二行右", "第三行",
                                        "Hello world"]
    assert ocr.reading_order(list(reversed(lines))) == ocr.reading_order(lines)


def test_reading_order_keeps_close_lines_apart() -> None:
    # single-spaced lines: 40 px tall, 46 px apart, slightly ragged
    lines = [line(100, 100 + 46 * i + (i % 2) * 4, 900, 40, f"第{i}行") for i in range(6)]
    assert ocr.reading_order(lines[::-1]) == [f"第{i}行" for i in range(6)]
    # a full stop detected apart, low on its line, stays with that line
    assert ocr.reading_order([line(100, 160, 900, 40, "下"), line(100, 100, 900, 40, "上"),
                              line(1010, 124, 20, 20, "。")]) == ["上。", "下"]


def test_page_confidence_is_weighted_by_characters() -> None:
    lines = [line(0, 0, 10, 10, "一二三四五六七八九十", 1.0), line(0, 0, 10, 10, "错", 0.45)]
    assert ocr.page_confidence(lines) == pytest.approx((10 * 1.0 + 0.45) / 11)
    assert ocr.page_confidence([]) == 0.0


# --- images -------------------------------------------------------------------------------


def test_to_rgb_flattens_transparency_and_deep_greys() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert ocr.to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    deep = Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16))
    assert ocr.to_rgb(deep).getpixel((0, 0))[0] == pytest.approx(40000 * 255 / 65535, abs=1)
    assert ocr.to_rgb(Image.new("L", (2, 2), 7)).mode == "RGB"


def test_prepare_page_reduces_large_and_pads_small_or_thin_images() -> None:
    big = ocr.prepare_page(Image.new("RGB", (4000, 6000), "white"))
    assert big.shape == (3000, 2000, 3)
    small = ocr.prepare_page(Image.new("RGB", (400, 120), "white"))
    assert small.shape == (736, 736, 3)
    strip = ocr.prepare_page(Image.new("RGB", (3000, 100), (250, 250, 250)))
    assert strip.shape == (1000, 3000, 3)
    assert strip[-1, -1].tolist() == [250, 250, 250]  # padded with the paper colour
    red = ocr.prepare_page(Image.new("RGB", (800, 800), (255, 0, 0)))
    assert red[0, 0].tolist() == [0, 0, 255]  # BGR, as OpenCV and RapidOCR expect


def test_detector_size_as_rapidocr_chooses_it() -> None:
    # longest side to at most the limit, shortest to at least DET_MIN_SIDE, multiples of 32
    assert ocr.detector_size(1500, 2000, ocr.DET_MAX_SIDE) == (960, 1280)
    assert ocr.detector_size(1240, 1754, ocr.DET_MAX_SIDE) == (896, 1280)
    assert ocr.detector_size(1000, 1000, ocr.DET_MAX_SIDE) == (992, 992)  # only rounded
    assert ocr.detector_size(3000, 1000, ocr.DET_MAX_SIDE) == (2272, 736)  # thin: raised
    # the first, smaller detection of a large page is not raised
    assert ocr.detector_size(1500, 2000, ocr.SURVEY_SIDE, min_side=32) == (576, 768)


def text_line(height: int, length: int = 600) -> np.ndarray:
    """A white strip with a row of black "glyphs" `height` px tall (strokes of varied
    widths, as characters are) and padding above and below, like a detected box."""
    strip = np.full((height * 2 + 20, length, 3), 255, dtype=np.uint8)
    top = height // 2 + 10
    for x in range(10, length - height, height + 6):
        strip[top:top + height, x:x + height // 5] = 0  # a vertical stroke
        strip[top + height // 2:top + height // 2 + 3, x:x + height] = 0  # a horizontal one
    return strip


@pytest.mark.parametrize("height", [12, 28, 64])
def test_ink_height_measures_the_glyphs_not_the_box(height: int) -> None:
    assert ocr.ink_height(text_line(height)) == height
    assert ocr.ink_height(np.full((40, 300, 3), 255, dtype=np.uint8)) == 0


def test_glyph_height_is_the_median_over_the_longest_lines() -> None:
    page = np.full((900, 700, 3), 255, dtype=np.uint8)
    boxes = []
    for n, height in enumerate((30, 30, 60)):
        strip = text_line(height)
        y = 20 + n * 200
        page[y:y + strip.shape[0], 50:50 + strip.shape[1]] = strip
        boxes.append(box(50, y, strip.shape[1], strip.shape[0]))
    # a vertical line is measured across
    page[650:890, 600:640] = np.rot90(text_line(10, 240))
    boxes.append(box(600, 650, 40, 240))
    boxes.append(box(60, 850, 30, 30))  # squarish boxes (a word) are not measured
    assert ocr.glyph_height(page, boxes) == 30.0  # median of 30, 30, 60 and 10
    assert ocr.glyph_height(page, [box(60, 850, 30, 30)]) is None


def test_crop_box_straightens_lines() -> None:
    page = np.full((400, 600, 3), 255, dtype=np.uint8)
    page[100:140, 50:450] = 0
    crop = ocr._crop_box(page, box(50, 100, 400, 40))
    assert crop.shape[:2] == (40, 400)
    tilted = cv2.warpAffine(page, cv2.getRotationMatrix2D((250, 120), -6, 1.0), (600, 400),
                            borderValue=(255, 255, 255))
    crop = ocr._crop_box(tilted, box(50, 100, 400, 40, 6))
    assert crop.shape[:2] == (40, 400)
    assert crop[5:35, 10:390].mean() < 40  # the dark bar fills the straightened crop
    assert ocr._turned(np.zeros((40, 400, 3), np.uint8), 270).shape[:2] == (400, 40)


# --- files --------------------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (60, 40), "white")
    image.paste((255, 0, 0), (0, 0, 12, 12))  # top left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = tmp_path / "photo.jpg"
    image.save(path, "JPEG", quality=95, exif=exif)
    page = ocr.open_page_image(path)
    assert page.mode == "RGB"
    assert page.size == (40, 60)
    red, green, _ = page.getpixel((34, 5))  # stored top left is now top right
    assert red > 200 and green < 80


def test_unreadable_files_raise_a_chinese_error(tmp_path: Path) -> None:
    garbage = tmp_path / "note.jpg"
    garbage.write_bytes(b"this is not an image at all" * 20)
    with pytest.raises(OcrInputError, match="无法识别的文件格式"):
        ocr.open_page_image(garbage)
    truncated = tmp_path / "cut.png"
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(buffer, "PNG")
    truncated.write_bytes(buffer.getvalue()[:120])
    with pytest.raises(OcrInputError, match="损坏"):
        ocr.open_page_image(truncated)
    with pytest.raises(OcrInputError, match="不存在"):
        ocr.open_page_image(tmp_path / "missing.png")
    with pytest.raises(OcrInputError, match="不存在"):
        ocr.open_page_image(tmp_path)
    fake_pdf = tmp_path / "letter.pdf"
    fake_pdf.write_bytes(b"%PDF-1.7\n garbage garbage")
    with pytest.raises(OcrInputError, match="无法打开 PDF"):
        ocr.open_page_image(fake_pdf)
    with pytest.raises(OcrInputError, match="无法打开 PDF"):
        ocr.pdf_page_count(fake_pdf)


def test_image_files_have_one_page(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.new("L", (50, 50), 255).save(path)
    assert ocr.open_page_image(path).size == (50, 50)
    with pytest.raises(OcrInputError, match="没有第 2 页"):
        ocr.open_page_image(path, 2)


def test_large_jpeg_is_decoded_reduced_and_huge_images_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (9000, 6000), "white").save(photo, "JPEG", quality=50)
    assert ocr.open_page_image(photo).size == (2250, 1500)  # decoded at a quarter
    monkeypatch.setattr(ocr, "MAX_PIXELS", 1000)
    with pytest.raises(OcrInputError, match="图片尺寸过大"):
        ocr.open_page_image(photo)


def test_is_pdf_sniffs_the_magic(tmp_path: Path) -> None:
    pdf = tmp_path / "a.bin"
    pdf.write_bytes(b"%PDF-1.4\n...")
    shifted = tmp_path / "b.bin"
    shifted.write_bytes(b"\x00" * 20 + b"%PDF-1.4\n...")
    named = tmp_path / "c.pdf"
    named.write_bytes(b"GIF89a....")
    assert ocr.is_pdf(pdf)
    assert ocr.is_pdf(shifted)
    assert not ocr.is_pdf(named)
    assert not ocr.is_pdf(tmp_path / "missing.pdf")


def make_pdf(path: Path, sizes: list[tuple[int, int]], resolution: float) -> None:
    pages = [Image.new("RGB", size, (255, 255, 255)) for size in sizes]
    for i, page in enumerate(pages):
        page.paste((0, 0, 0), (0, 0, 10 + i, 10))  # mark the page
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=resolution)


def test_pdf_pages_render_at_dpi_and_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "letters.pdf"
    make_pdf(path, [(600, 800), (800, 600)], resolution=100)  # 6 x 8 inch, 8 x 6 inch
    assert ocr.pdf_page_count(path) == 2
    first = ocr.render_pdf_page(path, 1, dpi=50)
    assert first.mode == "RGB"
    assert first.size == (300, 400)
    assert ocr.render_pdf_page(path, 2, dpi=50).size == (400, 300)
    with pytest.raises(OcrInputError, match="没有第 3 页"):
        ocr.render_pdf_page(path, 3)
    with pytest.raises(OcrInputError, match="没有第 0 页"):
        ocr.open_page_image(path, 0)

    huge = tmp_path / "poster.pdf"
    make_pdf(huge, [(500, 1000)], resolution=5)  # 100 x 200 inch
    page = ocr.render_pdf_page(huge, 1, dpi=200)
    assert max(page.size) == ocr.RENDER_MAX_SIDE
    assert page.size[0] == pytest.approx(ocr.RENDER_MAX_SIDE / 2, abs=1)


def test_cli_reports_unreadable_files_without_loading_models(tmp_path: Path) -> None:
    garbage = tmp_path / "junk.png"
    garbage.write_bytes(b"\x89PNG but not really")
    out = io.StringIO()
    code = ocr.cli_main([str(garbage), str(tmp_path / "gone.jpg")], out)
    assert code == 1
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["file"] for r in records] == [str(garbage), str(tmp_path / "gone.jpg")]
    for record in records:
        assert set(record) == {"file", "page", "text", "confidence", "seconds", "error"}
        assert record["page"] == 1 and record["text"] == "" and record["confidence"] == 0
    assert "无法识别" in records[0]["error"]
    assert "不存在" in records[1]["error"]


# --- paragraphs: rows wrapped at the margin joined back ---------------------------------------


def row(text: str, left: float, right: float, height: float = 30.0) -> ocr.Row:
    return ocr.Row(text, left, right, height)


def test_rows_wrapped_at_the_margin_are_joined_into_their_paragraph() -> None:
    page = [
        row("关于村支书侵占补贴的反映", 400, 840),            # a centred title
        row("尊敬的巡察组：", 100, 320),                       # a greeting
        row("村支书李某把全村的耕地地力保护补贴以统一代管的名义", 160, 1140),  # indented start
        row("扣留，至今没有发放。村民多次询问，他说上面没拨款。", 100, 1135),
        row("另外修村道时他让亲戚承包工程，质量很差，雨后开", 100, 1140),
        row("裂。", 100, 160),                                  # the paragraph's last row
        row("反映人：王某", 900, 1140),                          # set apart on the right
        row("2026年3月5日", 920, 1140),
    ]
    assert ocr.paragraphs(page) == [
        "关于村支书侵占补贴的反映",
        "尊敬的巡察组：",
        "村支书李某把全村的耕地地力保护补贴以统一代管的名义扣留，至今没有发放。村民多次询问，"
        "他说上面没拨款。",
        "另外修村道时他让亲戚承包工程，质量很差，雨后开裂。",
        "反映人：王某",
        "2026年3月5日",
    ]


@pytest.mark.parametrize(("text", "ends"), [
    ("没有发放。", True), ("他说“上面没拨款。”", True), ("尊敬的巡察组：", True),
    ("以“资料费”", False), ("扣留，", False), ("雨后开", False), ("", False),
])
def test_ends_sentence(text: str, ends: bool) -> None:
    assert ocr.ends_sentence(text) is ends


def test_a_single_row_or_none_is_left_alone() -> None:
    assert ocr.paragraphs([]) == []
    assert ocr.paragraphs([row("只有一行", 100, 300)]) == ["只有一行"]


# --- vertical writing: characters cut from a column ---------------------------------------


def test_characters_are_cut_where_the_ink_pauses() -> None:
    column = np.full((400, 50, 3), 255, dtype=np.uint8)
    column[10:50, 5:45] = 0  # a character
    column[70:80, 5:45] = 0  # 二: two strokes of one character ...
    column[100:110, 5:45] = 0  # ... no taller than the column is wide
    column[130:170, 10:40] = 0
    pieces = ocr._characters(column)
    assert [p.shape[0] for p in pieces] == [40, 40, 40]
    strip = ocr._side_by_side(pieces)
    assert strip.shape == (50, 150, 3)  # square cells as wide as the column, left to right
    assert ocr._characters(np.full((300, 40, 3), 255, dtype=np.uint8)) == []


def test_all_characters_of_a_column_or_the_first_few() -> None:
    column = np.full((60 * 14, 50, 3), 255, dtype=np.uint8)
    for n in range(14):
        column[60 * n + 10:60 * n + 50, 5:45] = 0
    assert len(ocr._characters(column)) == ocr.VERTICAL_SAMPLE_CHARS
    assert len(ocr._characters(column, limit=None)) == 14


@pytest.mark.parametrize(("column", "upright", "merged"), [
    # sentence marks in a corner of their cell, lost by the column read on its side
    ("水渠去年刚修好’今年又返工请查明原因", "水渠去年刚修好，今年又返工。请查明原因",
     "水渠去年刚修好’今年又返工。请查明原因"),
    ("举报人刘某", "举报人:刘某", "举报人：刘某"),  # full-width between Chinese
    ("赵某钱某孙某", "赵某、钱某、孙某", "赵某、钱某、孙某"),
    ("共计￥3480元", "共计¥3，480元", "共计￥3,480元"),  # a thousands separator
    ("以办公经费名义", "以一办公经费一名义", "以办公经费名义"),  # characters never
    ("二年以来", "三年以来", "二年以来"),  # the column's characters win
])
def test_column_marks_lends_only_the_punctuation_the_column_lost(
        column: str, upright: str, merged: str) -> None:
    assert ocr.column_marks(column, upright, 0.98) == merged


def test_column_marks_ignores_a_poor_or_different_upright_reading() -> None:
    column = "水渠又返工请查明原因"
    assert ocr.column_marks(column, "水渠又返工。请查明原因", 0.5) == column
    assert ocr.column_marks(column, "什么。都不一样的文字", 0.99) == column
    assert ocr.column_marks(column, "", 0.0) == column


def test_quotation_marks_of_a_column_are_read_as_written_across() -> None:
    marks = ocr.VERTICAL_MARKS
    assert "他说「明年再修」’后来".translate(marks) == "他说“明年再修”，后来"
    assert "『再等等』°".translate(marks) == "‘再等等’。"
