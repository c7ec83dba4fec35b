"""intake.charts: counts in, SVG or PNG bytes out (parsed back), days filled, many categories
folded into one bar."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import pytest
from PIL import Image

from intake import charts
from intake.publication import FontMissingError
from intake.stats import fill_days

try:
    charts.chart_font()
except FontMissingError:
    pytest.skip("no Chinese font on this system", allow_module_level=True)


def test_a_bar_chart_as_svg_and_png() -> None:
    rows = [("网络举报", 12), ("值班电话", 5), ("来信", 0)]
    svg = ElementTree.fromstring(charts.bar_chart("按受理渠道", rows, "svg", subtitle="青山镇"))
    assert svg.tag.endswith("svg") and len(list(svg.iter())) > 20
    png = Image.open(io.BytesIO(charts.bar_chart("按受理渠道", rows, "png")))
    assert png.format == "PNG" and png.size[0] == 8 * charts.PNG_DPI
    # the same counts, the same bytes (nothing of the time in the file)
    again = charts.bar_chart("按受理渠道", rows, "svg")
    assert again == charts.bar_chart("按受理渠道", rows, "svg")


def test_empty_counts_and_many_categories_still_draw() -> None:
    assert Image.open(io.BytesIO(charts.bar_chart("按去向", [], "png"))).format == "PNG"
    assert Image.open(io.BytesIO(charts.day_chart("按收到日期", {}, "png"))).format == "PNG"
    many = [(f"第{i}轮", 300 - i) for i in range(200)]
    tall = Image.open(io.BytesIO(charts.bar_chart("按巡察轮次", many, "png")))
    assert tall.size[1] < 12 * charts.PNG_DPI  # twenty bars, not two hundred
    with pytest.raises(charts.ChartError):
        charts.bar_chart("按受理渠道", [("来信", 1)], "gif")


def test_days_are_filled_from_the_first_to_the_last() -> None:
    filled = fill_days({"2026-03-10": 2, "2026-03-13": 1})
    assert [(d.isoformat(), n) for d, n in filled] == [
        ("2026-03-10", 2), ("2026-03-11", 0), ("2026-03-12", 0), ("2026-03-13", 1)]
    assert fill_days({}) == []
