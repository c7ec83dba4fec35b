"""超期督办 and the call list in a real headless Chromium: a team leader finds an item left
untouched over National Day among the overdue ones and a late transfer, reminds the body with
the 督办 button, then reveals a caller's number with a reason and marks the call answered.
Screenshots: /tmp/overdue.png and /tmp/shots/calls.png, for a human look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from intake import leads
from intake.desk import Desk
from intake.pipeline import ingest
from intake.protect import Identity
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

from tests.channels.test_browser import DESKTOP, SHOTS, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
CST = timezone(timedelta(hours=8))
CALLER = Identity(name="欧阳明远", phone="13912345678")


def test_a_leader_works_through_the_overdue_page_and_the_call_list(
    new_context: Callable[..., Any], desk: Desk, app: Flask
) -> None:
    app.extensions["clock"] = lambda: datetime(2026, 10, 26, 9, tzinfo=CST)
    keeper, _ = create_user(desk, "yanpan", "triager", password=STAFF_PASSWORD)
    actor = Actor(keeper.id, keeper.username, keeper.role)
    untouched = ingest(desk, make_submission(
        received_at=datetime(2026, 9, 28, 10, tzinfo=CST),
        text="东岭村文书把集体土地租金存进个人账户。")).submission_id
    sent = ingest(desk, make_submission(
        received_at=datetime(2026, 10, 9, 10, tzinfo=CST),
        text="青山镇卫生院采购药品吃回扣。")).submission_id
    transfer_id = leads.transfer(desk, actor, sent, department="health")
    with desk.sessions() as db:  # dispatched in time; its 5 working days are past
        db.execute(update(m.Transfer).where(m.Transfer.id == transfer_id)
                   .values(accept_due=date(2026, 10, 16)))
        db.commit()
    caller = ingest(desk, make_submission(
        channel="hotline", anonymous=False, identity=CALLER,
        received_at=datetime(2026, 10, 20, 10, tzinfo=CST),
        text="西坡村主任虚报危房改造户数。")).submission_id
    lead_no = leads.accept(desk, actor, caller, keeper="yanpan")

    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.get_by_role("link", name="超期督办").click()
    expect(page.locator("h1")).to_have_text("超期督办")
    triage = page.locator("#overdue-triage")
    row = triage.locator("tr", has=page.locator(f'a[href="/staff/items/{untouched}"]'))
    expect(row).to_contain_text("2026-10-23")
    expect(row).to_contain_text("3 天")
    late = page.locator(f"#transfer-{transfer_id}")
    expect(late).to_contain_text("卫健")
    expect(late).to_contain_text("10 天")
    expect(late).to_contain_text("0 次")
    late.get_by_role("button", name="督办").click()
    expect(page.locator(".notice")).to_contain_text("已督办")
    expect(page.locator(f"#transfer-{transfer_id}")).to_contain_text("1 次")
    page.screenshot(path="/tmp/overdue.png", full_page=True)

    page.goto("/staff/desk/")
    page.get_by_role("link", name="回访电话（1）").click()
    call = page.locator("#calls tr", has_text=lead_no)
    expect(call).to_contain_text("139******78")
    expect(call).not_to_contain_text(CALLER.phone)
    expect(call).to_contain_text("如有补充，可凭查询码在网上查询或补充")
    call.get_by_label("查看理由").fill("电话告知受理结果")
    call.get_by_role("button", name="显示号码").click()
    expect(page.locator(".revealed")).to_have_text(CALLER.phone)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "calls.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})  # the duty officer's phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "calls-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#calls tr", has_text=lead_no).get_by_role("button", name="已回复").click()
    expect(page.locator(".notice")).to_contain_text("已记录回复")
    expect(page.locator("#no-calls")).to_be_visible()

    # the day's digest, as printed: counts and numbers, no navigation
    page.get_by_role("link", name="日报").click()
    page.get_by_label("日期").fill("2026-10-26")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#newly-overdue")).to_contain_text("第 1 号")
    expect(page.locator("#count-calls")).to_have_text("0")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    page.screenshot(path=str(SHOTS / "digest-print.png"), full_page=True)
    assert problems == []
    assert Path("/tmp/overdue.png").stat().st_size > 10_000
