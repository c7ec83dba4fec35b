"""The case after triage in a real headless Chromium against the real server: a triager opens
an item, accepts it as a lead with Shift+A and a keeper and sees its number; transfers
another to 人社局 with Shift+T and lands on the transfer page; records the body's acceptance
there from the keyboard (R, Ctrl+Enter) and sees the clock met. Screenshots of the item
page's 办理 panel, wide and on a phone, are left in /tmp (casework.png, casework-narrow.png)
for a human look."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from intake.desk import Desk
from intake.pipeline import ingest
from intake.staff import create_user
from intake.store import models as m
from tests.channels.conftest import CHROMIUM
from tests.support import make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, PHONE, SHOTS, STAFF_PASSWORD, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
LEAD_TEXT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"
WAGES = "我在县城工地干了三个月，老板拖欠工资两万元不给，请帮忙讨薪。"


def test_triager_accepts_a_lead_and_transfers_an_item_from_the_keyboard(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    received = m.utcnow() - timedelta(days=2)
    lead_id = ingest(desk, make_submission(text=LEAD_TEXT, received_at=received)).submission_id
    wages_id = ingest(desk, make_submission(text=WAGES, received_at=received)).submission_id
    create_user(desk, "chengban", "triager", password=STAFF_PASSWORD)

    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    expect(page).to_have_url(re.compile(r"/staff/\??$"))
    page.goto(f"/staff/items/{lead_id}")
    page.wait_for_load_state()
    expect(page.locator("#casework")).to_contain_text("受理为线索")
    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_contain_text("Shift+A")
    expect(page.locator("#keys-help")).to_contain_text("受理为线索")
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()

    # Shift+A opens 受理为线索 with the keeper select focused (the viewer chosen first).
    page.keyboard.press("Shift+A")
    keeper = page.locator("#cw-accept select[name=keeper]")
    expect(keeper).to_be_focused()
    expect(keeper).to_have_value("yanpan")
    keeper.select_option("chengban")
    page.keyboard.press("Tab")
    expect(page.locator("#cw-accept input[name=note]")).to_be_focused()
    page.keyboard.type("线索具体，可查")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已受理为线索")
    expect(page.locator("#lead-number")).to_have_text("青山巡线〔2026〕001号")
    expect(page.locator("#lead-keeper")).to_contain_text("chengban")
    expect(page.locator("#case-steps")).to_contain_text("说明：线索具体，可查")
    expect(page.locator("#cw-accept")).to_have_count(0)

    # Shift+T: transfer the wage claim to 人社局; Ctrl+Enter sends it, the transfer page opens.
    page.goto(f"/staff/items/{wages_id}")
    page.wait_for_load_state()
    page.keyboard.press("Shift+T")
    department = page.locator("#cw-transfer select[name=department]")
    expect(department).to_be_focused()
    department.select_option("human_resources")
    page.locator("#cw-transfer textarea[name=note]").fill("请依法处理，并反馈受理情况。")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/staff/transfers/\d+$"))
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已转办")
    expect(page.locator("#transfer-number")).to_have_text("青山巡转〔2026〕1号")
    expect(page.locator("#transfer-body")).to_contain_text("人社局")
    expect(page.locator("#transfer-status")).to_have_text("已转出，待受理")
    expect(page.locator("#clock-1")).to_contain_text("计时中")
    expect(page.get_by_role("link", name="下载转办函 (Word)")).to_have_attribute(
        "href", re.compile(r"/staff/transfers/\d+/letter\.docx$"))

    # The body's acceptance, recorded now: the acceptance clock is met.
    reply = page.locator("#reply-form")
    page.keyboard.press("r")  # the cursor in 登记答复, on the kind chosen for it
    accepted = reply.locator("input[name=kind][value=accepted]")
    expect(accepted).to_be_checked()
    expect(accepted).to_be_focused()
    reply.locator("textarea[name=text]").fill("已收到，正在核查。")
    page.keyboard.press("Control+Enter")
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已登记答复：受理。")
    expect(page.locator("#transfer-status")).to_have_text("已受理，待反馈结果")
    expect(page.locator("#clock-1")).to_contain_text("已按期")
    expect(page.locator("#replies")).to_contain_text("已收到，正在核查。")

    # Back on the item: the transfer with its clocks in the panel.
    page.get_by_role("link", name=re.compile(rf"#{wages_id}")).click()
    page.wait_for_load_state()
    panel = page.locator("#casework")
    expect(panel).to_contain_text("青山巡转〔2026〕1号")
    expect(panel.locator(".clock.met")).to_contain_text("已按期")
    panel.screenshot(path="/tmp/casework.png")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "casework_item.png"), full_page=True)
    assert problems == []

    with desk.sessions() as db:
        lead = db.scalar(select(m.Lead))
        keeper_id = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "chengban"))
        transfer = db.scalar(select(m.Transfer))
    assert lead is not None and lead.submission_id == lead_id and lead.keeper_id == keeper_id
    assert transfer is not None and transfer.status == "accepted"
    assert transfer.department == "human_resources"

    # On a phone: the panel below the item, nothing wider than the screen.
    phone = new_context(**PHONE).new_page()
    log_in(phone, desk, "zuzhang", "team_leader")
    phone.goto(f"/staff/items/{lead_id}")
    phone.wait_for_load_state()
    phone.locator("#cw-close summary").click()
    wide = phone.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, wide
    phone.locator("#casework").screenshot(path="/tmp/casework-narrow.png")
    phone.goto(f"/staff/transfers/{transfer.id}")
    phone.wait_for_load_state()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "casework_transfer_phone.png"), full_page=True)
