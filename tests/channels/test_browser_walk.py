"""What a triage officer's walk through the suggestions showed, in a real headless Chromium:
evidence is read in the clause it stands in, and evidence for a discipline the decision left out
says so; the form's category is not quoted as if the reporter had written it; a transfer the
service gives no basis for asks to be checked; a person wrongly listed as complained about can
be struck out, and that sticks; the round is named with its team once. Screenshots at 1280 and
390 px are left in /tmp/shots for a human look."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest

from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.submission import IncomingFile
from tests.channels.conftest import CHROMIUM
from tests.support import make_submission

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}; browser tests need the system Chromium",
                allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.channels.test_browser import DESKTOP, PHONE, SHOTS, watch
from tests.channels.test_browser_desk import log_in
from tests.channels.test_browser_triage import current

pytestmark = pytest.mark.browser

# Written for this test: a hedged allegation, a hearsay one the triager rejects, a denial.
HEDGED = "听说东岭村刘书记在村里的光伏项目上拿了好处，我没有亲眼看见。"
HEARSAY = "之前有人说他赌博"
DENIAL = "我可以确定他没有赌博"
TEXT = f"{HEDGED}另外，{HEARSAY}，{DENIAL}，那是造谣。"


def set_suggestion(desk: Desk, item_id: int, **fields: Any) -> None:
    """Give the item's current (service) suggestion the fields a walk found, whatever the
    classifier of the day says: these tests are about the page, not the rules."""
    with desk.sessions() as db:
        cls = db.get_one(m.Submission, item_id).current
        assert cls is not None
        for name, value in fields.items():
            setattr(cls, name, value)
        db.commit()


def span(text: str, words: str, label: str, status: str, occurrence: int = 0) -> dict[str, Any]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(words, start + 1)
    return {"text": words, "label": label, "status": status, "start": start,
            "end": start + len(words), "source": "lexicon"}


def leave_out(page: Page, desk: Desk, discipline: str) -> None:
    """Correct item 1 from the keyboard, leaving one discipline out; integrity stays."""
    page.keyboard.press("e")
    expect(page.locator("#correct-panel")).to_have_attribute("open", "")
    page.locator(f"#correct-form input[name=disciplines][value={discipline}]").uncheck()
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已保存更正。")
    assert current(desk, 1).disciplines == ["integrity"]


def test_evidence_stands_in_its_clause_and_says_what_the_decision_left_out(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    ingest(desk, make_submission(text=TEXT, category="integrity"))
    set_suggestion(
        desk, 1, in_scope=True, subject_role="subordinate_head", disciplines=["integrity", "life"],
        routes=["accept"], needs_review=False, evidence=[
            span(TEXT, "拿了好处", "integrity", "hedged"),
            span(TEXT, "赌博", "life", "asserted"),
            span(TEXT, "赌博", "life", "negated", occurrence=1),
            {"text": "廉洁纪律", "label": "integrity", "status": "asserted", "start": -1,
             "end": -1, "source": "form"},
        ])
    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    rows = page.locator("ul.evidence li")
    expect(rows).to_have_count(4)
    # Each piece of evidence is quoted in its clause, the matched words in bold: the two
    # 赌博 are told apart by what stands around them.
    expect(rows.nth(0).locator(".quote")).to_have_text(
        "“听说东岭村刘书记在村里的光伏项目上拿了好处”")
    expect(rows.nth(0).locator(".quote b")).to_have_text("拿了好处")
    expect(rows.nth(0)).to_contain_text("传闻/推测")
    expect(rows.nth(1).locator(".quote")).to_have_text(f"“{HEARSAY}”")
    expect(rows.nth(2).locator(".quote")).to_have_text(f"“{DENIAL}”")
    expect(rows.nth(2)).to_contain_text("否定")
    # The form's category is no quotation from the text.
    expect(rows.nth(3)).to_contain_text("反映人所选类别")
    expect(rows.nth(3)).not_to_contain_text("“廉洁纪律”")
    expect(page.locator("ul.evidence .tag.unheld")).to_have_count(0)
    # The model's version is a code for whoever diagnoses it: on hover, not in the reading.
    expect(page.locator("#model-version")).to_have_text("系统建议")
    expect(page.locator("#model-version")).to_have_attribute("title", re.compile("^模型版本 .+"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "walk_evidence_clauses.png"), full_page=True)

    # The triager leaves 生活纪律 out: its evidence stays listed, marked 未采纳; the denial
    # was never counted and needs no mark.
    leave_out(page, desk, "life")
    expect(rows.nth(1).locator(".tag.unheld")).to_have_text("未采纳")
    expect(page.locator("ul.evidence .tag.unheld")).to_have_count(1)
    # A person's decision has no confidence figure; the history names no code.
    expect(page.locator(".suggestion")).not_to_contain_text("置信度")
    expect(page.locator("ol.history")).to_contain_text("系统建议")
    assert "keywords-" not in page.locator("#triage").inner_text()
    assert problems == []


def test_triager_strikes_out_a_person_who_is_not_complained_about(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    text = ("来电人反映：他之前打过县长热线，东岭村刘德福书记把修路占他家承包地的补偿款扣下了，"
            "一直没有发。")
    ingest(desk, make_submission(channel="hotline", text=text))
    county_head = {"mention": "县长", "name": "", "post": "县长", "role": "outside_official",
                   "score": 0.7, "start": text.index("县长"), "end": text.index("县长") + 2}
    secretary = {"mention": "刘德福书记", "name": "刘德福",
                 "post": "东岭村党支部书记、村委会主任", "role": "subordinate_head",
                 "score": 0.9, "start": text.index("刘德福"), "end": text.index("刘德福") + 5}
    set_suggestion(desk, 1, in_scope=False, subject_role="outside_official",
                   subjects=[county_head, secretary], routes=["petition_bureau"])
    page: Page = new_context(**PHONE).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    people = page.locator("ul.subjects li")
    expect(people).to_have_count(2)
    page.locator("#correct-panel summary").click()
    drop = page.locator("#correct-form input[name=drop_subject][value='0']")
    expect(drop.locator("xpath=..")).to_contain_text("删去“县长”")
    drop.check()
    page.locator("#correct-form input[name=in_scope][value=true]").check()
    page.locator("#correct-form select[name=subject_role]").select_option("subordinate_head")
    page.locator("#correct-form input[name=routes][value=petition_bureau]").uncheck()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "walk_strike_out_phone.png"), full_page=True)
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已保存更正。")
    # It sticks: stored, and shown after a reload.
    saved = current(desk, 1)
    assert [s["name"] for s in saved.subjects] == ["刘德福"]
    assert (saved.in_scope, saved.subject_role, saved.routes) == (
        True, "subordinate_head", ["accept"])
    page.reload()
    expect(people).to_have_count(1)
    expect(people.first).to_contain_text("刘德福")
    expect(page.locator("ul.subjects")).not_to_contain_text("县长")
    assert problems == []


def test_a_stale_strike_out_is_refused(new_context: Callable[..., Any], desk: Desk) -> None:
    ingest(desk, make_submission())
    set_suggestion(desk, 1, subjects=[{"mention": "刘书记", "name": "刘德福", "post": "",
                                       "role": "subordinate_head", "score": 0.9,
                                       "start": -1, "end": -1}])
    page: Page = new_context(**DESKTOP).new_page()
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    page.locator("#correct-panel summary").click()
    # A place the suggestion does not have (a page edited by hand, or out of date).
    page.locator("#correct-form input[name=drop_subject]").evaluate("e => e.value = '7'")
    page.locator("#correct-form input[name=drop_subject]").check()
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("要删去的人员不在建议中")
    assert current(desk, 1).source == "service"


def test_a_transfer_without_basis_asks_to_be_checked(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    ingest(desk, make_submission(text="我想表扬东岭村的刘主任，发大水时他三天三夜守在河堤上。"))
    ingest(desk, make_submission(text="小区物业公司收了物业费不办事，电梯坏了两个月没人修。"))
    set_suggestion(desk, 1, in_scope=False, subject_role="unknown", subjects=[], evidence=[],
                   disciplines=[], routes=["water_resources"], needs_review=False)
    set_suggestion(desk, 2, in_scope=False, subject_role="unknown", subjects=[],
                   disciplines=[], routes=["housing"], needs_review=False, evidence=[
                       {"text": "物业公司", "label": "housing", "status": "asserted",
                        "start": 2, "end": 6, "source": "lexicon"}])
    ingest(desk, make_submission(text="老人的养老金两个月没有到账。"))
    set_suggestion(desk, 3, in_scope=False, subject_role="unknown", subjects=[], evidence=[],
                   disciplines=[], routes=["human_resources"], needs_review=True)
    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    # The queue marks the one confident transfer without basis, and only it.
    page.goto("/staff/")
    page.wait_for_load_state()
    expect(page.locator("table.queue .route-unsure")).to_have_count(1)
    expect(page.locator("table.queue tr", has=page.locator(".route-unsure"))).to_contain_text(
        "#1")
    page.goto("/staff/items/3")  # unsure already: 需人工复核 says it, once
    page.wait_for_load_state()
    expect(page.locator("#triage .tag.warn")).to_have_text("需人工复核")
    expect(page.locator("#route-unsure")).to_have_count(0)
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    expect(page.locator("#routes")).to_contain_text("水利局")
    expect(page.locator("#route-unsure")).to_have_text("去向未列依据，请核实")
    # The round is named with its team once (its name starts with the team's).
    expect(page.locator("section.card p.meta").first).to_have_text(
        "县委第一巡察组 2026年第二轮常规巡察")
    page.goto("/staff/items/2")  # a clause names the department: no warning
    page.wait_for_load_state()
    expect(page.locator("#routes")).to_contain_text("住建局")
    expect(page.locator("#route-unsure")).to_have_count(0)
    # Once a person decided, the route is theirs: no warning either.
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    page.keyboard.press("e")
    page.locator("#correct-form input[name=routes][value=water_resources]").uncheck()
    page.locator("#correct-form input[name=routes][value=none]").check()
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator(".notice")).to_contain_text("已保存更正。")
    expect(page.locator("#routes")).to_contain_text("存档，不作处理")
    expect(page.locator("#route-unsure")).to_have_count(0)
    assert current(desk, 1).routes == ["none"]
    assert problems == []


def test_an_attachment_is_described_in_words(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    photo = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
             + b"\x00" * 64 + b"\xff\xd9")
    ingest(desk, make_submission(attachments=(IncomingFile("现场.jpg", io.BytesIO(photo)),)))
    page: Page = new_context(**DESKTOP).new_page()
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    files = page.locator("ul.files li")
    expect(files).to_contain_text("附件1.jpg")
    expect(files).to_contain_text("JPEG 图片")
    expect(files).to_contain_text("校验码 ")
    expect(files).not_to_contain_text("image/jpeg")
    expect(files).not_to_contain_text("sha256")


# Written for this test: one clause read for two disciplines, again by a second rule, and for a
# department; a hedged clause and the department's reading of it; a clause told by the model.
SHARED = ("来电人反映：枫林村会计老周挪用村里的征地补偿款给自己儿子买车。听说他还收了人家的好处。"
          "他上班经常不在岗。")


def test_a_clause_read_for_several_labels_is_quoted_once(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    ingest(desk, make_submission(channel="hotline", text=SHARED))
    route = span(SHARED, "征地", "natural_resources", "asserted")
    route["source"] = "route"
    model = span(SHARED, "不在岗", "work", "asserted")
    model["source"] = "model"
    set_suggestion(
        desk, 1, in_scope=True, subject_role="staff", disciplines=["integrity", "mass"],
        routes=["accept", "natural_resources", "civil_affairs"], needs_review=False, evidence=[
            span(SHARED, "挪用", "mass", "asserted"),
            span(SHARED, "挪用", "integrity", "asserted"),
            span(SHARED, "给自己儿子", "integrity", "asserted"),
            route,
            span(SHARED, "收了人家的好处", "integrity", "hedged"),
            {**span(SHARED, "收了人家的好处", "civil_affairs", "asserted"), "source": "route"},
            model,
        ])
    page: Page = new_context(**DESKTOP).new_page()
    problems = watch(page)
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    rows = page.locator("ul.evidence li")
    expect(rows).to_have_count(4)
    # The clause once, every word a rule read in it bold, each label once, departments by
    # their Chinese names.
    first = rows.nth(0)
    expect(first.locator(".quote")).to_have_text("“枫林村会计老周挪用村里的征地补偿款给自己儿子买车”")
    expect(first.locator(".quote b")).to_have_text(["挪用", "征地", "给自己儿子"])
    expect(first.locator(".hint:not(.sep)")).to_have_text(["群众纪律", "廉洁纪律", "自然资源局"])
    expect(first).to_contain_text("群众纪律、廉洁纪律、自然资源局")
    # Hearsay keeps its mark on its own line; the department's reading of the clause is a line
    # of its own, since it is told differently.
    expect(rows.nth(1)).to_contain_text("传闻/推测")
    expect(rows.nth(1).locator(".hint:not(.sep)")).to_have_text(["廉洁纪律"])
    expect(rows.nth(2).locator(".hint:not(.sep)")).to_have_text(["民政局（经乡镇申请）"])
    expect(rows.nth(2)).not_to_contain_text("传闻/推测")
    # The model's reading is never merged with the rules'; the decision leaves it out.
    expect(rows.nth(3)).to_contain_text("模型推断")
    expect(rows.nth(3).locator(".tag.unheld")).to_have_text("未采纳")
    expect(page.locator("ul.evidence .tag.unheld")).to_have_count(1)
    # No raw code anywhere in the suggestion.
    text = page.locator("#triage").inner_text()
    assert not re.search(r"natural_resources|civil_affairs|integrity|\bmass\b", text)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "walk_evidence_shared_clause.png"), full_page=True)

    # The triager leaves 群众纪律 out: the shared line marks that label alone as 未采纳.
    leave_out(page, desk, "mass")
    expect(first.locator(".tag.unheld")).to_have_count(1)
    expect(first).to_contain_text("群众纪律 未采纳、廉洁纪律")
    expect(first).not_to_have_class(re.compile(r"\bunheld\b"))
    assert problems == []


def test_a_post_the_mention_already_names_is_not_repeated(
    new_context: Callable[..., Any], desk: Desk
) -> None:
    text = "来电人反映：乡武装部苗部长上班时间去钓鱼，邻县的副镇长也常来。"
    ingest(desk, make_submission(channel="hotline", text=text))
    unlinked = {"mention": "武装部苗部长", "name": "", "post": "武装部苗部长",
                "role": "leadership", "score": 0.6, "start": text.index("武装部"),
                "end": text.index("武装部") + 6}
    outside = {"mention": "副镇长", "name": "", "post": "副镇长", "role": "outside_official",
               "score": 0.5, "start": text.index("副镇长"), "end": text.index("副镇长") + 3}
    candidate = {"mention": "武装部苗部长", "name": "苗志强", "post": "乡武装部部长",
                 "role": "leadership", "score": 0.6, "start": -1, "end": -1}
    set_suggestion(desk, 1, subjects=[unlinked, outside], candidates=[candidate])
    page: Page = new_context(**PHONE).new_page()
    log_in(page, desk, "yanpan", "triager")
    page.goto("/staff/items/1")
    page.wait_for_load_state()
    people = page.locator("ul.subjects li")
    expect(people.nth(0)).to_have_text(re.compile(r"^“武装部苗部长” · "))
    expect(people.nth(1)).to_have_text(re.compile(r"^“副镇长” · "))
    # A roster post that says more than the mention is still shown.
    expect(page.locator("ul.candidates li").first).to_contain_text("→ 苗志强（乡武装部部长）")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "walk_post_once_phone.png"), full_page=True)
