"""The audit page in a real headless Chromium, on a phone and on a desktop: no horizontal
overflow, and a long reason stays readable (on a phone each event is a card). Screenshots are
left in /tmp/shots for a human look."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from intake.audit import db_record
from intake.desk import Desk
from intake.pipeline import ingest
from intake.store.db import begin_write
from tests.channels.conftest import CHROMIUM
from tests.support import make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page

from tests.channels.test_browser import DESKTOP, PHONE, SHOTS, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
REASON = "实名举报人要求答复，需核对联系方式后由组长回电说明办理情况" * 6


def fill_log(desk: Desk) -> None:
    ingest(desk, make_submission())
    with desk.sessions() as s:
        begin_write(s)
        db_record(s, "identity.reveal", actor_label="zuzhang", submission_id=1, reason=REASON)
        db_record(s, "login.success", actor_label="zuzhang", address="127.0.0.1",
                  second_factor=False)
        db_record(s, "decision.confirm", actor_label="yanpan", submission_id=1, in_scope=True,
                  disciplines=["integrity", "mass"], routes=["town_discipline_office"])
        s.commit()


@pytest.mark.parametrize("name, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_audit_page_fits_the_screen(
    new_context: Callable[..., Any], desk: Desk, name: str, viewport: dict[str, Any]
) -> None:
    fill_log(desk)
    page: Page = new_context(**viewport).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.goto("/staff/audit/")
    page.wait_for_selector("table.audit")
    width = viewport["viewport"]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    reason = page.locator("td.reason", has_text="实名举报人").bounding_box()
    assert reason is not None and reason["width"] >= min(width * 0.5, 200)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"audit-{name}.png"), full_page=True)
    assert problems == []
