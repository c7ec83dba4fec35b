"""Page layout for OCR: which text boxes form a block, and the order blocks are read in.

A recursive XY-cut on the boxes' extents (in the upright, levelled frame of the page):

1. The region is cut into horizontal bands wherever no box spans a gap in y.
2. Runs of consecutive bands that share a vertical gutter (an x-range free of boxes in
   every band of the run, at least MIN_GUTTER line heights wide) are candidate columns,
   the longest run first. A cut is made there only when every side reads as running text:
   at least MIN_COLUMN line heights wide, at least two rows, and most of its rows one run
   of text from margin to margin (wrapped at the column's edge). Tables and forms, whose
   rows are several cells, and a signature set apart on the right of a letter stay rows.
3. The columns of a cut are read left to right, each cut again (nested columns); bands
   outside any run are read as one block, top to bottom, as before: a title or header over
   the columns comes first, a footer last.

Within a block the OCR module joins fragments into rows and rows into paragraphs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_GUTTER = 0.8  # line heights: narrower gaps are spaces within a line
MIN_COLUMN = 8.0  # line heights: a narrower side is a table cell or a label, not a column
MIN_FULL = 0.6  # share of a column's rows (the last aside) that reach its right margin
FULL_SLACK = 2.5  # line heights a wrapped row may stop short of the margin (kinsoku)
INDENT_SLACK = 3.0  # line heights a wrapped row may start right of the margin (indent)


@dataclass(frozen=True)
class Extent:
    """The axis-aligned bounds of one text box."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


def extent(box: Sequence[Sequence[float]]) -> Extent:
    """The bounds of a box given as corner points (x, y)."""
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    return Extent(min(xs), min(ys), max(xs), max(ys))


def blocks(extents: Sequence[Extent]) -> list[list[int]]:
    """Indices of the boxes, grouped into blocks in reading order (see the module's
    docstring); every index appears in exactly one block."""
    if not extents:
        return []
    height = statistics.median(max(e.height, 1.0) for e in extents)
    return _cut(extents, list(range(len(extents))), height)


def _cut(extents: Sequence[Extent], members: list[int], height: float) -> list[list[int]]:
    bands = _bands(extents, members)
    out: list[list[int]] = []
    single: list[int] = []
    i = 0
    while i < len(bands):
        found = _columns(extents, bands, i, height)
        if found is None:
            single += bands[i]
            i += 1
            continue
        end, columns = found
        if single:
            out.append(single)
            single = []
        for members_of_column in columns:
            out += _cut(extents, members_of_column, height)
        i = end
    if single:
        out.append(single)
    return out


def _bands(extents: Sequence[Extent], members: list[int]) -> list[list[int]]:
    """The members split at every horizontal gap, top to bottom."""
    ordered = sorted(members, key=lambda k: extents[k].top)
    bands: list[list[int]] = []
    bottom = float("-inf")
    for k in ordered:
        if not bands or extents[k].top > bottom:
            bands.append([k])
            bottom = extents[k].bottom
        else:
            bands[-1].append(k)
            bottom = max(bottom, extents[k].bottom)
    return bands


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]], width: float
               ) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi - lo >= width:
                out.append((lo, hi))
    return out


def _columns(extents: Sequence[Extent], bands: list[list[int]], start: int, height: float
             ) -> tuple[int, list[list[int]]] | None:
    """The longest run of bands from `start` that splits into text columns: (end of the
    run, the members of each column left to right), or None."""
    width = MIN_GUTTER * height
    members = [k for band in bands for k in band]
    region = (min(extents[k].left for k in members), max(extents[k].right for k in members))
    candidates: list[tuple[int, list[tuple[float, float]]]] = []
    gutters = _free(extents, bands[start], *region, width)
    end = start + 1
    while gutters:
        candidates.append((end, gutters))
        if end == len(bands):
            break
        gutters = _intersect(gutters, _free(extents, bands[end], *region, width), width)
        end += 1
    tested: list[list[tuple[float, float]]] = []
    for run_end, run_gutters in reversed(candidates):
        # a shorter run with the same gutters rarely differs: testing only the longest
        # keeps a long table (gutters all the way down) from costing n^3
        if run_gutters in tested:
            continue
        tested.append(run_gutters)
        run = [k for band in bands[start:run_end] for k in band]
        for cut in _cuts(run_gutters):
            parts = _parts(extents, run, cut)
            if all(_is_text_column(extents, part, height) for part in parts):
                return run_end, parts
    return None


def _cuts(gutters: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Ways to cut at the gutters: all of them (three or more columns), then each alone,
    widest first."""
    single = [[g] for g in sorted(gutters, key=lambda g: g[0] - g[1])]
    return [sorted(gutters), *single] if len(gutters) > 1 else single


def _parts(extents: Sequence[Extent], run: list[int], cut: list[tuple[float, float]]
           ) -> list[list[int]]:
    """The run's members between the gutters of `cut`, left to right."""
    edges = [x0 for x0, _ in cut] + [float("inf")]
    parts: list[list[int]] = [[] for _ in edges]
    for k in run:
        parts[next(n for n, edge in enumerate(edges) if extents[k].right <= edge)].append(k)
    return parts


def _free(extents: Sequence[Extent], band: list[int], left: float, right: float,
          width: float) -> list[tuple[float, float]]:
    """The x-ranges of [left, right] not covered by the band's boxes, edges included."""
    spans = sorted((extents[k].left, extents[k].right) for k in band)
    out = []
    reach = left
    for lo, hi in spans:
        if lo - reach >= width:
            out.append((reach, lo))
        reach = max(reach, hi)
    if right - reach >= width:
        out.append((reach, right))
    return out


def _rows(extents: Sequence[Extent], members: list[int]) -> list[tuple[Extent, float]]:
    """The members' rows (boxes overlapping vertically by half the smaller height), each
    as the bounds of its boxes and the widest gap between them."""
    groups: list[list[Extent]] = []
    top = bottom = 0.0
    for k in sorted(members, key=lambda k: (extents[k].top + extents[k].bottom) / 2):
        e = extents[k]
        if groups:
            overlap = min(e.bottom, bottom) - max(e.top, top)
            if overlap >= 0.5 * max(min(e.height, bottom - top), 1.0):
                groups[-1].append(e)
                top, bottom = min(top, e.top), max(bottom, e.bottom)
                continue
        groups.append([e])
        top, bottom = e.top, e.bottom
    rows = []
    for group in groups:
        spans = sorted((g.left, g.right) for g in group)
        gap, reach = 0.0, spans[0][1]
        for left, right in spans[1:]:
            gap = max(gap, left - reach)
            reach = max(reach, right)
        rows.append((Extent(spans[0][0], min(g.top for g in group), reach,
                            max(g.bottom for g in group)), gap))
    return rows


def _is_text_column(extents: Sequence[Extent], members: list[int], height: float) -> bool:
    """Whether the boxes read as running text wrapped at a column's margins: most rows
    are one run of text (no gap as wide as a gutter) from margin to margin."""
    if not members:
        return False
    rows = _rows(extents, members)
    if len(rows) < 2:
        return False
    left = min(r.left for r, _ in rows)
    right = max(r.right for r, _ in rows)
    if right - left < MIN_COLUMN * height:
        return False
    full = sum(1 for r, gap in rows[:-1]
               if r.right >= right - FULL_SLACK * height
               and r.left <= left + INDENT_SLACK * height
               and gap < MIN_GUTTER * height)
    return full >= max(1.0, MIN_FULL * (len(rows) - 1))
