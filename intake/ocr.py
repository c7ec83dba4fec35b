"""Offline OCR of scanned letters and suggestion-box notes.

RapidOCR runs the PP-OCR ONNX models shipped inside its wheel (nothing is ever downloaded).
Per page:

1. The image is reduced to at most MAX_SIDE px (the detector then works on at most
   DET_MAX_SIDE px) and text boxes are detected. A phone photo (a large JPEG) is decoded
   reduced to PHOTO_SIDE px and upright by its EXIF orientation; lines are cut from that.
   A page of PHOTO_SIDE px or more is first detected at SURVEY_SIDE, a third of the work;
   when the ink of its lines stands at least MIN_GLYPH px tall there the boxes are kept,
   else (small print) it is detected again at DET_MAX_SIDE (`OcrEngine._detect`).
   The models run step by step (`Models`), with onnxruntime threads that do not spin-wait.
2. Orientation: if most long boxes are tall the page lies on its side (90/270), otherwise it
   is 0/180. The longest lines, cut out and turned to the first guess, are voted on by the
   angle classifier and recognised; when the vote or the scores leave any doubt they are
   also recognised turned by 180 degrees and the better reading wins. A page with only
   short, squarish boxes (a word or two) is read at all four turns instead.
3. Skew: the median angle of the long boxes, measured in the upright frame.
4. Every box is cut out straightened and recognised on its own (RapidOCR's per-line angle
   classifier is not used: on an upright page it now and then turns a good line upside down).
   A page that was only turned needs no second detection, its boxes turn with it, nor
   does a skewed one: each line is cut out along its own box. Vertical writing (竖排) reads
   like a page on its side turned by 270 degrees; it is told apart by its characters,
   which stand upright (`_vertical_writing`), and reported upright. Its columns are also
   read upright, character by character, for the punctuation in the corners of its cells
   that the reading on its side loses (`column_marks`).
5. Reading order: the boxes are grouped into blocks by layout (columns found by a
   recursive XY-cut, `intake.ocrlayout`), blocks in reading order; within a block boxes are
   grouped into rows by vertical overlap, rows top to bottom, fragments left to right,
   joined without a space between CJK characters, rows wrapped at the block's margin
   joined into paragraphs; ASCII punctuation next to Chinese text becomes full-width.

`OcrEngine` is thread-safe (one lock around inference); `get_engine()` shares one per process.
Each model file is loaded once (`Models`); after every page the memory it freed is given back
to the system (`release_memory`), so a long-running worker stays near the models' own size.
`cli_main` implements `intake ocr FILE...`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import difflib
import itertools
import json
import logging
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from intake import decodelimits, ocrlayout

log = logging.getLogger(__name__)

MAX_SIDE = 3000  # pages are reduced to this longest side; lines are cut from this image
DET_MAX_SIDE = 1280  # the detector works on at most this longest side (A4 at 150 dpi or so):
# measured on the test letters, as accurate as 2000 px on 150 and 300 dpi scans, with about
# 350 MiB less peak memory and faster
MAX_ASPECT = 3  # thinner images are padded to this long side / short side ratio
DET_MIN_SIDE = 736  # RapidOCR's detector input short side (Det.limit_side_len)
SURVEY_SIDE = 768  # a page is first detected at this longest side (a third of the pixels of
# DET_MAX_SIDE); its boxes are kept when the text is large enough there (MIN_GLYPH) ...
MIN_GLYPH = 7.0  # ... px: the median height of the ink of its lines at that size; smaller
# text is detected again at DET_MAX_SIDE. Measured on the test letters: the detector reads
# them as well down to 4.4 px glyphs at 640 px (and fails below), so 7 px leaves a margin.
GLYPH_SAMPLE = 8  # longest lines whose ink height is measured
RENDER_MAX_SIDE = 4000  # cap on a rasterised PDF page
PHOTO_SIDE = 2000  # large JPEGs (phone photos) are decoded reduced, to no less than this:
# a 12 MP photo decodes at half size four times faster, reads as well from 2000 px as from
# 3000 or 4000 (bench/ocr_pages.py), and its detector input is the same 1280 px
MAX_PIXELS = decodelimits.MAX_PIXELS  # larger images are refused (1200 dpi A3 is 97 Mpx)
SKEW_MIN = 1.0  # degrees; smaller skew is left alone
MIN_LINE_SCORE = 0.5  # recognised lines scoring below this are dropped (RapidOCR's default)
SAMPLE_LINES = 6  # lines used to decide between a page and its 180-degree turn
UPRIGHT_SCORE = 0.8  # mean recognition score that, with the classifier, settles "upright"
FLIP_MARGIN = 0.02  # a turned reading must beat the upright one by this much
ELONGATED = 2.0  # long side / short side of a box whose direction we trust
VERTICAL_SAMPLE = 3  # tall lines cut into characters to tell 竖排 from a page on its side
VERTICAL_SAMPLE_CHARS = 10  # characters of each
VERTICAL_MIN = 0.5  # their score (times the share of characters read) standing upright ...
VERTICAL_MARGIN = 0.15  # ... and at most this much below it with each character turned
THREADS = min(4, os.cpu_count() or 1)  # onnxruntime intra-op threads per session

# Model files inside the rapidocr wheel (rapidocr/models); given by path so that RapidOCR
# never looks for them online.
DET_MODEL = "PP-OCRv6_det_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"


class OcrInputError(Exception):
    """A file that cannot be read as an image or a PDF page; the message is for staff."""


@dataclass(frozen=True)
class PageText:
    text: str  # paragraphs (rows wrapped at the margin rejoined) by "\n", in reading order
    confidence: float  # mean line score weighted by characters, 0..1; 0.0 when no text
    seconds: float  # wall time of recognising this page
    rotation: int  # 0/90/180/270: clockwise degrees the page was rotated by to read it upright
    skew: float  # degrees of small-angle deskew applied (clockwise, after the rotation)
    vertical: bool = False  # written in vertical columns (竖排), read right to left


@dataclass(frozen=True)
class Line:
    """One recognised text box: its four corners (x, y) in page pixels, text and score."""

    box: np.ndarray
    text: str
    score: float


# --- geometry and reading order (pure) ----------------------------------------------------


def box_angle(box: np.ndarray) -> float:
    """Direction of the box's long side in degrees, folded into [-90, 90).

    Image coordinates (y down): 0 is horizontal, a positive angle descends to the right,
    +-90 is vertical.
    """
    pts = np.asarray(box, dtype=np.float64)
    edges = [pts[1] - pts[0], pts[2] - pts[1]]
    dx, dy = max(edges, key=lambda e: float(np.hypot(*e)))
    angle = float(np.degrees(np.arctan2(dy, dx)))
    return (angle + 90.0) % 180.0 - 90.0


def box_elongation(box: np.ndarray) -> float:
    """Long side / short side of the box."""
    pts = np.asarray(box, dtype=np.float64)
    a = float(np.hypot(*(pts[1] - pts[0])))
    b = float(np.hypot(*(pts[2] - pts[1])))
    return max(a, b) / max(min(a, b), 1e-6)


def box_length(box: np.ndarray) -> float:
    pts = np.asarray(box, dtype=np.float64)
    return max(float(np.hypot(*(pts[1] - pts[0]))), float(np.hypot(*(pts[2] - pts[1]))))


def lines_are_vertical(boxes: Sequence[np.ndarray]) -> bool:
    """Whether most text (by length of elongated boxes) runs up/down: a page on its side."""
    tall = wide = 0.0
    for box in boxes:
        if box_elongation(box) < ELONGATED:
            continue
        if abs(box_angle(box)) >= 45.0:
            tall += box_length(box)
        else:
            wide += box_length(box)
    return tall > wide


def rotate_points(points: np.ndarray, rotation: int, size: tuple[int, int]) -> np.ndarray:
    """Map (..., 2) points of an image of `size` (width, height) into that image turned
    clockwise by `rotation` (0/90/180/270) degrees."""
    w, h = size
    pts = np.asarray(points, dtype=np.float64)
    x, y = pts[..., 0], pts[..., 1]
    if rotation == 0:
        out = (x, y)
    elif rotation == 90:
        out = (h - y, x)
    elif rotation == 180:
        out = (w - x, h - y)
    elif rotation == 270:
        out = (y, w - x)
    else:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")
    return np.stack(out, axis=-1)


def deskew_angle(boxes: Sequence[np.ndarray]) -> float:
    """Clockwise degrees that make the text lines of an upright page horizontal.

    The median long-side angle of the elongated, roughly horizontal boxes; 0.0 when none.
    """
    angles = [box_angle(b) for b in boxes
              if box_elongation(b) >= ELONGATED and abs(box_angle(b)) < 45.0]
    if not angles:
        return 0.0
    # Lines descending to the right (positive angle) need a counter-clockwise turn.
    return -float(statistics.median(angles))


def upside_down(votes: Sequence[tuple[str, float]], scores: Sequence[float],
                turned_scores: Callable[[], Sequence[float]]) -> bool:
    """Whether sampled lines read better turned by 180 degrees.

    `votes` are the angle classifier's (label, confidence) per line, `scores` the recognition
    scores as the lines stand, `turned_scores` computes them for the lines turned 180 degrees
    and is only called when the classifier and the scores do not both say "upright".
    """
    if not scores:
        return False
    flip = sum(conf for label, conf in votes if label == "180")
    keep = sum(conf for label, conf in votes if label != "180")
    upright = statistics.fmean(scores)
    if keep > flip and upright >= UPRIGHT_SCORE:
        return False
    turned = list(turned_scores())
    return bool(turned) and statistics.fmean(turned) > upright + FLIP_MARGIN


def best_rotation(scores: dict[int, float]) -> int:
    """The rotation with the best mean recognition score; 0 unless beaten by FLIP_MARGIN."""
    best = max(scores, key=lambda rotation: scores[rotation])
    if 0 in scores and scores[best] <= scores[0] + FLIP_MARGIN:
        return 0
    return best


def _is_wide(char: str) -> bool:
    """CJK ideographs, kana, hangul, CJK and full-width punctuation: no spaces around them."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK punctuation, kana, ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= code <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x2000 <= code <= 0x206F  # general punctuation: “ ” ‘ ’ … —
        or code >= 0x20000  # CJK extensions
    )


