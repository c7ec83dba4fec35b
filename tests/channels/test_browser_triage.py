"""The triage page in a real headless Chromium: a triager goes through the queue from the keyboard
alone — toggles a discipline and saves with Ctrl+Enter, confirms with Y, moves on with N — and
the single keys stay out of the way while typing. A screenshot of the open correction is left in
/tmp/shots for a human look."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from tests.channels.conftest import CHROMIUM
from tests.support import make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, SHOTS, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
TEXTS = [
    "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。",
    "西山村村委会主任收了拆迁户的钱才给办手续，群众意见很大。",
    "南河村党总支书记马德才在修村道时让自己的小舅子承包工程，工程质量很差。",
    "北坡村党支部书记经常在村里摆酒席，办事要先请吃饭。",
]
CANDIDATE = {"mention": "村会计", "name": "王秀英", "post": "东岭村会计", "role": "staff",
             "score": 0.6, "start": -1, "end": -1}


def item_url(item_id: int) -> re.Pattern[str]:
    return re.compile(rf"/staff/items/{item_id}$")


def current(desk: Desk, item_id: int) -> m.Classification:
    with desk.sessions() as db:
        cls = db.get_one(m.Submission, item_id).current
        assert cls is not None
        db.expunge(cls)
        return cls


def test_triager_goes_through_the_queue_from_the_keyboard(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    start = datetime(2026, 3, 5, tzinfo=UTC)
    for i, text in enumerate(TEXTS):  # ids 1..4; the queue shows 4, 3, 2, 1
        ingest(desk, make_submission(text=text, received_at=start + timedelta(hours=i)))
    with desk.sessions() as db:
        db.get_one(m.Submission, 3).current.candidates = [CANDIDATE]
        db.commit()
    suggested = current(desk, 4)

    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/4")
    integrity = page.locator("#correct-form input[name=disciplines][value=integrity]")
    expect(page.locator("#correct-form")).to_contain_text("廉洁纪律 3")  # keys beside controls

    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_visible()
    expect(page.locator("#keys-help")).to_contain_text("Ctrl+Enter")
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()

    # 3 opens the correction with the suggestion filled in and toggles 廉洁纪律.
    page.keyboard.press("3")
    expect(page.locator("#correct-panel")).to_have_attribute("open", "")
    expect(integrity).to_be_checked(checked="integrity" not in suggested.disciplines)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "staff_triage.png"), full_page=True)
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(item_url(3))  # the next item awaiting triage
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已保存更正。")
    saved = current(desk, 4)
    assert saved.source == "staff" and saved.created_by is not None
    assert set(saved.disciplines) == set(suggested.disciplines) ^ {"integrity"}
    assert (saved.in_scope, saved.routes) == (suggested.in_scope, suggested.routes)

    # Picking a candidate fills in their role and chooses them on the correction form.
    page.get_by_role("button", name="设为被反映人").click()
    expect(page.locator("#candidate-0")).to_be_checked()
    expect(page.locator("#correct-form select[name=subject_role]")).to_have_value("staff")
    # Evidence links to its place in the text and outlines it for a moment.
    link = page.locator("ul.evidence a[data-mark]").first
    mark = page.locator("#" + (link.get_attribute("data-mark") or "missing"))
    link.click()
    expect(mark).to_have_class(re.compile(r"\bflash\b"))

    # Single keys are plain letters in a text field; Esc leaves it.
    note = page.locator("#correct-form input[name=note]")
    note.click()
    page.keyboard.type("yn3")
    expect(note).to_have_value("yn3")
    expect(page).to_have_url(item_url(3))
    page.wait_for_load_state()
    page.keyboard.press("Escape")
    page.reload()  # a fresh page: the suggestion as it stands, no half-made correction
    page.keyboard.press("y")
    expect(page).to_have_url(item_url(2))
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已确认研判建议。")
    confirmed = current(desk, 3)
    assert confirmed.source == "staff" and confirmed.subjects[0]["name"] != "王秀英"

    page.keyboard.press("n")
    expect(page).to_have_url(item_url(1))
    page.wait_for_load_state()
    page.keyboard.press("k")
    expect(page).to_have_url(item_url(2))
    page.wait_for_load_state()
    with desk.sessions() as db:
        decisions = [(d.submission_id, d.action) for d in db.scalars(
            select(m.Decision).order_by(m.Decision.id))]
        statuses = {r.id: r.status for r in db.scalars(select(m.Submission))}
    assert decisions == [(4, "correct"), (3, "confirm")]
    assert statuses == {1: "received", 2: "received", 3: "triaged", 4: "triaged"}
    assert problems == []
