"""Rendered test letters for the OCR engine: printed Chinese letters as PIL images, and the
degradations a scanner, a phone camera or a fax machine adds to them.

A page is A4 at 150 dpi (1240 x 1754 px), black text on white, 8-15 lines. `render_letter`
returns the image and the expected text (one line per rendered line, joined by "\n").
Degradation helpers take and return RGB images and never change the text; `rotate_page` and
`skew_page` take clockwise degrees.

The font comes from the Debian package fonts-noto-cjk; callers skip when it is missing
(`require_font`). `char_accuracy` is the measure the OCR tests and benchmark report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
SANS = FONT_DIR / "NotoSansCJK-Regular.ttc"
SERIF = FONT_DIR / "NotoSerifCJK-Regular.ttc"
FONT_MISSING = "CJK font from Debian package fonts-noto-cjk not installed"

PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 110


@dataclass(frozen=True)
class Letter:
    title: str  # centred first line; "" for none
    greeting: str  # left-aligned line after the title; "" for none
    body: str  # one paragraph, wrapped to the page width, first line indented
    signature: tuple[str, ...]  # right-aligned closing lines (name, date)


LETTERS: tuple[Letter, ...] = (
    Letter(
        title="关于村党支部书记侵占惠农补贴的情况反映",
        greeting="尊敬的省委巡视组：",
        body=(
            "我是青石镇杨柳村村民王建国，现实名反映本村党支部书记李某某侵占惠农补贴的问题。"
            "2024年至2025年，村里共有37户农户的耕地地力保护补贴被他以“统一代管”的名义扣留，"
            "每户每年约￥1,260元，至今没有发放到位。村民多次到村委会询问，他只说“上面还没拨款”。"
            "另外，2025年8月修建村道时，他让自己的亲戚承包工程，预算￥486,000元，"
            "实际路面厚度不足，雨后已经开裂。恳请巡视组调查核实，还村民一个公道。"
        ),
        signature=("反映人：王建国", "联系电话：139 0571 2846", "2026年3月5日"),
    ),
    Letter(
        title="",
        greeting="巡视组领导：",
        body=(
            "我们是县第二建筑公司的农民工，共有52人。2025年4月至12月，我们在县城南区安置房项目干活，"
            "工程早已完工验收，但公司拖欠我们的工资合计￥1,873,400元。我们找过项目经理、公司老板，"
            "也去过县人社局，每次都说“再等等”。春节前有工友家里老人生病，连医药费都拿不出来。"
            "听说工程款已经拨付，钱却不知去向。请求巡视组督促有关部门尽快解决，依法追究责任。"
        ),
        signature=("农民工代表：张德胜、刘小军、陈海", "2026年2月18日"),
    ),
    Letter(
        title="关于镇政府公款吃喝问题的意见",
        greeting="巡视组同志：",
        body=(
            "你好！今年1月以来，镇党委某领导经常在“福满楼”酒店宴请客人，账单以“接待费”"
            "“会议费”名义报销，仅1月份就有9次，金额约￥23,600元。酒店老板是他的同学。"
            "另外，镇里的公务用车经常在周末停在他老家门口，群众意见很大。"
            "希望组织上认真查一查，刹住这股歪风。"
        ),
        signature=("一名普通党员", "2026年3月1日"),
    ),
    Letter(
        title="关于征地补偿款被截留的情况反映",
        greeting="",
        body=(
            "我们是东湖街道新塘社区的居民。2023年11月，社区有128亩集体土地被征收用于产业园建设，"
            "按照协议，每亩补偿￥56,000元，应分配给村民的部分至今只发了一半。"
            "社区主任说剩下的钱用于“集体发展”，但账目从不公开；我们申请查阅财务记录，"
            "被以“涉密”为由拒绝。请巡视组：一、核查补偿款的去向；二、督促公开集体资产账目；"
            "三、对相关责任人依纪依法处理。"
        ),
        signature=("新塘社区部分居民（共41人签名）", "2026年1月20日"),
    ),
    Letter(
        title="反映县第三中学乱收费问题",
        greeting="",
        body=(
            "本人是县第三中学一名学生家长。学校每学期以“资料费”“补课费”“校服费”等名义"
            "向每名学生收取￥1,850元，没有开具正规票据。全校约2,400名学生，一年下来就是几百万元。"
            "班主任私下说这是校长定的，谁不交就调到后排座位。我们担心孩子受影响，不敢公开反映，"
            "只能写信给巡视组。恳请调查处理，减轻家长负担。"
        ),
        signature=("一位不愿透露姓名的家长", "2026年3月8日"),
    ),
    Letter(
        title="关于低保评定不公的举报",
        greeting="尊敬的巡视组：",
        body=(
            "我村低保名额分配严重不公。村主任的弟弟家里有两辆小轿车，在县城还有一套住房，"
            "却连续三年享受低保，每月领取￥680元；而村里80岁的孤寡老人赵秀英、"
            "残疾人孙立强多次申请都未通过。评定时没有召开村民代表会议，也没有张榜公示。"
            "我们要求重新评定，并查清违规领取的资金。"
        ),
        signature=("举报人：红旗村村民（联名9人）", "2026年2月26日"),
    ),
)


def font_available() -> bool:
    return SANS.exists() and SERIF.exists()


def require_font() -> None:
    """Skip the calling test (or module, at import time) when the CJK font is missing."""
    if not font_available():
        import pytest

        pytest.skip(FONT_MISSING, allow_module_level=True)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(expected: str, got: str) -> float:
    """1 - edit distance / expected length, both with all whitespace removed."""
    want = "".join(expected.split())
    have = "".join(got.split())
    return 1.0 - edit_distance(want, have) / len(want)


def load_font(size: int, serif: bool = False) -> ImageFont.FreeTypeFont:
    """The Simplified Chinese face of the Noto CJK collection (index 2, checked by name)."""
    path = SERIF if serif else SANS
    for index in (2, *range(10)):
        try:
            font = ImageFont.truetype(str(path), size, index=index)
        except OSError:
            break
        if font.getname()[0].endswith("CJK SC"):
            return font
    raise OSError(f"no Simplified Chinese face in {path}")


NO_LINE_START = "，。、；：？！”’）》"  # hang at the end of the line instead, as typeset
NO_LINE_END = "“‘（《"  # carried over to the next line


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, indent: int) -> list[str]:
    """Greedy wrap by rendered width; the first line is `indent` px narrower. Closing
    punctuation never starts a line, opening punctuation never ends one."""
    lines: list[str] = []
    current = ""
    for char in text:
        limit = width - (indent if not lines else 0)
        overflows = font.getlength(current + char) > limit
        if current and overflows and char not in NO_LINE_START:
            carry = current[-1] if current[-1] in NO_LINE_END else ""
            lines.append(current[:-1] if carry else current)
            current = carry + char
        else:
            current += char
    if current:
        lines.append(current)
    return lines


def render_letter(letter: Letter, font_size: int = 32, serif: bool = False,
                  size: tuple[int, int] = PAGE_SIZE) -> tuple[Image.Image, str]:
    """The letter printed on a white page, and its text as the page reads line by line."""
    font = load_font(font_size, serif)
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    width = size[0] - 2 * MARGIN
    step = round(font_size * 1.9)
    y = MARGIN
    lines: list[str] = []

    def put(text: str, x: float) -> None:
        nonlocal y
        draw.text((x, y), text, font=font, fill=(20, 20, 20))
        lines.append(text)
        y += step

    if letter.title:
        put(letter.title, (size[0] - font.getlength(letter.title)) / 2)
        y += step // 2
    if letter.greeting:
        put(letter.greeting, MARGIN)
    indent = 2 * font_size
    for i, line in enumerate(wrap(letter.body, font, width, indent)):
        put(line, MARGIN + (indent if i == 0 else 0))
    y += step // 2
    for line in letter.signature:
        put(line, size[0] - MARGIN - font.getlength(line))
    return page, "\n".join(lines)


def render_all() -> list[tuple[Image.Image, str]]:
    """Every letter, font sizes 28-36, sans and serif alternating."""
    sizes = (32, 30, 34, 28, 36, 32)
    return [render_letter(letter, sizes[i % len(sizes)], serif=i % 2 == 1)
            for i, letter in enumerate(LETTERS)]


# --- degradations -------------------------------------------------------------------------


def add_noise(image: Image.Image, sigma: float = 20.0, seed: int = 0) -> Image.Image:
    """Gaussian pixel noise (sensor noise, cheap scanners)."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, sigma, pixels.shape[:2])[..., None]
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def blur(image: Image.Image, radius: float = 1.5) -> Image.Image:
    """Gaussian blur (out of focus phone photo, smeared fax)."""
    return image.filter(ImageFilter.GaussianBlur(radius))


