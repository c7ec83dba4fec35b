"""The duty desk in a real headless Chromium: an officer logs a call from the keyboard alone
and reads out the code and password; a villager books a talk and sees it confirmed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from intake import appointments
from intake.desk import Desk
from intake.pipeline import check_status
from intake.staff import create_user
from intake.store import models as m
from intake.store.models import utcnow
from tests.channels.conftest import CHROMIUM

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, PHONE, watch

pytestmark = pytest.mark.browser
STAFF_PASSWORD = "correct-horse-battery"
CALL = "来电人反映南河村党总支书记马德才在修村道时让自己的小舅子承包工程，工程质量很差。"


def log_in(page: Page, desk: Desk, username: str, role: str) -> None:
    create_user(desk, username, role, password=STAFF_PASSWORD)
    with desk.sessions() as db:
        db.execute(text("UPDATE staff_users SET must_change_password = false "
                        "WHERE username = :u"), {"u": username})
        db.commit()
    page.goto("/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_officer_logs_a_call_with_the_keyboard_alone(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "zhiban", "duty_officer")
    page.goto("/staff/desk/log/hotline")
    expect(page.locator("textarea:focus")).to_have_count(1)  # the focus on arrival, once loaded
    page.keyboard.type(CALL)
    page.keyboard.press("Control+Enter")
    expect(page.locator("h1")).to_contain_text("已记录为")
    code = page.locator("#query-code").inner_text().replace(" ", "")
    password = page.locator("#query-password").inner_text()
    assert re.fullmatch(r"\d{16}", code) and re.fullmatch(r"\d{8}", password)
    status = check_status(desk, code, password)
    with desk.sessions() as db:
        assert db.get_one(m.Submission, status.submission_id).text == CALL
    # 再记一条 has the focus: Enter starts the next call.
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/staff/desk/log/hotline$"))
    assert problems == []


def test_villager_books_a_talk_and_sees_it_confirmed(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    appointments.create_slot(desk, start, start + timedelta(minutes=30), "巡察组信访接待室",
                             staff_id=None)
    villager = new_context(**PHONE).new_page()
    problems = watch(villager)
    villager.goto("/")
    villager.get_by_role("link", name="预约面谈时间").tap()
    villager.locator("input[name=slot]").first.check()
    villager.locator("#text").fill("想当面反映村道工程的问题")
    villager.get_by_label("查询密码").fill("talk-2026")
    villager.get_by_role("button", name="提交预约").tap()
    expect(villager.locator("h1")).to_have_text("已收到您的预约申请")
    code = villager.locator("#query-code").inner_text().replace(" ", "")

    officer = new_context(**DESKTOP).new_page()
    log_in(officer, desk, "zhiban", "duty_officer")
    officer.goto("/staff/desk/")
    officer.get_by_role("link", name=re.compile("预约面谈")).click()
    officer.locator("#requests").get_by_role("button", name="确认").click()
    expect(officer.locator(".notice, .flash").first).to_contain_text("已确认")

    villager.goto("/status")
    villager.locator("input[name=code]").fill(code)
    villager.get_by_label("查询密码").fill("talk-2026")
    villager.get_by_role("button", name="查询").tap()
    expect(villager.locator("#appointment-status")).to_have_text("已确认，请按时到达")
    with desk.sessions() as db:
        assert db.scalar(select(m.Appointment.status)) == "confirmed"
    assert problems == []
