"""The 统计 page in a real headless Chromium against the real server: as a team leader and as
the office (巡察办), the charts are drawn (each SVG image loaded with a width) and the tables
under them name every code in Chinese; 下载 Excel returns the workbook. A screenshot is left at
/tmp/stats-page.png."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from intake import leads
from intake.desk import Desk
from intake.pipeline import ingest
from intake.staff import create_user
from intake.store import models as m
from intake.triage import Actor
from tests.channels.conftest import CHROMIUM
from tests.support import STAFF_PASSWORD, make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
SHOT = Path("/tmp/stats-page.png")
TEXTS = [
    ("web", "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"),
    ("email", "镇财政所王刚虚报冒领补贴，账目不公开。"),
    ("hotline", "工地老板欠我三个月工资不给，找了好几次都没用。"),
    ("letter", "南河村党总支书记马德才在修村道时让自己的小舅子承包工程，工程质量很差。"),
]


def charts_drawn(page: Page) -> int:
    """Scroll each chart into view (they load lazily) and wait until every one has loaded
    with a width; the number of charts."""
    images = page.locator(".stats-chart img")
    count = images.count()
    for i in range(count):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=image.element_handle())
    return count


def test_the_stats_page_draws_its_charts_for_a_leader_and_the_office(
    new_context: Callable[..., Any], desk: Desk, tmp_path: Path
) -> None:
    start = datetime(2026, 3, 5, 1, tzinfo=UTC)
    ids = [ingest(desk, make_submission(channel=channel, text=text,
                                        received_at=start + timedelta(days=i))).submission_id
           for i, (channel, text) in enumerate(TEXTS)]
    create_user(desk, "chengban", "triager", password=STAFF_PASSWORD)
    with desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "chengban"))
        triager = Actor(user.id, user.username, user.role)
    leads.accept(desk, triager, ids[0], keeper="chengban")
    leads.transfer(desk, triager, ids[2], department="human_resources")

    page: Page = new_context(**DESKTOP, accept_downloads=True).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    page.get_by_role("link", name="统计").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text("受理统计")
    assert charts_drawn(page) >= 10
    tables = page.locator("table.stats")
    for name in ("网络举报", "电子邮箱", "值班电话", "来信", "待研判", "已受理", "已转办",
                 "群众纪律", "下级主要负责人", "青山镇东岭村", "匿名"):
        expect(tables.filter(has_text=name).first).to_be_visible()
    expect(page.locator("ul.stats-figures")).to_contain_text("受理为线索")
    page.screenshot(path=str(SHOT), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Excel").click()
    saved = tmp_path / "stats.xlsx"
    download.value.save_as(saved)
    book = load_workbook(saved)
    assert book.sheetnames[0] == "汇总" and "按受理渠道" in book.sheetnames
    assert problems == []

    office: Page = new_context(**DESKTOP).new_page()
    problems = watch(office)
    log_in(office, desk, "xunchaban", "office")
    office.wait_for_load_state()
    office.goto("/staff/stats")  # the office's landing page too
    office.wait_for_load_state()
    expect(office.locator(".stats-scope")).to_contain_text("全部巡察组")
    assert charts_drawn(office) >= 10
    expect(office.locator("table.stats").filter(has_text="网络举报").first).to_be_visible()
    assert "刘德福" not in office.content()
    assert problems == []