def join_fragments(texts: Sequence[str]) -> str:
    """Join same-row fragments, left to right: a space only between non-CJK text."""
    out = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if out and not _is_wide(out[-1]) and not _is_wide(text[0]):
            out += " "
        out += text
    return out


_FULL_WIDTH = str.maketrans(",;:!?()", "，；：！？（）")


def normalise_punctuation(text: str) -> str:
    """ASCII , ; : ! ? ( ) next to CJK text become their full-width forms, as printed in
    Chinese (the recogniser often reads "：" as ":" on a poor scan); a pair of brackets
    changes together. Numbers and Latin text keep theirs: "12:30", "1,260", "Hello, world"."""
    chars = list(text)

    def near_cjk(i: int) -> bool:
        return (i > 0 and _is_wide(chars[i - 1])) or (i + 1 < len(chars)
                                                       and _is_wide(chars[i + 1]))

    wide = [char in ",;:!?()" and near_cjk(i) for i, char in enumerate(chars)]
    opened: list[int] = []
    for i, char in enumerate(chars):
        if char == "(":
            opened.append(i)
        elif char == ")" and opened:
            j = opened.pop()
            wide[i] = wide[j] = wide[i] or wide[j]
    return "".join(c.translate(_FULL_WIDTH) if w else c for c, w in zip(chars, wide, strict=True))