def jpeg(image: Image.Image, quality: int = 35) -> Image.Image:
    """A JPEG round trip at low quality (block and ringing artefacts)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def rotate_page(image: Image.Image, degrees: int) -> Image.Image:
    """The page turned clockwise by 90, 180 or 270 degrees (fed into the scanner sideways)."""
    turns = {
        0: None,
        90: Image.Transpose.ROTATE_270,  # PIL's ROTATE_n turn counter-clockwise
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    if degrees not in turns:
        raise ValueError(f"quarter turns only, not {degrees}")
    method = turns[degrees]
    return image.copy() if method is None else image.transpose(method)


def skew_page(image: Image.Image, degrees: float) -> Image.Image:
    """The page tilted clockwise by a small angle, the uncovered corners white."""
    return image.rotate(-degrees, resample=Image.Resampling.BICUBIC, expand=True,
                        fillcolor="white")


def uneven_lighting(image: Image.Image, contrast: float = 0.45) -> Image.Image:
    """Low contrast (grey ink on grey paper) and a shadow across one corner."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 - 0.4 * ((xx / w + yy / h) / 2.0) ** 1.5  # darker towards bottom right
    faded = 255.0 - (255.0 - pixels) * contrast  # lift the ink towards the paper
    out = faded * shade[..., None] * 0.9
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


