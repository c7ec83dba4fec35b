"""The queue's search box in a real headless Chromium against the real server: a triager types
a name, the queue keeps the items that carry it (in the text or in a message), and each shows
its passage with the name highlighted. A screenshot is left at /tmp/search-page.png."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intake.desk import Desk
from intake.pipeline import add_reporter_message_to, ingest
from tests.channels.conftest import CHROMIUM
from tests.support import make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
SHOT = Path("/tmp/search-page.png")
NAME = "黎光耀"


def test_a_name_typed_in_the_search_box_is_found_and_highlighted(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    start = datetime(2026, 3, 5, 1, tzinfo=UTC)
    called = ingest(desk, make_submission(
        channel="hotline", received_at=start,
        text=f"来电反映：东岭村村主任{NAME}在危房改造中优亲厚友，群众意见很大。")).submission_id
    written = ingest(desk, make_submission(
        received_at=start + timedelta(days=1), text="西坡村的账目三年没有公开。")).submission_id
    add_reporter_message_to(desk, written, f"补充：村会计是{NAME}的侄子。")
    ingest(desk, make_submission(received_at=start + timedelta(days=2),
                                 text="镇财政所王刚虚报冒领补贴。"))

    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    page.wait_for_load_state()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)
    box = page.get_by_label("检索")
    expect(box).to_be_visible()
    box.click()
    expect(box).to_be_focused()
    page.keyboard.type(NAME[1:])  # the given name alone: two characters
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(f"#{written}")
    expect(rows.nth(1)).to_contain_text(f"#{called}")
    marks = page.locator("td.excerpt p.passage mark")
    expect(marks).to_have_count(2)
    expect(marks.nth(0)).to_have_text(NAME[1:])
    expect(rows.nth(0).locator("p.passage")).to_contain_text("留言：补充：村会计是黎光耀的侄子")
    expect(rows.nth(1).locator("p.passage")).to_contain_text("内容：")
    expect(page.get_by_label("检索")).to_have_value(NAME[1:])
    page.screenshot(path=str(SHOT), full_page=True)
    assert problems == []
