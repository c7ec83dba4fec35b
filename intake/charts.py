"""Charts of the statistics (统计图) a leader pastes into a report: counts in, SVG or PNG bytes out.

Pure: no database and no request; the 统计 page serves them (SVG on the page, PNG to download)
and the weekly report can embed the same PNGs. Drawn server-side with matplotlib (Agg, no
display, nothing fetched) in a Chinese font of the system, as the PDFs use
(intake.publication.find_font: the `pdf_font` setting, else Noto CJK …); without one a
FontMissingError says what to install. SVG text is drawn as outlines, so a browser without
the font shows the same picture.

A count per category is a horizontal bar chart (long Chinese names stay readable), largest
first as counted; a count per day is a bar chart over every day from the first to the last
(days without items shown as 0).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything draws: no display, no GUI toolkit

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from intake.publication import FontMissingError, find_font
from intake.stats import fill_days

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
PNG_DPI = 200  # sharp when pasted into a Word report at full width
WIDTH_INCHES = 8.0
BAR_COLOR = "#a4262c"  # the pages' red
GRID_COLOR = "#dddddd"
TEXT_COLOR = "#222222"
# Sans faces first (a chart reads better in 黑体); then whatever find_font finds.
SANS_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei",
                 "WenQuanYi Micro Hei", "Droid Sans Fallback")
MAX_DAY_TICKS = 16
MAX_BARS = 20  # more categories than this: the 19 largest and one bar for the rest

# matplotlib's font cache and text layout are process-wide: one chart at a time.
_LOCK = threading.Lock()


class ChartError(ValueError):
    """A chart that cannot be drawn as asked (an unknown format)."""


@functools.lru_cache(maxsize=4)
def chart_font(configured: str = "") -> str:
    """The font family charts are drawn in: the configured font file (setting `pdf_font`),
    else a system sans CJK face, else the font the PDFs embed. FontMissingError when the
    system has no Chinese font at all."""
    if not configured:
        known = {entry.name for entry in font_manager.fontManager.ttflist}
        for family in SANS_FAMILIES:
            if family in known:
                return family
    font = find_font(configured)  # raises FontMissingError, naming what to install
    path = Path(font.path)
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    if not name:
        raise FontMissingError()
    return name


def bar_chart(title: str, rows: Sequence[tuple[str, int]], fmt: str, *,
              font: str = "", subtitle: str = "") -> bytes:
    """A horizontal bar chart of (name, count) rows, in their order from the top, each bar
    labelled with its count (beyond MAX_BARS rows, the largest and one bar 其余N项);
    `subtitle` (what was counted, when) in small print at the top right."""
    family = chart_font(font)
    if len(rows) > MAX_BARS:  # 200 rounds of an office: the largest, and the rest as one bar
        ranked = sorted(rows, key=lambda r: -r[1])
        rest = ranked[MAX_BARS - 1:]
        rows = [*ranked[: MAX_BARS - 1], (f"其余{len(rest)}项", sum(n for _, n in rest))]
    labels = [name for name, _ in rows]
    values = [n for _, n in rows]
    height = max(2.2, 0.8 + 0.38 * max(len(rows), 1))
    with _LOCK:
        figure = _figure(WIDTH_INCHES, height, family)
        axes = figure.subplots()
        if not rows:
            return _empty(figure, axes, title, subtitle, fmt)
        positions = list(range(len(rows)))
        bars = axes.barh(positions, values, color=BAR_COLOR, height=0.62)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()  # first row on top
        axes.bar_label(bars, labels=[str(v) for v in values], padding=3, fontsize=9,
                       color=TEXT_COLOR)
        top = max(values) if values else 0
        axes.set_xlim(0, max(1, top) * 1.12)
        axes.xaxis.get_major_locator().set_params(integer=True)
        _style(axes, title, subtitle, grid="x")
        return _save(figure, fmt)


def day_chart(title: str, days: dict[str, int], fmt: str, *, font: str = "",
              subtitle: str = "") -> bytes:
    """Items per day (`YYYY-MM-DD` → count), a bar for every day from the first to the last."""
    family = chart_font(font)
    series = fill_days(days)
    with _LOCK:
        figure = _figure(WIDTH_INCHES, 3.4, family)
        axes = figure.subplots()
        if not series:
            return _empty(figure, axes, title, subtitle, fmt)
        positions = list(range(len(series)))
        axes.bar(positions, [n for _, n in series], color=BAR_COLOR, width=0.75)
        step = max(1, -(-len(series) // MAX_DAY_TICKS))
        ticks = positions[::step]
        axes.set_xticks(ticks, [f"{series[i][0].month}月{series[i][0].day}日" for i in ticks],
                        rotation=45 if len(ticks) > 8 else 0,
                        ha="right" if len(ticks) > 8 else "center")
        axes.set_xlim(-0.6, len(series) - 0.4)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylabel("件数")
        _style(axes, title, subtitle, grid="y")
        return _save(figure, fmt)


def _figure(width: float, height: float, family: str) -> Figure:
    # Read when text is created, which happens under _LOCK with these values.
    for key, value in (("font.family", [family]), ("axes.unicode_minus", False),
                       ("svg.fonttype", "path"), ("svg.hashsalt", "intake")):
        matplotlib.rcParams[key] = value
    figure = Figure(figsize=(width, height), layout="constrained")
    figure.set_facecolor("white")
    return figure


def _titles(axes: Axes, title: str, subtitle: str) -> None:
    axes.set_title(title, fontsize=13, color=TEXT_COLOR, loc="left", pad=10)
    if subtitle:
        axes.set_title(subtitle, fontsize=8.5, color="#666666", loc="right", pad=12)


def _style(axes: Axes, title: str, subtitle: str, *, grid: str) -> None:
    _titles(axes, title, subtitle)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color("#888888")
    axes.spines["bottom"].set_color("#888888")
    axes.tick_params(colors=TEXT_COLOR, labelsize=10)
    axes.grid(axis=grid, color=GRID_COLOR, linewidth=0.8)
    axes.set_axisbelow(True)


def _empty(figure: Figure, axes: Axes, title: str, subtitle: str, fmt: str) -> bytes:
    axes.set_axis_off()
    _titles(axes, title, subtitle)
    axes.text(0.5, 0.5, "所选范围内没有来件", ha="center", va="center", fontsize=12,
              color="#666666", transform=axes.transAxes)
    return _save(figure, fmt)


def _save(figure: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ChartError(f"图片格式只有 {'、'.join(FORMATS)}。")
    out = io.BytesIO()
    # No creation date in the metadata: the same counts give the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    figure.savefig(out, format=fmt, dpi=PNG_DPI if fmt == "png" else 72, metadata=metadata)
    return out.getvalue()
