"""Reading order by layout (`intake.ocrlayout`): columns cut from synthetic text boxes."""

from __future__ import annotations

import time

import numpy as np

from intake import ocr
from intake.ocrlayout import Extent, blocks, extent

H = 30.0  # line height
STEP = 54.0  # line pitch


def rect(left: float, top: float, right: float, height: float = H) -> Extent:
    return Extent(left, top, right, top + height)


def order(extents: list[Extent]) -> list[list[int]]:
    return blocks(extents)


def column(left: float, right: float, top: float, n: int, first: int = 0,
           last_width: float = 0.4) -> list[Extent]:
    """n wrapped rows of a paragraph: indented first row, short last row."""
    out = []
    for i in range(n):
        x0 = left + (2 * H if i == first else 0)
        x1 = right - (i % 3) * 6  # a ragged right margin (kinsoku)
        if i == n - 1:
            x1 = left + (right - left) * last_width
        out.append(rect(x0, top + i * STEP, x1))
    return out


def test_two_columns_read_left_then_right() -> None:
    left = column(100, 560, 300, 12)
    right = column(680, 1140, 300, 12)
    extents = [e for pair in zip(left, right, strict=True) for e in pair]  # interleaved
    assert order(extents) == [list(range(0, 24, 2)), list(range(1, 24, 2))]


def test_staggered_columns_of_unequal_length() -> None:
    left = column(100, 560, 300, 14)
    right = column(680, 1140, 300 + STEP / 2, 6)  # half a row lower, shorter
    extents = right + left
    assert order(extents) == [list(range(6, 20)), list(range(6))]


def test_header_over_two_columns_comes_first_and_a_footer_last() -> None:
    header = [rect(300, 100, 940, 44), rect(450, 170, 790)]
    left = column(100, 560, 300, 10)
    right = column(680, 1140, 300, 9)
    footer = [rect(580, 1000, 660)]  # a page number under the gutter
    extents = footer + right + left + header
    got = order(extents)
    assert [sorted(b) for b in got] == [
        [20, 21], list(range(10, 20)), list(range(1, 10)), [0]]


def test_single_column_letter_with_indents_and_signature_is_one_block() -> None:
    title = [rect(400, 100, 840)]
    greeting = [rect(100, 180, 320)]
    body = column(100, 1140, 250, 8) + column(100, 1140, 250 + 8 * STEP, 5, last_width=0.1)
    signature = [rect(880, 1000, 1140), rect(900, 1054, 1140), rect(920, 1108, 1140)]
    extents = title + greeting + body + signature
    assert order(extents) == [list(range(len(extents)))]


def test_signature_beside_a_short_last_row_is_not_a_column() -> None:
    body = column(100, 1140, 100, 6, last_width=0.05)
    signature = [rect(800, 100 + 5 * STEP, 1140), rect(900, 100 + 6 * STEP, 1140)]
    assert len(order(body + signature)) == 1


def test_tables_stay_rows() -> None:
    # short cells in four columns: 序号 | 姓名 | 职务 | 金额
    table = []
    for r in range(8):
        y = 200 + r * STEP
        table += [rect(100, y, 150), rect(260, y, 360 + (r % 3) * 20),
                  rect(520, y, 640 + (r % 2) * 60), rect(980 - (r % 4) * 30, y, 1140)]
    assert len(order(table)) == 1
    # a form: a label column beside wrapped text
    form = []
    for r in range(6):
        y = 200 + r * STEP
        if r % 3 == 0:
            form.append(rect(100, y, 250))
        form.append(rect(300, y, 1140 if r % 3 != 2 else 700))
    assert len(order(form)) == 1


def test_three_columns_nest() -> None:
    cols = [column(x, x + 300, 200, 10) for x in (100, 470, 840)]
    extents = cols[2] + cols[0] + cols[1]
    assert order(extents) == [list(range(10, 20)), list(range(20, 30)), list(range(10))]


def test_every_box_once_and_degenerate_input() -> None:
    assert order([]) == []
    assert order([rect(10, 10, 20)]) == [[0]]
    rng = np.random.default_rng(3)
    extents = [rect(x, y, x + w) for x, y, w in rng.uniform([0, 0, 20], [1000, 1500, 600],
                                                            (150, 3))]
    got = order(extents)
    assert sorted(k for b in got for k in b) == list(range(150))


def test_a_long_table_is_ordered_quickly() -> None:
    table = [rect(100 + c * 260, 100 + r * STEP, 100 + c * 260 + 200 - (r * c) % 50)
             for r in range(80) for c in range(4)]
    start = time.process_time()  # CPU time: the machine may be busy with other work
    assert len(order(table)) == 1
    assert time.process_time() - start < 1.0


def test_extent_of_corner_points() -> None:
    assert extent(np.array([[5, 2], [40, 1], [41, 12], [6, 13]])) == Extent(5, 1, 41, 13)


def line(e: Extent, text: str) -> ocr.Line:
    box = np.array([[e.left, e.top], [e.right, e.top], [e.right, e.bottom],
                    [e.left, e.bottom]], dtype=np.float64)
    return ocr.Line(box, text, 0.99)


def test_page_paragraphs_reads_columns_as_paragraphs() -> None:
    lines = [
        line(rect(300, 100, 940), "巡察工作简报"),
        line(rect(100, 200, 560), "左栏第一行没有"), line(rect(680, 200, 1140), "右栏第一行没有"),
        line(rect(100, 254, 560), "写完接着写。"), line(rect(680, 254, 1140), "写完也接着写"),
        line(rect(100, 308, 300), "左栏结尾。"), line(rect(680, 308, 900), "右栏结尾。"),
    ]
    assert ocr.page_paragraphs(lines) == [
        "巡察工作简报", "左栏第一行没有写完接着写。", "左栏结尾。",
        "右栏第一行没有写完也接着写右栏结尾。"]
