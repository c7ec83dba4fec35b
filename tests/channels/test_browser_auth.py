"""Staff login with a second factor in a real headless Chromium, from the keyboard alone:
a team leader whose role requires it enrols an authenticator, then logs in with a code."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import text

from handlers.web import create_app
from intake.desk import Desk
from intake.staff import create_user
from intake.store.models import utcnow
from tests.channels.conftest import CHROMIUM

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, watch

pytestmark = pytest.mark.browser
STAFF_PASSWORD = "correct-horse-battery"


@pytest.fixture
def app(desk: Desk) -> Flask:
    settings = replace(desk.settings, totp_required_roles="team_leader,admin")
    return create_app(settings, desk=replace(desk, settings=settings))


def type_password_login(page: Page, username: str) -> None:
    page.goto("/staff/login")
    expect(page.get_by_label("用户名")).to_be_focused()  # autofocus, once the page has loaded
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")


def test_team_leader_enrols_and_logs_in_with_a_code(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    create_user(desk, "zuzhang", "team_leader", password=STAFF_PASSWORD)
    with desk.sessions() as db:
        db.execute(text("UPDATE staff_users SET must_change_password = false"))
        db.commit()
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)

    type_password_login(page, "zuzhang")
    expect(page).to_have_url(re.compile(r"/staff/totp$"))  # required for this role
    expect(page.locator("img[alt^='两步验证二维码']")).to_be_visible()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    enrolled_with = pyotp.TOTP(secret).now()
    expect(page.locator("input[name=code]")).to_be_focused()
    page.keyboard.type(enrolled_with)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.get_by_role("status")).to_contain_text("两步验证已启用")

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    type_password_login(page, "zuzhang")
    expect(page).to_have_url(re.compile(r"/staff/login/code"))
    # The code already used is refused; the next one (phones run a little ahead) is taken.
    expect(page.get_by_label("验证码")).to_be_focused()
    page.keyboard.type(enrolled_with)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("验证码不正确或已用过")
    page.get_by_label("验证码").fill(pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30)))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.get_by_role("columnheader", name="编号")).to_be_visible()
    assert problems == []
