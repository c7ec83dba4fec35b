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
