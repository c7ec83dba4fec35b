"""The web channel end to end, in a real headless Chromium against the real app and database.

A villager reports from a phone and follows the case with the query code; the form works from
the keyboard alone; report.js shows, hides and disables the identity fields; a rejected report
stores nothing; a triager finds the item in the queue and confirms the suggestion.
Screenshots of the receipt and of the staff item page are left in /tmp/shots for a human look.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from intake.desk import Desk
from intake.staff import create_user
from intake.store import models as m
from tests.channels.conftest import CHROMIUM

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, Response, expect

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

COMPLAINT = (
    "东岭村党支部书记刘德福利用职务便利，把村里的低保名额给了他的弟弟刘德贵和儿媳妇，"
    "这两户家里都盖了两层楼、买了小轿车。真正困难的五组张大娘常年卧病，申请了两次都没批下来。"
    "去年年底评议低保时没有开村民代表会，公示只贴了一天就撕了。"
)
PASSWORD = "dongling-2026"
STAFF_PASSWORD = "correct-horse-battery"
HAN = re.compile(r"[\u4e00-\u9fff]")


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    """A valid RGB PNG (a red rectangle), built by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def watch(page: Page) -> list[str]:
    """Collect script errors and console errors (a CSP violation lands here)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    return problems


def post_report(page: Page, act: Callable[[], Any]) -> Response:
    """Do `act` (which submits the report form) and return the server's answer to the POST."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/report")
    ) as answer:
        act()
    page.wait_for_load_state()
    return answer.value


def read_code(page: Page) -> str:
    shown = page.locator("#query-code").inner_text().strip()
    assert re.fullmatch(r"\d{4}( \d{4}){3}", shown), f"code not shown in groups: {shown!r}"
    return shown.replace(" ", "")


def count(desk: Desk, model: type) -> int:
    with desk.sessions() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def only_submission(desk: Desk) -> m.Submission:
    with desk.sessions() as db:
        rows = list(db.scalars(select(m.Submission).options(
            selectinload(m.Submission.attachments), selectinload(m.Submission.messages),
            selectinload(m.Submission.current))))
    assert len(rows) == 1, f"expected one stored item, found {len(rows)}"
    return rows[0]


def test_villager_reports_from_a_phone_and_follows_up(
    new_context: Callable[..., Any], desk: Desk, tmp_path: Path
) -> None:
    photo = tmp_path / "低保公示照片.png"
    photo.write_bytes(png_bytes())
    page = new_context(**PHONE).new_page()
    problems = watch(page)

    page.goto("/report")
    expect(page.get_by_role("heading", name="我要反映问题")).to_be_visible()
    # Nothing on the phone layout may be wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("input[name=subject_name]").fill("刘德福")
    page.locator("input[name=subject_unit]").fill("东岭村党支部")
    page.locator("input[name=subject_post]").fill("村党支部书记")
    page.locator("select[name=category]").select_option(label="群众纪律")
    page.locator("input[name=title]").fill("村支书刘德福把低保给亲戚")
    page.locator("#text").fill(COMPLAINT)
    expect(page.locator(".counter")).to_have_text(f"已写 {len(COMPLAINT)} 字，最多 5000 字")
    page.locator("#attachments").set_input_files(photo)
    page.get_by_label("查询密码").fill(PASSWORD)
    answer = post_report(page, lambda: page.get_by_role("button", name="提交").tap())

    assert answer.status == 200
    assert answer.headers.get("cache-control") == "no-store"
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    code = read_code(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "receipt.png"), full_page=True)

    # A wrong password is refused, without saying which half was wrong.
    page.get_by_role("link", name="查询进展").first.click()
    page.locator("input[name=code]").fill(code)
    page.locator("input[name=password]").fill("not-my-password")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="查询").tap()
    assert refused.value.status == 404
    expect(page.locator(".error")).to_contain_text("查询码或密码不正确")

    # The code as written down from the receipt (in groups of four) opens the case.
    page.locator("input[name=code]").fill(page.evaluate(
        "c => c.replace(/(\\d{4})(?=\\d)/g, '$1 ')", code))
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="查询").tap()
    expect(page).to_have_url(re.compile(r"/status/case$"))
    expect(page.locator("#case-status")).to_have_text("已收到，正在研判")
    expect(page.get_by_text("暂无消息。")).to_be_visible()

    more = "补充：刘德福的弟弟刘德贵在县城有门面房，每月还领着低保金，五组村民都可以作证。"
    page.get_by_role("textbox", name="补充内容").fill(more)
    page.get_by_role("button", name="提交补充").tap()
    expect(page.locator(".notice")).to_contain_text("补充内容已提交。")
    expect(page.locator(".message.reporter .body")).to_have_text([more])
    expect(page.locator("#case-status")).to_have_text("已收到，正在研判")
    assert problems == []

    row = only_submission(desk)
    assert row.channel == "web"
    assert row.text == COMPLAINT
    assert (row.subject_name, row.subject_unit, row.subject_post) == (
        "刘德福", "东岭村党支部", "村党支部书记")
    assert row.category == "mass" and row.title == "村支书刘德福把低保给亲戚"
    assert row.anonymous and row.identity_sealed is None
    assert [(a.original_name, a.content_type, a.size) for a in row.attachments] == [
        ("附件1.png", "image/png", len(png_bytes()))]  # the uploaded name is sealed
    assert [(msg.author, msg.text) for msg in row.messages] == [("reporter", more)]
    cls = row.current
    assert cls is not None and cls.source == "service"
    assert cls.in_scope is True and row.in_scope is True
    assert "mass" in cls.disciplines
    assert cls.subject_role == "subordinate_head"