# --- layouts beyond one printed column ----------------------------------------------------

# Vertical presentation forms: how a typesetter (or a hand) puts punctuation in a 竖排 column.
VERTICAL_FORMS = str.maketrans("，。、：；！？“”‘’（）《》「」…—",
                               "︐︒︑︓︔︕︖﹁﹂﹃﹄︵︶︽︾﹁﹂︙︱")


def wrap_count(text: str, per_line: int) -> list[str]:
    """Wrap by character count (a grid of squares, as in vertical writing); closing
    punctuation hangs at the end of the line instead of starting the next."""
    lines: list[str] = []
    current = ""
    for char in text:
        if len(current) >= per_line and char not in NO_LINE_START:
            lines.append(current)
            current = ""
        current += char
    if current:
        lines.append(current)
    return lines


def render_columns(left: Letter, right: Letter, font_size: int = 26, stagger: bool = False,
                   size: tuple[int, int] = PAGE_SIZE) -> tuple[Image.Image, str]:
    """A two-column page (a bulletin, a leaflet): a title across both columns, then
    `left` and `right` each with its greeting and body in its own column. With `stagger`
    the right column's rows sit half a row lower than the left's (no shared baselines)."""
    font = load_font(font_size)
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    step = round(font_size * 1.8)
    gutter = 3 * font_size
    column = (size[0] - 2 * MARGIN - gutter) // 2
    title = "巡察工作简报（第三期）　群众来信摘编"
    title_font = load_font(round(font_size * 1.4))
    draw.text(((size[0] - title_font.getlength(title)) / 2, MARGIN), title, font=title_font,
              fill=(20, 20, 20))
    top = MARGIN + round(font_size * 1.4 * 2.6)
    texts = [title]
    for n, letter in enumerate((left, right)):
        x0 = MARGIN + n * (column + gutter)
        y = top + (step // 2 if stagger and n == 1 else 0)
        lines = [letter.greeting] if letter.greeting else []
        lines += wrap(letter.body, font, column, 2 * font_size)
        for i, line in enumerate(lines):
            indent = 2 * font_size if i == (1 if letter.greeting else 0) else 0
            draw.text((x0 + indent, y), line, font=font, fill=(20, 20, 20))
            texts.append(line)
            y += step
    return page, "\n".join(texts)


def _paste_char(page: Image.Image, char: str, font: ImageFont.FreeTypeFont,
                centre: tuple[float, float], degrees: float, ink: tuple[int, int, int]) -> None:
    """One character drawn centred on `centre`, turned by `degrees` (anticlockwise)."""
    side = round(font.size * 1.6)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).text((side / 2, side / 2), char, font=font, fill=255, anchor="mm")
    if degrees:
        mask = mask.rotate(degrees, resample=Image.Resampling.BICUBIC)
    page.paste(ink, (round(centre[0] - side / 2), round(centre[1] - side / 2)), mask)


