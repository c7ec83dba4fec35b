"""Accounts in a real headless Chromium: an administrator lands on 账号 and may not make an
account that reads items; the second team's leader (made on the server) makes a triager there,
who logs in with the one-time password, changes it and lands on the queue of that team."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from intake.desk import Desk
from intake.staff import create_user
from tests.channels.conftest import CHROMIUM
from tests.integration.test_accounts import SECOND, second_team

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, watch

pytestmark = pytest.mark.browser
STAFF_PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "mountain-river-lantern-42"


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/staff/login")
    expect(page.get_by_label("用户名")).to_be_focused()  # autofocus, once the page has loaded
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_admin_creates_a_triager_who_lands_on_the_queue(
    new_context: Callable[..., Any], desk: Desk, tmp_path: Path
) -> None:
    second_team(desk, tmp_path)
    create_user(desk, "root", "admin", password=STAFF_PASSWORD, display_name="系统管理员")
    create_user(desk, "zuzhang2", "team_leader", password=STAFF_PASSWORD, display_name="二组组长",
                teams=[SECOND])
    with desk.sessions() as db:
        db.execute(text("UPDATE staff_users SET must_change_password = false"))
        db.commit()

    admin = new_context(**DESKTOP).new_page()
    problems = watch(admin)
    log_in(admin, "root", STAFF_PASSWORD)
    expect(admin).to_have_url(re.compile(r"/staff/users$"))
    header = admin.locator("header.top")
    expect(header).to_contain_text("系统管理员")
    expect(header).not_to_contain_text("系统管理员（系统管理员）")
    expect(header.get_by_role("link", name="研判队列")).to_have_count(0)

    form = admin.locator("form#new-account")
    roles = form.get_by_label("角色")
    expect(roles.locator("option", has_text="研判员")).to_have_count(0)  # the team's leader's
    expect(roles.locator("option", has_text="组长")).to_have_count(0)  # made on the server

    chief = new_context(**DESKTOP).new_page()
    problems += watch(chief)
    log_in(chief, "zuzhang2", STAFF_PASSWORD)
    expect(chief).to_have_url(re.compile(r"/staff/$"))
    chief.get_by_role("link", name="账号").click()
    form = chief.locator("form#new-account")
    form.get_by_label("用户名").fill("yanpan2")
    form.get_by_label("姓名").fill("周研判")
    form.get_by_label("角色").select_option(label="研判员")
    form.get_by_label(SECOND).check()
    form.get_by_role("button", name=re.compile("创建")).click()
    notice = chief.locator("#one-time")
    expect(notice).to_contain_text("已创建 yanpan2")
    one_time = notice.locator("code").inner_text()
    row = chief.locator("tr#account-yanpan2")
    expect(row.locator("td[data-label=角色]")).to_have_text("研判员")
    expect(row.locator("td[data-label=所属组]")).to_have_text(SECOND)

    leader = new_context(**DESKTOP).new_page()
    problems += watch(leader)
    log_in(leader, "yanpan2", one_time)
    expect(leader).to_have_url(re.compile(r"/staff/password$"))
    expect(leader.locator("input[name=old]")).to_be_focused()
    leader.keyboard.type(one_time)
    leader.locator("input[name=new]").fill(NEW_PASSWORD)
    leader.locator("input[name=repeat]").fill(NEW_PASSWORD)
    leader.keyboard.press("Enter")
    expect(leader).to_have_url(re.compile(r"/staff/$"))
    expect(leader.get_by_role("columnheader", name="编号")).to_be_visible()
    expect(leader.locator("header.top .brand")).to_have_text(f"{SECOND} · 受理台")
    expect(leader.locator("header.top")).to_contain_text("周研判（研判员）")

    # the administrator's page now shows the triager's first login
    admin.reload()
    last_login = admin.locator("tr#account-yanpan2 td[data-label=最近登录]")
    expect(last_login).not_to_have_text("从未登录")
    assert problems == []
