"""Past unusual volume from one address, the public form proves work in a real Chromium.

pow.js fetches the challenge as the reporter types, solves it with WebCrypto SHA-256 (the page
says "正在提交，请稍候" while work remains after the click), and the receipt follows; with
scripts off, the form says why it cannot be sent. Without WebCrypto (plain HTTP outside
localhost) pow.js falls back on its own SHA-256, which must agree with WebCrypto's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from handlers.web import create_app
from intake.desk import Desk
from intake.store import models as m
from tests.channels.conftest import CHROMIUM

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TEXT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。"
# Every status line pow.js shows is kept in sessionStorage, which outlives the form's page.
RECORD_STATUS = """() => {
  const status = document.getElementById("pow-status");
  new MutationObserver(() => {
    const seen = JSON.parse(sessionStorage.getItem("pow") || "[]");
    seen.push(status.textContent);
    sessionStorage.setItem("pow", JSON.stringify(seen));
  }).observe(status, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def app(desk: Desk) -> Flask:
    """Work from the second submission of an address, at 14 bits (16,384 hashes expected)."""
    settings = replace(desk.settings, pow_threshold=1, pow_min_bits=14, pow_max_bits=14)
    return create_app(settings, desk=desk)


def submissions(desk: Desk) -> int:
    with desk.sessions() as db:
        return db.scalar(select(func.count()).select_from(m.Submission)) or 0


def send_report(page: Any) -> Any:
    page.goto("/report")
    page.locator("#text").fill(TEXT)
    page.get_by_label("查询密码").fill("dongling-2026")
    page.evaluate(RECORD_STATUS)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/report")) as answer:
        page.get_by_role("button", name="提交").click()
    # The answer redirects to the receipt: wait for it, not only for the POST's page load.
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    return answer.value


def test_form_past_the_threshold_proves_work_and_gets_its_receipt(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    page = new_context().new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/challenge" in r.url else None)
    first = send_report(page)
    assert first.status == 200 and "pow_nonce" not in (first.request.post_data or "")
    assert page.evaluate("sessionStorage.getItem('pow')") is None  # no work at normal volume
    assert len(asked) == 2  # while typing (none asked), and again on submit

    asked.clear()
    second = send_report(page)
    assert second.status == 200
    assert "pow_nonce" in (second.request.post_data or "")
    assert len(asked) == 1  # the work started while typing was the work sent
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    shown = page.evaluate("JSON.parse(sessionStorage.getItem('pow'))")
    assert shown and all(line.startswith("正在提交，请稍候") for line in shown)
    assert problems == []
    assert submissions(desk) == 2


def test_without_scripts_the_form_explains_past_the_threshold(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/report")
    expect(page.locator("#pow-noscript")).to_have_count(0)
    page.locator("#text").fill(TEXT)
    page.locator("input[name=password]").fill("dongling-2026")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()

    page.goto("/report")
    expect(page.locator("#pow-noscript")).to_be_visible()
    page.locator("#text").fill(TEXT)
    page.locator("input[name=password]").fill("dongling-2026")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#form-error")).to_contain_text("开启浏览器的 JavaScript")
    assert submissions(desk) == 1


# Prefix lengths around the padding edges (55/56 bytes, one and two blocks), a multi-byte one,
# and suffixes long enough to span blocks of their own.
SAME_DIGESTS = """async () => {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const cases = [["", ""], ["", "abc"], ["abc", ""], ["东岭村", "12"]];
  for (const length of [54, 55, 56, 63, 64, 65, 119, 120, 128, 200]) {
    cases.push(["v".repeat(length), ""], ["v".repeat(length), "7"],
               ["v".repeat(length), "123456789".repeat(length % 17 + 1)]);
  }
  const wrong = [];
  for (const [prefix, suffix] of cases) {
    const expected = hex(new Uint8Array(await crypto.subtle.digest(
      "SHA-256", new TextEncoder().encode(prefix + suffix))));
    if (hex(window.powSha256(prefix, suffix)) !== expected) { wrong.push([prefix, suffix]); }
  }
  return {count: cases.length, wrong: wrong,
          abc: hex(window.powSha256("", "abc"))};
}"""


def test_fallback_sha256_agrees_with_webcrypto(new_context: Callable[..., Any]) -> None:
    page = new_context().new_page()
    page.goto("/report")
    result = page.evaluate(SAME_DIGESTS)
    assert result["count"] == 34 and result["wrong"] == []
    # The FIPS 180-2 example, in case both sides were wrong alike.
    assert result["abc"] == ("ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad")


def test_without_webcrypto_the_form_still_proves_work(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    context = new_context()
    # As on a plain-HTTP intranet address: browsers keep crypto.subtle to secure contexts.
    context.add_init_script("delete Crypto.prototype.subtle;")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    assert send_report(page).status == 200
    assert page.evaluate("window.crypto.subtle === undefined")

    second = send_report(page)
    assert second.status == 200
    assert "pow_nonce" in (second.request.post_data or "")
    expect(page.get_by_role("heading", name="已收到您反映的问题")).to_be_visible()
    assert problems == []
    assert submissions(desk) == 2