def test_report_can_be_written_and_sent_with_the_keyboard_alone(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    page.goto("/report")

    page.locator("#text").focus()
    page.keyboard.type(COMPLAINT)
    expect(page.locator(".counter")).to_have_text(f"已写 {len(COMPLAINT)} 字，最多 5000 字")

    def focused() -> str:
        return page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.name || e.id || e.tagName.toLowerCase(); }")

    # From the text: the file picker, the identity choice (one stop for the radio group),
    # the password; the hidden identity fields and the honeypot are not in the way.
    stops = []
    for _ in range(3):
        page.keyboard.press("Tab")
        stops.append(focused())
    assert stops == ["attachments", "anonymous", "password"]
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.locator("button[type=submit]")).to_be_focused()
    answer = post_report(page, lambda: page.keyboard.press("Enter"))

    assert answer.status == 200
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    read_code(page)
    assert problems == []
    row = only_submission(desk)
    assert row.text == COMPLAINT and row.anonymous and not row.attachments


IDENTITY_INPUTS = ("reporter_name", "reporter_phone", "reporter_id_number", "reporter_address")


def expect_identity_hidden(page: Page) -> None:
    expect(page.locator("#identity")).to_be_hidden()
    for name in IDENTITY_INPUTS:
        expect(page.locator(f"input[name={name}]")).to_be_disabled()