def render_handwriting(letter: Letter, font_size: int = 34, size: tuple[int, int] = PAGE_SIZE,
                       seed: int = 0) -> tuple[Image.Image, str]:
    """The letter in a handwriting style on a grid: each character a little larger or
    smaller, off the line and turned, in blue-black ink, rows slightly slanting."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", size, (250, 248, 240))
    cell = round(font_size * 1.12)
    per_line = (size[0] - 2 * MARGIN) // cell
    step = round(font_size * 1.9)
    fonts = {s: load_font(s) for s in range(round(font_size * 0.93), round(font_size * 1.06) + 1)}
    ink = (35, 40, 95)
    lines: list[str] = []
    if letter.greeting:
        lines.append(letter.greeting)
    body = wrap_count("　　" + letter.body, per_line)
    lines += body
    lines += list(letter.signature)
    y = MARGIN
    page_slant = rng.normal(0.0, 0.004)
    for n, line in enumerate(lines):
        slant = page_slant + rng.normal(0.0, 0.002)
        x = MARGIN
        if n >= len(lines) - len(letter.signature):
            x = size[0] - MARGIN - cell * len(line)
        for i, char in enumerate(line):
            if char.isspace():
                continue
            font = fonts[int(rng.integers(min(fonts), max(fonts) + 1))]
            cx = x + cell * (i + 0.5) + rng.normal(0.0, font_size * 0.04)
            cy = y + cell / 2 + slant * cell * i + rng.normal(0.0, font_size * 0.05)
            _paste_char(page, char, font, (cx, cy), float(rng.normal(0.0, 3.0)), ink)
        y += step
    return page, "\n".join(line.strip("　") for line in lines)


def render_vertical(letter: Letter, font_size: int = 40, size: tuple[int, int] = PAGE_SIZE,
                    handwriting: bool = False, seed: int = 0) -> tuple[Image.Image, str]:
    """The letter written in vertical columns (竖排), read top to bottom, the columns from
    right to left; punctuation in its vertical forms. The expected text is one column per
    line with the ordinary punctuation."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", size, (250, 248, 240) if handwriting else "white")
    cell = round(font_size * 1.12)
    per_column = (size[1] - 2 * MARGIN) // cell
    step = round(font_size * 1.8)
    font = load_font(font_size, serif=not handwriting)
    ink = (35, 40, 95) if handwriting else (20, 20, 20)
    columns = [letter.title] if letter.title else []
    if letter.greeting:
        columns.append(letter.greeting)
    columns += wrap_count("　　" + letter.body, per_column)
    columns += list(letter.signature)
    x = size[0] - MARGIN - cell
    for column in columns:
        for i, char in enumerate(column):
            if char.isspace():
                continue
            jitter = rng.normal(0.0, font_size * 0.04, 2) if handwriting else (0.0, 0.0)
            degrees = float(rng.normal(0.0, 3.0)) if handwriting else 0.0
            _paste_char(page, char.translate(VERTICAL_FORMS), font,
                        (x + cell / 2 + jitter[0], MARGIN + cell * (i + 0.5) + jitter[1]),
                        degrees, ink)
        x -= step
        if x < MARGIN - cell:
            raise ValueError("the letter does not fit on one page of vertical columns")
    return page, "\n".join(column.strip("　") for column in columns)