@dataclass(frozen=True)
class Row:
    """One row of text on the page, joined from its fragments, with where it lies."""

    text: str
    left: float
    right: float
    height: float


def rows(lines: Sequence[Line]) -> list[Row]:
    """Rows of text, top to bottom, each joined from its fragments left to right.

    A line joins the current row when it overlaps the row vertically by at least half the
    smaller of the two heights.
    """
    items = []
    for line in lines:
        ys, xs = line.box[:, 1], line.box[:, 0]
        items.append((float(ys.min()), float(ys.max()), float(xs.min()), float(xs.max()),
                      line.text))
    items.sort(key=lambda it: (it[0] + it[1]) / 2)

    groups: list[list[tuple[float, float, float, float, str]]] = []
    row_top = row_bottom = 0.0
    for item in items:
        top, bottom = item[0], item[1]
        if groups:
            overlap = min(bottom, row_bottom) - max(top, row_top)
            smaller = min(bottom - top, row_bottom - row_top)
            if overlap >= 0.5 * max(smaller, 1.0):
                groups[-1].append(item)
                row_top, row_bottom = min(row_top, top), max(row_bottom, bottom)
                continue
        groups.append([item])
        row_top, row_bottom = top, bottom

    out = []
    for group in groups:
        text = join_fragments([it[4] for it in sorted(group, key=lambda it: it[2])])
        if text:
            out.append(Row(text, min(it[2] for it in group), max(it[3] for it in group),
                           statistics.median(it[1] - it[0] for it in group)))
    return out


def reading_order(lines: Sequence[Line]) -> list[str]:
    """The texts of `rows(lines)`."""
    return [row.text for row in rows(lines)]


# A row ending in one of these (closing quotes and brackets aside) ends its sentence.
ENDS_SENTENCE = set("。！？：；…!?:;")
CLOSERS = "”’』」）)》"


def ends_sentence(text: str) -> bool:
    """Whether a row ends a sentence: 。 or ！ or …, also inside closing quotes (。”)."""
    text = text.rstrip(CLOSERS)
    return bool(text) and text[-1] in ENDS_SENTENCE