def test_named_report_shows_and_sends_the_identity_fields(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    page = new_context(**PHONE).new_page()
    problems = watch(page)
    page.goto("/report")
    expect(page.get_by_label("匿名反映")).to_be_checked()
    expect_identity_hidden(page)

    page.locator("#text").fill(COMPLAINT)
    page.get_by_label("实名反映").check()
    expect(page.locator("#identity")).to_be_visible()
    for name in IDENTITY_INPUTS:
        expect(page.locator(f"input[name={name}]")).to_be_enabled()
    page.locator("input[name=reporter_name]").fill("欧阳明远")
    page.locator("input[name=reporter_phone]").fill("13912345678")
    page.get_by_label("查询密码").fill(PASSWORD)
    answer = post_report(page, lambda: page.get_by_role("button", name="提交").tap())

    assert answer.status == 200
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    read_code(page)
    assert problems == []
    row = only_submission(desk)
    assert row.anonymous is False
    assert row.identity_sealed is not None and row.identity_key_id
    # Sealed, not stored in the clear.
    for plain in ("欧阳明远", "13912345678"):
        assert plain.encode() not in row.identity_sealed


def test_switching_back_to_anonymous_drops_what_was_typed(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    """Identity typed and then abandoned is not sent (the server would refuse it, and an
    anonymous report must carry none)."""
    page = new_context(**PHONE).new_page()
    problems = watch(page)
    page.goto("/report")
    page.locator("#text").fill(COMPLAINT)
    page.get_by_label("实名反映").check()
    page.locator("input[name=reporter_name]").fill("欧阳明远")
    page.locator("input[name=reporter_phone]").fill("13912345678")
    page.get_by_label("匿名反映").check()
    expect_identity_hidden(page)
    page.get_by_label("查询密码").fill(PASSWORD)
    answer = post_report(page, lambda: page.get_by_role("button", name="提交").tap())

    assert answer.status == 200, page.locator(".error").all_inner_texts()
    assert "reporter_name" not in (answer.request.post_data or "")
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    assert problems == []
    row = only_submission(desk)
    assert row.anonymous is True and row.identity_sealed is None


def test_empty_report_is_refused_in_chinese_and_nothing_is_stored(
    new_context: Callable[..., Any], desk: Desk, settings: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    page = new_context(**PHONE).new_page()
    problems = watch(page)
    page.goto("/report")
    page.locator("input[name=subject_name]").fill("刘德福")
    page.locator("#attachments").set_input_files(photo)
    page.get_by_label("查询密码").fill(PASSWORD)
    answer = post_report(page, lambda: page.get_by_role("button", name="提交").tap())

    assert answer.status == 400
    error = page.locator(".error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("请填写反映的主要问题")
    assert HAN.search(error.inner_text())
    expect(page.locator("#query-code")).to_have_count(0)
    # What was typed survives, except the password, which is never echoed back.
    expect(page.locator("input[name=subject_name]")).to_have_value("刘德福")
    expect(page.get_by_label("查询密码")).to_have_value("")
    expect(page.locator("#text")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#text")).to_be_focused()
    assert problems == []

    assert count(desk, m.Submission) == 0
    assert count(desk, m.Attachment) == 0
    files = settings.data_dir / "attachments"
    assert not files.exists() or not any(p.is_file() for p in files.rglob("*"))


def test_triager_finds_the_report_and_confirms_the_suggestion(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    villager = new_context(**PHONE).new_page()
    villager.goto("/report")
    villager.locator("#text").fill(COMPLAINT)
    villager.get_by_label("查询密码").fill(PASSWORD)
    post_report(villager, lambda: villager.get_by_role("button", name="提交").tap())
    code = read_code(villager)

    create_user(desk, "triager1", "triager", password=STAFF_PASSWORD)
    with desk.sessions() as db:
        db.execute(text("UPDATE staff_users SET must_change_password = false "
                        "WHERE username = :u"), {"u": "triager1"})
        db.commit()
        staff_id = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "triager1"))

    page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    page.goto("/staff/")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.get_by_label("用户名").fill("triager1")
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/staff/\??$"))

    item = page.locator("table.queue tbody tr", has_text=COMPLAINT[:20])
    expect(item).to_have_count(1)
    expect(item).to_contain_text("网络举报")
    expect(item.locator(".tag.ok")).to_have_text("受理")
    expect(item).to_contain_text("群众纪律")
    item.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page).to_have_url(re.compile(r"/staff/items/\d+$"))

    suggestion = page.locator("section.suggestion")
    expect(suggestion.get_by_role("heading", name="研判建议")).to_be_visible()
    expect(suggestion).to_contain_text("属本轮受理范围")
    expect(suggestion).to_contain_text("群众纪律")
    # The highlighted runs put the text back together, the evidence marked within it.
    expect(page.locator("#item-text")).to_have_text(COMPLAINT)
    marks = page.locator("#item-text mark.ev")
    assert marks.count() >= 1
    for run in marks.all_inner_texts():
        assert run and run in COMPLAINT
    expect(page.locator("#item-text mark.ev.mass").first).to_contain_text("低保")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "staff_item.png"), full_page=True)

    page.get_by_role("button", name=re.compile("确认建议")).click()
    expect(page.locator(".notice")).to_contain_text("已确认研判建议。")
    expect(suggestion.get_by_role("heading", name="研判（人工）")).to_be_visible()
    history = page.locator("ol.history li")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("人工")
    expect(history.first).to_contain_text("triager1")
    assert problems == []

    row = only_submission(desk)
    assert row.status == "triaged" and row.needs_review is False
    assert row.current is not None
    assert (row.current.source, row.current.created_by, row.current.version) == (
        "staff", staff_id, 2)
    assert row.current.in_scope is True and "mass" in row.current.disciplines
    with desk.sessions() as db:
        decisions = [(d.action, d.staff_id) for d in db.scalars(select(m.Decision))]
    assert decisions == [("confirm", staff_id)]

    # The villager's status page now says so.
    villager.goto("/status")
    villager.locator("input[name=code]").fill(code)
    villager.locator("input[name=password]").fill(PASSWORD)
    villager.get_by_role("button", name="查询").tap()
    expect(villager.locator("#case-status")).to_have_text("已收到，正在研判")
