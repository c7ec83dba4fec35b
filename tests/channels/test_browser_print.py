"""Printing the item page, the ledger and the daily digest in a real headless Chromium against
the real server: under `print` media the navigation, buttons and forms are gone and the content
stays; the item page never prints the reporter's identity, not even after the team leader
revealed it on screen; `page.pdf()` gives A4 pages (the ledger landscape, its column header on
every page). The PDFs are left at /tmp/print-item.pdf, /tmp/print-ledger.pdf and
/tmp/print-digest.pdf."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from intake import leads
from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.triage import Actor
from tests.channels.conftest import CHROMIUM
from tests.support import NAMED_IDENTITY, make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, watch
from tests.channels.test_browser_desk import log_in

pytestmark = pytest.mark.browser
A4 = (595.3, 841.9)  # points, portrait
OUT = Path("/tmp")
TEXT = (f"我叫{NAMED_IDENTITY.name}，电话{NAMED_IDENTITY.phone}。东岭村党支部书记刘德福把低保名额"
        "给了自己的亲戚，村里的账目三年没有公开。")
SECRETS = (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
           NAMED_IDENTITY.address)


def pdf_pages(data: bytes) -> list[tuple[float, float, str]]:
    """Each page's width and height in points and its text without white space."""
    document = pdfium.PdfDocument(data)
    try:
        return [(*page.get_size(), re.sub(r"\s+", "", page.get_textpage().get_text_range()))
                for page in document]
    finally:
        document.close()


def printed(page: Page, name: str) -> list[tuple[float, float, str]]:
    data = page.pdf(prefer_css_page_size=True, print_background=True)
    (OUT / name).write_bytes(data)
    return pdf_pages(data)


def nothing_to_click(page: Page) -> None:
    """No navigation, button, form field or link styled as a button on the printed page."""
    for selector in ("header.top", "nav", "button", ".button", "form", "input", "select",
                     "textarea"):
        expect(page.locator(f"{selector}:visible")).to_have_count(0)


def test_the_item_page_prints_without_buttons_or_identity(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    item_id = ingest(desk, make_submission(text=TEXT, title="村支书优亲厚友", anonymous=False,
                                           identity=NAMED_IDENTITY)).submission_id
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    page.goto(f"/staff/items/{item_id}")
    page.wait_for_load_state()
    page.get_by_label("查看理由").fill("实名件需答复举报人")
    page.get_by_role("button", name="查看身份及原文").click()
    page.wait_for_load_state()
    revealed = page.locator(".revealed")
    expect(revealed).to_contain_text(NAMED_IDENTITY.phone)  # on screen, as the leader asked

    page.emulate_media(media="print")
    nothing_to_click(page)
    expect(revealed).to_be_hidden()
    expect(page.locator("#item-text")).to_contain_text("刘德福")
    expect(page.locator("#triage")).to_be_visible()  # the suggestion
    expect(page.locator("#casework")).to_be_visible()  # where the case stands, its history
    expect(page.locator("#identity-print-note")).to_be_visible()
    expect(page.locator("#identity-print-note")).to_contain_text("打印件不含举报人身份信息")
    shown = page.locator("body").inner_text()
    for secret in SECRETS:
        assert secret not in shown

    pages = printed(page, "print-item.pdf")
    assert pages and all(abs(w - A4[0]) < 2 and abs(h - A4[1]) < 2 for w, h, _ in pages)
    text = "".join(t for _, _, t in pages)
    assert "村支书优亲厚友" in text and "刘德福" in text and "办理" in text
    assert "研判队列" not in text and "查看身份及原文" not in text
    for secret in SECRETS:
        assert secret not in text

    page.emulate_media(media="screen")
    expect(revealed).to_be_visible()  # printing took nothing away from the screen
    assert problems == []


def test_the_ledger_prints_landscape_with_its_header_on_every_page(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    start = datetime(2026, 3, 5, 1, tzinfo=UTC)
    ids = [ingest(desk, make_submission(
        text=f"东岭村第{i}组组长刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。",
        received_at=start + timedelta(hours=i))).submission_id for i in range(45)]
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    with desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "zuzhang"))
        assert user is not None
        leader = Actor(user.id, user.username, user.role)
    number = leads.accept(desk, leader, ids[0], keeper="zuzhang")
    page.goto("/staff/ledger")
    page.wait_for_load_state()
    expect(page.locator("table.ledger tbody tr")).to_have_count(len(ids))

    page.emulate_media(media="print")
    nothing_to_click(page)
    expect(page.locator("table.ledger")).to_be_visible()
    expect(page.locator("ul.ledger-counts")).to_be_visible()
    title = page.locator("#ledger-print-title")
    expect(title).to_be_visible()
    expect(title).to_contain_text(desk.default_round().cfg.name)

    pages = printed(page, "print-ledger.pdf")
    assert len(pages) >= 2
    for width, height, text in pages:
        assert abs(width - A4[1]) < 2 and abs(height - A4[0]) < 2  # landscape
        assert "编号" in text and "收件日期" in text and "最近期限" in text  # the header again
    assert number in pages[0][2]
    assert problems == []


def test_the_digest_prints_as_it_reads(new_context: Callable[..., Any], desk: Desk) -> None:
    ingest(desk, make_submission(received_at=datetime.now(UTC) - timedelta(hours=1)))
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "zuzhang", "team_leader")
    page.wait_for_load_state()
    page.goto("/staff/digest")
    page.wait_for_load_state()
    expect(page.locator("form.filters")).to_be_visible()

    page.emulate_media(media="print")
    nothing_to_click(page)
    expect(page.locator("h1")).to_contain_text("受理工作日报")
    expect(page.locator("#digest-counts")).to_be_visible()
    expect(page.locator("#newly-overdue")).to_be_visible()

    pages = printed(page, "print-digest.pdf")
    assert len(pages) == 1
    width, height, text = pages[0]
    assert abs(width - A4[0]) < 2 and abs(height - A4[1]) < 2
    assert "受理工作日报" in text and "收件" in text and "去打印" not in text
    assert problems == []
