"""The ledger page (线索台账) in a real headless Chromium against the real server: the table
shows the round's items with their numbers and keepers, the overdue filter works, the
下载 Excel button returns the workbook, and the team leader makes a handover bundle that opens
with the password shown. Screenshots are left at /tmp/ledger-page.png and
/tmp/handover-page.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from openpyxl import load_workbook
from sqlalchemy import select

from intake import leads
from intake.desk import Desk
from intake.handover import LEDGER_NAME
from intake.ledger import HEADER_ROW, LEDGER_COLUMNS, LEDGER_SHEET
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
SHOT = Path("/tmp/ledger-page.png")
TEXTS = [
    "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。",
    "镇财政所王刚虚报冒领补贴，账目不公开。",
    "工地老板欠我三个月工资不给，找了好几次都没用。",
    "南河村党总支书记马德才在修村道时让自己的小舅子承包工程，工程质量很差。",
]


def test_the_ledger_page_shows_the_table_and_downloads_the_workbook(
    new_context: Callable[..., Any], desk: Desk, tmp_path: Path
) -> None:
    start = datetime(2026, 3, 5, 1, tzinfo=UTC)  # long ago: the open ones are overdue
    ids = [ingest(desk, make_submission(text=text, received_at=start + timedelta(days=i)))
           .submission_id for i, text in enumerate(TEXTS)]
    create_user(desk, "chengban", "triager", password=STAFF_PASSWORD)
    with desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "chengban"))
        triager = Actor(user.id, user.username, user.role)
    number = leads.accept(desk, triager, ids[0], keeper="chengban")
    leads.close(desk, triager, ids[0], disposal="preliminary_check")
    leads.accept(desk, triager, ids[1], keeper="chengban")
    leads.transfer(desk, triager, ids[2], department="human_resources")

    page: Page = new_context(**DESKTOP, accept_downloads=True).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    page.get_by_role("link", name="线索台账").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text("线索台账")
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(len(TEXTS))
    expect(rows.nth(0)).to_contain_text(number)
    expect(rows.nth(0)).to_contain_text("chengban")
    expect(rows.nth(0)).to_contain_text("初步核实")
    expect(rows.nth(2)).to_contain_text("青山巡转〔2026〕1号")
    expect(page.locator("ul.ledger-counts")).to_contain_text("受理为线索")
    expect(page.get_by_role("link", name="生成移交包")).to_be_visible()
    page.screenshot(path=str(SHOT), full_page=True)

    page.get_by_label("只看超期").check()
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    expect(rows).to_have_count(len(TEXTS) - 1)  # all but the closed lead are late
    expect(page.locator("table.ledger")).not_to_contain_text(number)

    with page.expect_download() as caught:
        page.get_by_role("link", name="下载 Excel").click()
    download = caught.value
    assert download.suggested_filename.endswith(".xlsx")
    assert "问题线索台账" in download.suggested_filename
    saved = tmp_path / "ledger.xlsx"
    download.save_as(saved)
    sheet = load_workbook(saved)[LEDGER_SHEET]
    assert [c.value for c in sheet[HEADER_ROW]] == list(LEDGER_COLUMNS)
    assert sheet.cell(row=HEADER_ROW + 1, column=2).value == number
    assert sheet.max_row == HEADER_ROW + len(TEXTS)

    # the team leader's handover bundle: the password once, the archive once
    page.get_by_role("link", name="生成移交包").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="生成移交包").click()
    page.wait_for_load_state()
    password = page.locator("#bundle-password").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{5}(?:-[2-9A-Z]{5}){3}", password)
    page.screenshot(path=str(SHOT.with_name("handover-page.png")), full_page=True)
    with page.expect_download() as caught:
        page.get_by_role("link", name="下载移交包").click()
    bundle = tmp_path / "bundle.zip"
    caught.value.save_as(bundle)
    with pyzipper.AESZipFile(bundle) as archive:
        archive.setpassword(password.encode())
        folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        assert archive.read(LEDGER_NAME)[:2] == b"PK"
    assert folders == {f"001_{number}", "002_青山巡线〔2026〕002号", "003_青山巡转〔2026〕1号"}
    assert problems == []