def paragraphs(page_rows: Sequence[Row]) -> list[str]:
    """Rows wrapped at the page's right margin joined back into their paragraphs.

    A printed or written line that fills the width and does not end a sentence continues on
    the next row, unless that row is indented (a new paragraph) or set apart (a signature,
    a date). Rejoined, a phrase broken at the margin ("侵占惠农\n补贴") reads whole again.
    """
    if len(page_rows) < 2:
        return [row.text for row in page_rows]
    height = statistics.median(row.height for row in page_rows)
    lefts = sorted(row.left for row in page_rows)
    rights = sorted(row.right for row in page_rows)
    margin_left = lefts[len(lefts) // 10]
    margin_right = rights[(len(rights) * 9) // 10]
    out = [page_rows[0].text]
    for before, row in itertools.pairwise(page_rows):
        runs_on = (not ends_sentence(before.text)
                   and before.right >= margin_right - 2.5 * height  # kinsoku: a char or two short
                   and before.left <= margin_left + 3 * height
                   and row.left <= margin_left + height)
        if runs_on:
            out[-1] = join_fragments([out[-1], row.text])
        else:
            out.append(row.text)
    return out


# The vertical forms of ， and 。 (︐ ︒, in the upper right of their square), read in a column
# turned on its side, come out as ’ and °; digits standing upright in it, full-width. Quotation
# marks in a column are corner brackets (﹁﹂﹃﹄, GB/T 15834): read as 「」『』, they are the
# “” and ‘’ of the same text written across.
VERTICAL_MARKS = str.maketrans("’°０１２３４５６７８９「」『』", "，。0123456789“”‘’")

# Marks that sit in a corner of their own cell in a column (︐︒︑︓︔︕︖): read on its side,
# the column often loses them; read upright, character by character, they are seen.
COLUMN_MARKS = set("，。、：；！？,.:;!?")
_MARK_FORMS = str.maketrans(",.:;!?", "，。：；！？")
MERGE_MIN_SCORE = 0.8  # the upright reading lends its marks only when it reads this well ...
MERGE_MIN_RATIO = 0.6  # ... and agrees with the column's reading this much (difflib ratio)


def column_marks(column: str, upright: str, score: float) -> str:
    """A column of vertical writing as read turned on its side (`column`), with the
    punctuation that only its reading upright, character by character (`upright`, with its
    `score`), has: marks that the column's reading has nowhere near where the upright one
    puts them. Everything else stays as the column read it (the upright reading, its
    characters cut apart by where the ink pauses, misreads more of them). A mark between
    two ASCII digits keeps its ASCII form (1,260), others are full-width."""
    if not upright or score < MERGE_MIN_SCORE:
        return column
    matcher = difflib.SequenceMatcher(None, column, upright, autojunk=False)
    if matcher.ratio() < MERGE_MIN_RATIO:
        return column
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "insert" and all(char in COLUMN_MARKS for char in upright[j1:j2]):
            before, after = column[i1 - 1:i1], column[i1:i1 + 1]
            marks = upright[j1:j2]
            if before.isascii() and before.isdigit() and after.isascii() and after.isdigit():
                marks = marks.translate(str.maketrans("，。", ",."))
            else:
                marks = marks.translate(_MARK_FORMS)
            out.append(marks)
        else:
            out.append(column[i1:i2])
    return "".join(out)


def page_paragraphs(lines: Sequence[Line]) -> list[str]:
    """The page's paragraphs in reading order: the lines are grouped into blocks by layout
    (columns, see `intake.ocrlayout`), and each block's rows joined into paragraphs."""
    order = ocrlayout.blocks([ocrlayout.extent(line.box) for line in lines])
    return [text for block in order for text in paragraphs(rows([lines[k] for k in block]))]


def page_confidence(lines: Sequence[Line]) -> float:
    """Mean line score weighted by the number of characters; 0.0 without text."""
    chars = sum(len(line.text) for line in lines)
    if not chars:
        return 0.0
    return sum(line.score * len(line.text) for line in lines) / chars


# --- images -------------------------------------------------------------------------------


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB version of any PIL image: transparency flattened onto white, 16-bit and
    floating-point greyscale scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max(initial=0.0))
        scale = 255.0 / 65535.0 if top > 255 else 1.0
        grey = np.clip(values * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    return image.convert("RGB")


def _paper(bgr: np.ndarray) -> tuple[float, float, float]:
    """The page's background colour: the median of a pixel sample."""
    sample = np.median(bgr[::8, ::8].reshape(-1, 3), axis=0)
    return (float(sample[0]), float(sample[1]), float(sample[2]))


def prepare_page(image: Image.Image) -> np.ndarray:
    """A PIL image as a BGR array ready for detection: reduced to at most MAX_SIDE px, then
    padded (right and bottom, paper colour) to at least DET_MIN_SIDE px on each side and to
    an aspect ratio of at most MAX_ASPECT.

    RapidOCR's detector scales its input's short side up to DET_MIN_SIDE: padding instead
    keeps text at its own size (a small image with large letters, blown up five times, loses
    its text) and stops a thin strip from becoming an enormous detector input.
    """
    rgb = np.asarray(to_rgb(image))
    h, w = rgb.shape[:2]
    if max(w, h) > MAX_SIDE:
        # OpenCV's area average: as good as Lanczos for text, several times faster
        scale = MAX_SIDE / max(w, h)
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    new_w = max(w, -(-h // MAX_ASPECT), DET_MIN_SIDE)
    new_h = max(h, -(-w // MAX_ASPECT), DET_MIN_SIDE)
    if (new_w, new_h) != (w, h):
        bgr = cv2.copyMakeBorder(bgr, 0, new_h - h, 0, new_w - w, cv2.BORDER_CONSTANT,
                                 value=_paper(bgr))
    return bgr


def _turn(image: np.ndarray, rotation: int) -> np.ndarray:
    """The image turned clockwise by a quarter-turn multiple."""
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
             270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return image if rotation == 0 else cv2.rotate(image, codes[rotation])


def _deskew(image: np.ndarray, degrees: float) -> np.ndarray:
    """The image turned clockwise by a small angle on an enlarged canvas of paper colour."""
    h, w = image.shape[:2]
    # cv2 turns counter-clockwise for positive angles
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=_paper(image))


def _crop_box(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's contents straightened along its side nearest to horizontal; the page's top
    stays up (a vertical line gives a tall crop)."""
    pts = np.asarray(box, dtype=np.float64)
    centre = pts.mean(axis=0)
    theta = np.radians((box_angle(pts) + 45.0) % 90.0 - 45.0)
    along = np.array([np.cos(theta), np.sin(theta)])  # rightwards
    across = np.array([-along[1], along[0]])  # downwards
    rel = pts - centre
    length = float(np.ptp(rel @ along))
    height = float(np.ptp(rel @ across))
    w, h = max(round(length), 1), max(round(height), 1)
    src = np.array([centre - along * length / 2 - across * height / 2,
                    centre + along * length / 2 - across * height / 2,
                    centre + along * length / 2 + across * height / 2], dtype=np.float32)
    dst = np.array([[0, 0], [w, 0], [w, h]], dtype=np.float32)
    matrix = cv2.getAffineTransform(src, dst)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def _turned(crop: np.ndarray, rotation: int) -> np.ndarray:
    """A crop turned clockwise by a quarter-turn multiple (contiguous, as ONNX wants)."""
    return np.ascontiguousarray(np.rot90(crop, k=(-(rotation // 90)) % 4))


def _characters(crop: np.ndarray, limit: int | None = VERTICAL_SAMPLE_CHARS
                ) -> list[np.ndarray]:
    """The first `limit` (None: all) characters of a tall line crop, cut where its ink
    pauses; the pieces of a character (二, 儿) are kept together up to a square."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    width = ink.shape[1]
    inked = np.flatnonzero(ink.sum(axis=1) > max(1, width // 50))
    runs: list[list[int]] = []  # [top, bottom) of the strokes, then of the characters
    for y in inked.tolist():
        if runs and y == runs[-1][1]:
            runs[-1][1] = y + 1
        else:
            runs.append([y, y + 1])
    chars: list[list[int]] = []
    for top, bottom in runs:
        if chars and bottom - chars[-1][0] <= width:
            chars[-1][1] = bottom  # another stroke of the same character
        else:
            chars.append([top, bottom])
    return [crop[top:bottom] for top, bottom in chars[:limit]]


def _side_by_side(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Pieces centred on square cells of the paper colour, laid left to right."""
    side = max(max(p.shape[:2]) for p in pieces)
    paper = _paper(pieces[0]) if pieces[0].size else (255.0, 255.0, 255.0)
    cells = []
    for piece in pieces:
        h, w = piece.shape[:2]
        top, left = (side - h) // 2, (side - w) // 2
        cells.append(cv2.copyMakeBorder(piece, top, side - h - top, left, side - w - left,
                                        cv2.BORDER_CONSTANT, value=paper))
    return np.ascontiguousarray(np.hstack(cells))


def ink_height(crop: np.ndarray) -> int:
    """Rows (of a line crop, text running left to right) holding the glyphs: those whose
    ink (Otsu's threshold) reaches a tenth of the inkiest row's; 0 for a blank crop."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    rows = ink.sum(axis=1)
    top = int(rows.max(initial=0))
    return int((rows >= max(1, top / 10)).sum()) if top else 0


def glyph_height(bgr: np.ndarray, boxes: Sequence[np.ndarray]) -> float | None:
    """Median ink height in page pixels of the GLYPH_SAMPLE longest elongated boxes (a
    vertical line measured across); None when there are none."""
    lines = sorted((box for box in boxes if box_elongation(box) >= ELONGATED),
                   key=box_length, reverse=True)[:GLYPH_SAMPLE]
    heights = []
    for box in lines:
        crop = _crop_box(bgr, box)
        if crop.shape[0] > crop.shape[1]:
            crop = np.ascontiguousarray(np.rot90(crop))
        heights.append(ink_height(crop))
    return float(statistics.median(heights)) if heights else None


def _fit(crop: np.ndarray) -> np.ndarray:
    """A line crop scaled (keeping its proportions) to 32..DET_MAX_SIDE px, so that RapidOCR
    does not resize it itself: it rounds both sides to multiples of 32, squashing lines."""
    h, w = crop.shape[:2]
    scale = 1.0
    if max(h, w) >= DET_MAX_SIDE:
        scale = (DET_MAX_SIDE - 1) / max(h, w)
    elif min(h, w) < 32:
        scale = min(32 / min(h, w), (DET_MAX_SIDE - 1) / max(h, w))
    if scale == 1.0:
        return crop
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def detector_size(width: int, height: int, side: int, min_side: int = DET_MIN_SIDE
                  ) -> tuple[int, int]:
    """The detector's input size (width, height) for a page, as RapidOCR would choose it:
    the longest side reduced to at most `side`, then the shortest raised to at least
    `min_side`, both rounded to multiples of 32."""
    w, h = float(width), float(height)
    if max(w, h) > side:
        scale = side / max(w, h)
        w, h = round(int(w * scale) / 32) * 32, round(int(h * scale) / 32) * 32
    if min(w, h) < min_side:
        scale = min_side / min(w, h)
        w, h = int(w * scale), int(h * scale)
    return max(32, round(w / 32) * 32), max(32, round(h / 32) * 32)


# --- the engine ---------------------------------------------------------------------------


def quiet_rapidocr() -> None:
    """Keep RapidOCR's INFO chatter (its own colorlog logger) off the console."""
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)


def _model_params() -> dict[str, Any]:
    import rapidocr

    models = Path(rapidocr.__file__).resolve().parent / "models"
    paths = {name: models / name for name in (DET_MODEL, CLS_MODEL, REC_MODEL)}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise RuntimeError(f"OCR 模型文件缺失（应随 rapidocr 安装）：{', '.join(missing)}")
    return {
        "Global.log_level": "warning",
        "Global.max_side_len": DET_MAX_SIDE,
        "Det.model_path": str(paths[DET_MODEL]),
        "Cls.model_path": str(paths[CLS_MODEL]),
        "Rec.model_path": str(paths[REC_MODEL]),
        "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }


def _session(path: str) -> Any:
    """An onnxruntime session for one model: THREADS intra-op threads that sleep instead of
    spin-waiting between operators (on a shared or busy machine spinning threads burn a
    core each and slow everything else), one inter-op thread, all graph optimisations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False  # as RapidOCR: inputs change shape page to page
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


class _StepConfig(dict[str, Any]):
    """One section of RapidOCR's configuration (Det, Cls, Rec) as its step classes read it
    (`cfg.key`, `cfg["key"]`, `cfg.get(key)`), able to hold an onnxruntime session, which
    RapidOCR's own (OmegaConf) configuration cannot."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Models:
    """RapidOCR's three models (detector, angle classifier, recogniser), called step by step.

    RapidOCR's own pipeline is not used for the page: it would resize every input to its own
    limits, normalise in float64 and cut out every detected box although only their corners
    are wanted. Its step classes (TextDetector, TextClassifier, TextRecognizer) and their
    pre- and post-processing are used as they are, each built once, here, with its settings
    from RapidOCR's configuration and an onnxruntime session made by `_session` (RapidOCR
    has no switch for spin-waiting): every model file is loaded exactly once. RapidOCR
    itself is constructed only for its resolved configuration; it loads no model before its
    first page, and it never reads one. Only the detector's input is prepared here, at the
    size `detector_size` chooses.

    These step classes are RapidOCR internals: pyproject.toml pins the versions they were
    checked on, and tests/integration/test_ocr_models.py fails loudly when they change.
    """

    def __init__(self) -> None:
        quiet_rapidocr()
        from rapidocr import RapidOCR
        from rapidocr.ch_ppocr_cls import TextClassifier
        from rapidocr.ch_ppocr_det import TextDetector
        from rapidocr.ch_ppocr_rec import TextRecInput, TextRecognizer

        cfg = RapidOCR(params=_model_params()).cfg
        quiet_rapidocr()

        def step(section: Any) -> _StepConfig:
            # what RapidOCR's _load_det_model/_load_cls_model/_load_rec_model add to a section
            # (its values as RapidOCR hands them over: lists and sections stay OmegaConf's)
            config = _StepConfig(section.items())
            config["engine_cfg"] = cfg.EngineConfig[config["engine_type"].value]
            config["model_root_dir"] = cfg.Global.model_root_dir
            config["font_path"] = cfg.Global.font_path
            # RapidOCR's session wrapper takes a ready onnxruntime session from "session"
            # (RapidOCR PR #451) and then loads nothing itself
            config["session"] = _session(config["model_path"])
            return config

        self.det = TextDetector(step(cfg.Det))
        self.cls = TextClassifier(step(cfg.Cls))
        self.rec = TextRecognizer(step(cfg.Rec))
        self._rec_input = TextRecInput

    def detect(self, bgr: np.ndarray, size: tuple[int, int],
               frame: tuple[int, int] | None = None) -> list[np.ndarray]:
        """Text boxes (four corners each) in page pixels, detected on the page resized to
        `size` (width, height; multiples of 32). The corners are rounded to whole pixels of
        `frame` (width, height; the page's own by default), then scaled to the page."""
        h, w = bgr.shape[:2]
        fw, fh = frame or (w, h)
        small = bgr if (w, h) == size else cv2.resize(bgr, size)  # bilinear, as RapidOCR
        # RapidOCR's normalisation, (x / 255 - 0.5) / 0.5, in float32 and in one pass
        x = cv2.dnn.blobFromImage(small, scalefactor=2 / 255, mean=(127.5, 127.5, 127.5))
        preds = self.det.session(x)
        boxes, _ = self.det.postprocess_op(preds, (fh, fw))
        if len(boxes) == 0:
            return []
        boxes = self.det.sorted_boxes(boxes).astype(np.float64) * [w / fw, h / fh]
        return list(np.clip(boxes, 0, [w, h]))

    def classify(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """The angle classifier's ("0" or "180", confidence) for each line crop."""
        if not crops:
            return []
        result = self.cls([_fit(crop) for crop in crops])
        return [(str(label), float(score)) for label, score in result.cls_res]

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Text and score of each line crop. RapidOCR sorts the lines by width and pads
        each batch of REC_BATCH to its widest line."""
        if not crops:
            return []
        result = self.rec(self._rec_input(img=[_fit(crop) for crop in crops]))
        return [(str(text), float(score)) for text, score in
                zip(result.txts, result.scores, strict=True)]


class OcrEngine:
    """Recognises page images; creates the RapidOCR models on first use, thread-safe."""

    def __init__(self) -> None:
        self._models: Models | None = None
        self._lock = threading.Lock()

    def _model(self) -> Models:
        # called with self._lock held
        if self._models is None:
            self._models = Models()
        return self._models

    def load(self) -> None:
        """Load the models now (a worker's start), not on the first page."""
        with self._lock:
            self._model()

    def read_image(self, image: Image.Image) -> PageText:
        """The page's text; `seconds` counts preparation and recognition, not the wait for
        another thread's page nor the creation of RapidOCR (its sessions load lazily, so
        the first page of a process is slower)."""
        start = time.perf_counter()
        bgr = prepare_page(image)
        seconds = time.perf_counter() - start
        with self._lock:
            ocr = self._model()
            start = time.perf_counter()
            lines, rotation, skew, vertical = self._read(ocr, bgr)
            seconds += time.perf_counter() - start
        del bgr
        release_memory()
        kept = [line for line in lines if line.score >= MIN_LINE_SCORE and line.text.strip()]
        if vertical:
            kept = [Line(line.box, line.text.translate(VERTICAL_MARKS), line.score)
                    for line in kept]
        return PageText(
            text="\n".join(normalise_punctuation(p) for p in page_paragraphs(kept)),
            confidence=page_confidence(kept),
            seconds=seconds,
            # vertical writing is read turned like a page on its side, but the page itself
            # stands upright
            rotation=0 if vertical else rotation,
            skew=skew,
            vertical=vertical,
        )

    def read_file(self, path: str | Path) -> Iterator[tuple[int, PageText]]:
        """(page number from 1, text) for an image file (one page) or each page of a PDF."""
        if is_pdf(path):
            for page_no in range(1, pdf_page_count(path) + 1):
                yield page_no, self.read_image(render_pdf_page(path, page_no))
        else:
            yield 1, self.read_image(open_page_image(path))

    @staticmethod
    def _detect(ocr: Models, bgr: np.ndarray) -> list[np.ndarray]:
        """Text boxes (four corners each) in page pixels.

        A large page (PHOTO_SIDE px or more: a phone photo, a 300 dpi scan) is first detected
        at SURVEY_SIDE; those boxes are kept when its lines' glyphs stand at least MIN_GLYPH
        px tall at that size, else the page is detected again at full size (DET_MAX_SIDE),
        as every smaller page is.
        """
        h, w = bgr.shape[:2]
        full = detector_size(w, h, DET_MAX_SIDE)
        if max(w, h) >= PHOTO_SIDE:
            survey = detector_size(w, h, SURVEY_SIDE, min_side=32)
            boxes = ocr.detect(bgr, survey)
            glyph = glyph_height(bgr, boxes)
            if glyph is not None and glyph * max(survey) / max(w, h) >= MIN_GLYPH:
                return boxes
        # as RapidOCR did: corners rounded in the page reduced to at most DET_MAX_SIDE
        frame = detector_size(w, h, DET_MAX_SIDE, min_side=0) if max(w, h) > DET_MAX_SIDE \
            else (w, h)
        return ocr.detect(bgr, full, frame)

    @staticmethod
    def _classify(ocr: Models, crop: np.ndarray) -> tuple[str, float]:
        """The angle classifier's ("0" or "180", confidence) for one line crop."""
        return ocr.classify([crop])[0]

    @staticmethod
    def _recognise(ocr: Models, crop: np.ndarray) -> tuple[str, float]:
        """Text and score of one line crop."""
        return ocr.recognise([crop])[0]

    def _orientation(self, ocr: Models, bgr: np.ndarray, boxes: list[np.ndarray]
                     ) -> tuple[int, dict[int, tuple[str, float]]]:
        """Clockwise degrees (0/90/180/270) that turn the page upright, and the readings of
        the sampled boxes (by index) at that rotation."""
        vertical = lines_are_vertical(boxes)
        sample = [i for i, box in enumerate(boxes)
                  if box_elongation(box) >= ELONGATED
                  and (abs(box_angle(box)) >= 45.0) == vertical]
        if not sample:
            # Only short, squarish boxes (a word or two): read the largest at all four turns.
            largest = sorted(range(len(boxes)), reverse=True,
                             key=lambda i: cv2.contourArea(boxes[i].astype(np.float32)))
            crops = {i: _crop_box(bgr, boxes[i]) for i in largest[:SAMPLE_LINES]}
            readings = {rotation: {i: self._recognise(ocr, _turned(crop, rotation))
                                   for i, crop in crops.items()}
                        for rotation in (0, 90, 180, 270)}
            best = best_rotation({rotation: statistics.fmean(s for _, s in read.values())
                                  for rotation, read in readings.items()})
            return best, readings[best]

        sample = sorted(sample, key=lambda i: box_length(boxes[i]),
                        reverse=True)[:SAMPLE_LINES]
        # First guess: as it stands, or (lines running downwards) turned counter-clockwise.
        guess = 270 if vertical else 0
        crops = {i: _turned(_crop_box(bgr, boxes[i]), guess) for i in sample}
        votes = [self._classify(ocr, crop) for crop in crops.values()]
        readings = {i: self._recognise(ocr, crop) for i, crop in crops.items()}
        flipped: dict[int, tuple[str, float]] = {}

        def turned_scores() -> list[float]:
            flipped.update({i: self._recognise(ocr, _turned(crop, 180))
                            for i, crop in crops.items()})
            return [score for _, score in flipped.values()]

        if upside_down(votes, [score for _, score in readings.values()], turned_scores):
            return (guess + 180) % 360, flipped
        return guess, readings

    def _vertical_writing(self, ocr: Models, bgr: np.ndarray, boxes: list[np.ndarray]
                          ) -> bool:
        """Whether the tall lines of a page that reads turned by 270 degrees are columns of
        upright characters (竖排), not rows of a page lying on its side.

        Both read alike turned (the recogniser knows vertical lines turned so); they differ
        in the characters: cut apart and laid side by side as they stand, the characters of
        vertical writing read about as well as turned upright one by one (the recogniser
        forgives a single turned character), those of a page on its side hardly at all.
        """
        tall = sorted((box for box in boxes if box_elongation(box) >= ELONGATED
                       and abs(box_angle(box)) >= 45.0), key=box_length, reverse=True)
        as_is: list[float] = []
        turned: list[float] = []

        def read(pieces: list[np.ndarray]) -> float:
            text, score = self._recognise(ocr, _side_by_side(pieces))
            return score * min(1.0, len(text.strip()) / len(pieces))

        for box in tall[:VERTICAL_SAMPLE]:
            pieces = _characters(_crop_box(bgr, box))
            if len(pieces) >= 2:
                as_is.append(read(pieces))
                turned.append(read([_turned(piece, 270) for piece in pieces]))
        if not as_is:
            return False
        standing = statistics.fmean(as_is)
        return standing >= max(VERTICAL_MIN, statistics.fmean(turned) - VERTICAL_MARGIN)

    def _read(self, ocr: Models, bgr: np.ndarray) -> tuple[list[Line], int, float, bool]:
        """Lines (boxes in the upright, deskewed frame; for vertical writing turned so that
        its columns are rows), the rotation and the skew applied, and whether the page is
        written in vertical columns."""
        boxes = self._detect(ocr, bgr)
        if not boxes:
            return [], 0, 0.0, False
        rotation, known = self._orientation(ocr, bgr, boxes)
        vertical = rotation == 270 and self._vertical_writing(ocr, bgr, boxes)
        h, w = bgr.shape[:2]
        upright = [rotate_points(box, rotation, (w, h)) for box in boxes]
        skew = deskew_angle(upright)
        if abs(skew) <= SKEW_MIN:
            skew = 0.0
        else:
            # Each line is cut out along its own box and straightened, so a skewed page needs
            # no second detection either; only the reading order needs the boxes levelled.
            upright = [_level(box, skew, (w, h) if rotation in (0, 180) else (h, w))
                       for box in upright]
        lines = []
        for i, (box, turned_box) in enumerate(zip(boxes, upright, strict=True)):
            reading = known.get(i)
            if reading is None:
                reading = self._recognise(ocr, _turned(_crop_box(bgr, box), rotation))
            lines.append(Line(turned_box, *reading))
        if vertical:
            lines = self._column_marks(ocr, bgr, boxes, lines)
        return lines, rotation, round(skew, 2), vertical

    @staticmethod
    def _column_marks(ocr: Models, bgr: np.ndarray, boxes: list[np.ndarray],
                      lines: list[Line]) -> list[Line]:
        """The columns of vertical writing with the punctuation their reading on its side
        lost (`column_marks`): each column is also read upright, its characters cut apart
        and laid side by side (as `_vertical_writing` samples them), all in one batch."""
        todo: list[int] = []
        strips: list[np.ndarray] = []
        for i, box in enumerate(boxes):
            if box_elongation(box) < ELONGATED or abs(box_angle(box)) < 45.0:
                continue
            crop = _crop_box(bgr, box)
            pieces = _characters(crop, limit=None)
            # a piece taller than the column is wide: strokes that run on, not characters
            if len(pieces) >= 2 and max(len(piece) for piece in pieces) <= 1.5 * crop.shape[1]:
                todo.append(i)
                strips.append(_side_by_side(pieces))
        readings = [ocr.recognise([strip])[0] for strip in strips]  # one by one: a batch
        # of wide strips costs no less and holds several times the memory
        out = list(lines)
        for i, (text, score) in zip(todo, readings, strict=True):
            line = lines[i]
            out[i] = Line(line.box, column_marks(line.text, text, score), line.score)
        return out


def _level(box: np.ndarray, degrees: float, size: tuple[int, int]) -> np.ndarray:
    """Box corners turned clockwise by a small angle about the page centre (as `_deskew`)."""
    w, h = size
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -degrees, 1.0)
    pts = np.asarray(box, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another C library)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_trim = _malloc_trim()


def release_memory() -> None:
    """Give the memory freed after a page back to the system (glibc's malloc_trim).

    A page's working memory (the detector's activations, crops, the page array: some 300
    MiB for a 1280 px detection) is freed when the page is done, but glibc keeps freed
    blocks in its heaps for reuse, and once a large block has been freed it serves later
    large requests from the heap too (its mmap threshold rises): without this a worker
    holds its largest page's memory for good (measured: 410 MiB after a few pages, 170 MiB
    with the models alone; bench/ocr_memory.py). Costs about a millisecond. A no-op where
    the C library is not glibc.
    """
    if _trim is not None:
        _trim(0)


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def get_engine() -> OcrEngine:
    """The process-wide engine (models load on its first page)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared


# --- files --------------------------------------------------------------------------------

# PDFium is not thread-safe: every pypdfium2 call goes through this lock.
_pdfium_lock = threading.Lock()


def is_pdf(path: str | Path) -> bool:
    """Whether the file starts with the %PDF- magic (within the first 1024 bytes, as
    readers tolerate)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return b"%PDF-" in head


def pdf_page_count(path: str | Path) -> int:
    import pypdfium2 as pdfium

    with _pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError) as exc:
            name = Path(path).name
            raise OcrInputError(f"无法打开 PDF 文件（文件损坏或已加密）：{name}") from exc
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_pdf_page(path: str | Path, page_no: int, dpi: int = 200) -> Image.Image:
    """Page `page_no` (from 1) as an RGB image at `dpi`, at most RENDER_MAX_SIDE px long."""
    import pypdfium2 as pdfium

    name = Path(path).name
    with _pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError) as exc:
            raise OcrInputError(f"无法打开 PDF 文件（文件损坏或已加密）：{name}") from exc
        try:
            count = len(pdf)
            if not 1 <= page_no <= count:
                raise OcrInputError(f"PDF 文件没有第 {page_no} 页（共 {count} 页）：{name}")
            page = pdf[page_no - 1]
            try:
                width, height = page.get_size()
                scale = dpi / 72
                longest = max(width, height) * scale
                if longest > RENDER_MAX_SIDE:
                    scale *= RENDER_MAX_SIDE / longest
                bitmap = page.render(scale=scale)  # honours the page's /Rotate
                try:
                    return bitmap.to_pil().convert("RGB")  # a copy, independent of bitmap
                finally:
                    bitmap.close()
            except pdfium.PdfiumError as exc:
                raise OcrInputError(f"PDF 文件第 {page_no} 页无法渲染：{name}") from exc
            finally:
                page.close()
        finally:
            pdf.close()


def image_page_count(path: str | Path) -> int:
    """Pages of an image file: the frames of a multi-page TIFF (faxes, document feeders),
    else 1 (an animated GIF is not a document)."""
    try:
        with Image.open(path) as image:
            return max(1, getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        return 1  # unreadable: reading page 1 will say why


def seek_page(image: Image.Image, page_no: int, name: str) -> None:
    """Go to page `page_no` (1-based) of an opened image file."""
    if page_no == 1:
        return
    if image.format != "TIFF" or page_no > getattr(image, "n_frames", 1):
        raise OcrInputError(f"图片文件没有第 {page_no} 页：{name}")
    image.seek(page_no - 1)


def open_page_image(path: str | Path, page_no: int = 1) -> Image.Image:
    """Page `page_no` of an image file (a multi-page TIFF has several) or a PDF, as an
    upright RGB image (EXIF orientation applied)."""
    path = Path(path)
    if not path.is_file():
        raise OcrInputError(f"文件不存在或不是普通文件：{path.name}")
    if is_pdf(path):
        return render_pdf_page(path, page_no)
    decodelimits.pillow_limits()
    try:
        with Image.open(path) as image:
            seek_page(image, page_no, path.name)
            longest = max(image.size)
            if image.format == "JPEG" and longest > PHOTO_SIDE:
                # decode large photos at 1/2, 1/4 or 1/8 scale, never below PHOTO_SIDE
                scale = PHOTO_SIDE / longest
                image.draft(None, (math.ceil(image.width * scale),
                                   math.ceil(image.height * scale)))
            if image.width * image.height > MAX_PIXELS:
                raise OcrInputError(f"图片尺寸过大（{image.width}×{image.height}），"
                                    f"无法处理：{path.name}")
            upright = ImageOps.exif_transpose(image)
            return to_rgb(upright).copy()
    except UnidentifiedImageError as exc:
        raise OcrInputError(f"无法识别的文件格式（请上传常见图片或 PDF）：{path.name}") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise OcrInputError(f"图片尺寸过大，无法处理：{path.name}") from exc
    except (OSError, SyntaxError, ValueError, Warning) as exc:
        # Pillow warns about some corrupt files (errors where warnings are made errors)
        raise OcrInputError(f"图片文件已损坏或不完整：{path.name}") from exc


# --- command line -------------------------------------------------------------------------


def _page_numbers(path: str) -> range:
    name = Path(path).name
    if not Path(path).is_file():
        raise OcrInputError(f"文件不存在或不是普通文件：{name}")
    if not is_pdf(path):
        return range(1, image_page_count(path) + 1)
    count = pdf_page_count(path)
    if count == 0:
        raise OcrInputError(f"PDF 文件没有任何页面：{name}")
    return range(1, count + 1)


def cli_main(paths: list[str], out: TextIO) -> int:
    """`intake ocr FILE...`: one JSON line per image or PDF page; 1 if any file failed."""
    quiet_rapidocr()
    engine = get_engine()
    failed = False

    def emit(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()

    def emit_error(path: str, page_no: int, message: str) -> None:
        emit({"file": path, "page": page_no, "text": "", "confidence": 0, "seconds": 0.0,
              "error": message})

    for path in paths:
        try:
            pages = _page_numbers(path)
        except OcrInputError as exc:
            emit_error(path, 1, str(exc))
            failed = True
            continue
        for page_no in pages:
            try:
                result = engine.read_image(open_page_image(path, page_no))
            except OcrInputError as exc:
                emit_error(path, page_no, str(exc))
                failed = True
                continue
            except Exception as exc:
                log.exception("OCR failed on %s page %d", path, page_no)
                emit_error(path, page_no, f"文字识别失败：{type(exc).__name__}")
                failed = True
                continue
            emit({"file": path, "page": page_no, "text": result.text,
                  "confidence": round(result.confidence, 4),
                  "seconds": round(result.seconds, 3)})
    return 1 if failed else 0