def render_screen(letter: Letter, font_size: int = 40,
                  size: tuple[int, int] = (1080, 2340)) -> tuple[Image.Image, str]:
    """A phone screen capture of the letter as a message: a grey title bar, the text in
    dark grey on a white card over a light grey background."""
    font = load_font(font_size)
    title_font = load_font(round(font_size * 1.1))
    page = Image.new("RGB", size, (242, 242, 247))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, size[0], 200), fill=(237, 237, 237))
    title = letter.title or "反映问题"
    draw.text(((size[0] - title_font.getlength(title)) / 2, 100), title, font=title_font,
              fill=(0, 0, 0))
    texts = [title]
    margin = 64
    y = 260
    step = round(font_size * 1.6)
    lines = [letter.greeting] if letter.greeting else []
    lines += wrap(letter.body, font, size[0] - 2 * margin, 0)
    lines += list(letter.signature)
    draw.rounded_rectangle((32, 230, size[0] - 32, 260 + step * len(lines) + 30), 24,
                           fill=(255, 255, 255))
    for line in lines:
        draw.text((margin, y), line, font=font, fill=(51, 51, 51))
        texts.append(line)
        y += step
    return page, "\n".join(texts)


# EXIF orientation tag values and the transpose that turns the displayed image into the
# stored one (a phone stores its sensor's landscape frame and tags how to turn it)
EXIF_STORED = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # displayed = stored turned 90 clockwise
    8: Image.Transpose.ROTATE_270,
}


def phone_photo(page: Image.Image, seed: int = 0, size: tuple[int, int] = (3000, 4000),
                orientation: int = 6, quality: int = 88) -> bytes:
    """A phone photo (12 MP by default) of a page lying on a desk, as JPEG bytes: the page
    seen in perspective, lit unevenly (brighter at one corner, a soft shadow), with sensor
    noise and a little blur, stored in the sensor's frame with an EXIF orientation tag."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    src = np.array([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]],
                   dtype=np.float32)
    inset = np.array([[0.07, 0.09], [0.93, 0.07], [0.96, 0.94], [0.04, 0.92]])
    inset += rng.uniform(-0.015, 0.015, inset.shape)
    dst = (inset * [w, h]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    frame = cv2.warpPerspective(np.asarray(page), matrix, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(96, 82, 70))
    yy, xx = np.ogrid[0:h, 0:w]
    xx, yy = xx.astype(np.float32), yy.astype(np.float32)
    light = 1.0 - 0.35 * ((xx / w) * 0.6 + (yy / h) * 0.4) ** 1.3
    light *= 1.0 - 0.25 * np.exp(-(((xx - 0.8 * w) / (0.18 * w)) ** 2))  # a soft shadow
    light += rng.standard_normal((h, w), dtype=np.float32) * (5.0 / 255.0)  # sensor noise
    out = frame.astype(np.float32)
    out *= light[..., None]
    out = cv2.GaussianBlur(np.clip(out, 0, 255).astype(np.uint8), (0, 0), 0.8)
    image = Image.fromarray(out)
    method = EXIF_STORED[orientation]
    if method is not None:
        image = image.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()
