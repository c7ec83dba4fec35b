"""The weekly report (周报) and the closing appendices from the ledger page in a real headless
Chromium against the real server: the week picker comes filled with last week, a week typed
in downloads that week's report, and the appendix links download Word documents."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from intake.desk import Desk
from intake.pipeline import ingest
from intake.reports import last_week
from intake.workdays import CHINA
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


def test_the_ledger_page_downloads_the_weekly_report_and_the_appendices(
    new_context: Callable[..., Any], desk: Desk, tmp_path: Path
) -> None:
    ingest(desk, make_submission(received_at=datetime(2026, 3, 10, 1, tzinfo=UTC)))
    page: Page = new_context(**DESKTOP, accept_downloads=True).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    page.get_by_role("link", name="线索台账").click()
    page.wait_for_load_state()
    week = page.get_by_label("周报周次")
    expect(week).to_have_value(last_week(datetime.now(CHINA), CHINA).label)
    week.fill("2026-W11")
    with page.expect_download() as caught:
        page.get_by_role("button", name="下载周报").click()
    assert caught.value.suggested_filename.endswith("信访举报受理情况周报-2026-W11.docx")
    saved = tmp_path / "weekly.docx"
    caught.value.save_as(saved)
    text = [p.text for p in Document(str(saved)).paragraphs]
    assert "（第2周）" in text
    assert any(line.startswith("本周共受理信访举报1件") for line in text)
    for name in ("信访举报受理情况统计表", "问题线索移交清单", "转办情况一览表"):
        with page.expect_download() as caught:
            page.get_by_role("link", name=name).click()
        assert caught.value.suggested_filename.endswith(f"{name}.docx")
        content = Path(caught.value.path()).read_bytes()
        assert name in [p.text for p in Document(io.BytesIO(content)).paragraphs]
    assert problems == []
