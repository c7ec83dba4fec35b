"""Staff side: accounts and sessions, the triage queue, decisions, replies."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from handlers.web import create_app
from intake.desk import Desk
from intake.pipeline import check_status, ingest
from intake.staff import create_user, ensure_first_admin
from intake.store import models as m
from intake.triage import Actor, Correction, QueueFilters, db_next_item, db_queue_page, decide
from tests.support import csrf_token, make_submission, staff_client

IN_SCOPE = "东岭村党支部书记刘德福把低保名额给了自己的亲戚。"
OUT_OF_SCOPE = "我在县城工地干了三个月，老板拖欠工资两万元不给，请帮忙讨薪。"


def login(client: FlaskClient, username: str, password: str) -> FlaskClient:
    token = csrf_token(client, "/staff/login")
    client.post("/staff/login", data={"username": username, "password": password,
                                      "csrf_token": token})
    return client


def test_first_admin_must_change_the_one_time_password(app: Flask, desk: Desk) -> None:
    password = ensure_first_admin(desk)
    assert password and len(password) == 16
    assert ensure_first_admin(desk) is None
    client = login(app.test_client(), "admin", password)
    r = client.get("/staff/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/password")
    token = csrf_token(client, "/staff/password")
    r = client.post("/staff/password", data={"csrf_token": token, "old": password,
                                             "new": "a-new-long-password",
                                             "repeat": "a-new-long-password"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/users")
    assert client.get("/staff/users").status_code == 200
    again = login(app.test_client(), "admin", "a-new-long-password")
    assert again.get("/staff/users").status_code == 200


def test_wrong_password_and_anonymous_visitors(app: Flask, desk: Desk) -> None:
    create_user(desk, "t1", "triager", password="right-password")
    client = app.test_client()
    token = csrf_token(client, "/staff/login")
    r = client.post("/staff/login", data={"username": "t1", "password": "wrong-password",
                                          "csrf_token": token})
    assert r.status_code == 401 and "用户名或密码不正确" in r.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    r = client.post("/staff/login", data={"username": "t1", "password": "right-password"})
    assert r.status_code == 400  # no CSRF token


def test_sessions_expire_and_end_on_password_change(desk: Desk) -> None:
    settings = replace(desk.settings, staff_session_hours=0.25)
    app = create_app(settings, desk=replace(desk, settings=settings))
    now = [datetime.now(UTC)]
    app.extensions["clock"] = lambda: now[0]
    client = staff_client(app, desk, "t1", "triager")
    assert client.get("/staff/").status_code == 200
    now[0] += timedelta(minutes=16)
    assert client.get("/staff/").status_code == 302


def test_password_change_ends_other_sessions(app: Flask, desk: Desk) -> None:
    from tests.support import STAFF_PASSWORD

    first = staff_client(app, desk, "t1", "triager")
    second = login(app.test_client(), "t1", STAFF_PASSWORD)
    assert second.get("/staff/").status_code == 200
    token = csrf_token(second, "/staff/password")
    second.post("/staff/password", data={"csrf_token": token, "old": STAFF_PASSWORD,
                                         "new": "another-password", "repeat": "another-password"})
    assert second.get("/staff/").status_code == 200  # the one that changed it stays in
    assert first.get("/staff/").status_code == 302


def test_duty_officer_cannot_decide(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    officer = staff_client(app, desk, "d1", "duty_officer")
    assert officer.get("/staff/items/1").status_code == 200
    token = csrf_token(officer, "/staff/items/1")
    r = officer.post("/staff/items/1/decision", data={"csrf_token": token, "action": "confirm",
                                                      "reviewed_id": "1"})
    assert r.status_code == 403
    assert officer.get("/staff/users").status_code == 403


def test_queue_filters_and_keyset_paging(desk: Desk) -> None:
    start = datetime(2026, 3, 5, tzinfo=UTC)
    for i in range(7):
        ingest(desk, make_submission(text=IN_SCOPE if i % 2 else OUT_OF_SCOPE,
                                     channel="web" if i < 5 else "api",
                                     received_at=start + timedelta(hours=i)))
    with desk.sessions() as s:
        ids, cursor = [], None
        while True:
            page = db_queue_page(s, QueueFilters(), cursor, limit=3)
            ids += [r.id for r in page.rows]
            if not (cursor := page.next_cursor):
                break
        assert ids == [7, 6, 5, 4, 3, 2, 1]
        assert [r.id for r in db_queue_page(s, QueueFilters(channel="api")).rows] == [7, 6]
        in_scope = [r.id for r in db_queue_page(s, QueueFilters(scope="in")).rows]
        assert in_scope == [6, 4, 2]
        assert [r.id for r in db_queue_page(s, QueueFilters(discipline="mass")).rows] == in_scope
        out = [r.id for r in db_queue_page(s, QueueFilters(route="human_resources")).rows]
        assert out == [7, 5, 3, 1]
        page = db_queue_page(s, QueueFilters(route="human_resources"), limit=2)
        assert [r.id for r in page.rows] == [7, 5]
        rest = db_queue_page(s, QueueFilters(route="human_resources"), page.next_cursor, limit=2)
        assert [r.id for r in rest.rows] == [3, 1] and rest.next_cursor is None
        both = QueueFilters(discipline="mass", channel="api")
        assert [r.id for r in db_queue_page(s, both).rows] == [6]
        # combinations no item can meet are answered without walking the label index
        assert db_queue_page(s, QueueFilters(discipline="mass", scope="unknown")).rows == []
        assert db_queue_page(s, QueueFilters(route="accept", scope="out")).rows == []


def test_queue_page_renders_and_filters(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission(text=IN_SCOPE))
    ingest(desk, make_submission(text=OUT_OF_SCOPE))
    triager = staff_client(app, desk, "t1", "triager")
    page = triager.get("/staff/").get_data(as_text=True)
    assert "#1" in page and "#2" in page and "受理" in page and "人社" in page
    page = triager.get("/staff/?scope=in&discipline=mass").get_data(as_text=True)
    assert "#1" in page and "#2" not in page
    assert triager.get("/staff/?discipline=bogus&cursor=junk").status_code == 200


def test_confirm_and_correct_become_current(app: Flask, desk: Desk) -> None:
    receipt = ingest(desk, make_submission(text=OUT_OF_SCOPE))
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/decision", data={
        "csrf_token": token, "action": "correct", "reviewed_id": "1", "in_scope": "false",
        "subject_role": "non_official", "routes": ["human_resources", "public_security"],
        "note": "老板恶意欠薪，另涉嫌拒不支付劳动报酬"})
    assert r.status_code == 302
    with desk.sessions() as s:
        row = s.get(m.Submission, 1)
        assert row.current.version == 2 and row.current.source == "staff"
        assert row.current.routes == ["human_resources", "public_security"]
        assert row.status == "triaged" and not row.needs_review
        assert row.first_route == "human_resources"
        decision = s.scalar(select(m.Decision))
        assert (decision.action, decision.reviewed_id, decision.result_id) == ("correct", 1, 2)
    assert check_status(desk, receipt.code, "secret-pass").status_text == "已收到，正在研判"
    page = triager.get("/staff/items/1").get_data(as_text=True)
    assert "老板恶意欠薪" in page and "v2" in page

    # someone still looking at version 1 cannot overwrite version 2
    r = triager.post("/staff/items/1/decision", data={"csrf_token": token, "action": "confirm",
                                                      "reviewed_id": "1"})
    assert r.status_code == 409 and "已被他人更新" in r.get_data(as_text=True)
    r = triager.post("/staff/items/1/decision", data={"csrf_token": token, "action": "confirm",
                                                      "reviewed_id": "2"})
    assert r.status_code == 302


@pytest.mark.parametrize(
    ("correction", "message"),
    [
        (Correction(False, "unknown", (), ()), "至少选择一个转交去向"),
        (Correction(True, "boss", ("mass",), ()), "类别不正确"),
        (Correction(True, "leadership", ("gossip",), ()), "未知纪律"),
        (Correction(False, "unknown", (), ("mars",)), "未知去向"),
    ],
)
def test_bad_corrections_are_refused(desk: Desk, correction: Correction, message: str) -> None:
    from intake.staff import StaffError

    ingest(desk, make_submission())
    user, _ = create_user(desk, "t1", "triager", password="long-enough-1")
    with pytest.raises(StaffError, match=message):
        decide(desk, Actor(user.id, "t1", "triager"), 1, reviewed_id=1, correction=correction)


def test_team_reply_reaches_the_reporter(app: Flask, desk: Desk) -> None:
    receipt = ingest(desk, make_submission())
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/reply", data={"csrf_token": token,
                                                   "text": "您反映的问题已收到，正在核实。"})
    assert r.status_code == 302
    public = app.test_client()
    response = public.post(f"/api/v1/reports/{receipt.code}/status",
                           json={"password": "secret-pass"}).get_json()
    assert [(x["from"], x["text"]) for x in response["messages"]] == [
        ("team", "您反映的问题已收到，正在核实。")]


def test_odd_queue_and_decision_input_is_not_a_crash(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    triager = staff_client(app, desk, "t1", "triager")
    assert triager.get("/staff/?cursor=99999999999999999999999.1").status_code == 200
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/decision", data={"csrf_token": token, "action": "confirm",
                                                      "reviewed_id": "²"})
    assert r.status_code == 409
    r = triager.post("/staff/items/999/reply", data={"csrf_token": token, "text": "您好"})
    assert r.status_code == 404
    assert triager.get("/staff/items/999").status_code == 404


def test_item_views_are_on_record(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    officer = staff_client(app, desk, "d1", "duty_officer")
    officer.get("/staff/items/1")
    with desk.sessions() as s:
        views = [(e.actor_label, e.submission_id) for e in s.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == "item.view"))]
    assert views == [("d1", 1)]


def test_admin_creates_accounts_with_one_time_passwords(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "a1", "admin")
    token = csrf_token(admin, "/staff/users")
    r = admin.post("/staff/users", data={"csrf_token": token, "username": "zhang",
                                         "display_name": "张干事", "role": "office"})
    page = r.get_data(as_text=True)
    assert "一次性密码" in page
    password = re.search(r"<code>([^<]+)</code>", page).group(1)
    fresh = login(app.test_client(), "zhang", password)
    assert fresh.get("/staff/").headers["Location"].endswith("/staff/password")
    r = admin.post("/staff/users", data={"csrf_token": token, "username": "zhang",
                                         "role": "auditor"})
    assert "已存在" in r.get_data(as_text=True)
    # the roles that read no item; a team's accounts are its leader's (test_accounts.py)
    for role in ("office", "auditor", "admin", "team_leader", "triager"):
        r = admin.post("/staff/users", data={"csrf_token": token, "username": f"x-{role}",
                                             "role": role})
        assert r.status_code == (409 if role in ("team_leader", "triager") else 200)
    with desk.sessions() as s:
        made = s.scalars(select(m.StaffUser.role).where(m.StaffUser.username.like("x-%")))
        assert sorted(made) == ["admin", "auditor", "office"]


CANDIDATE = {"mention": "村会计", "name": "王秀英", "post": "东岭村会计", "role": "staff",
             "score": 0.6, "start": -1, "end": -1}


def test_next_item_follows_the_queue_order(desk: Desk) -> None:
    start = datetime(2026, 3, 5, tzinfo=UTC)
    for i in range(5):  # ids 1..5, oldest first; the queue shows 5, 4, 3, 2, 1
        ingest(desk, make_submission(received_at=start + timedelta(hours=i)))
    user, _ = create_user(desk, "t1", "triager", password="long-enough-1")
    actor = Actor(user.id, "t1", "triager")
    decide(desk, actor, 4, reviewed_id=4)  # triaged: no longer awaiting
    with desk.sessions() as s:
        s.get_one(m.Submission, 2).status = "spam"
        s.commit()
        assert [db_next_item(s, i) for i in (5, 4, 3, 1)] == [4, 3, 1, None]
        assert [db_next_item(s, i, previous=True) for i in (5, 4, 3, 1)] == [None, 5, 4, 3]
        # awaiting triage: status received only, past the oldest back to the newest
        assert [db_next_item(s, i, awaiting=True) for i in (5, 4, 3, 1)] == [3, 3, 1, 5]
        assert db_next_item(s, 2, awaiting=True) == 1  # from a spam item too
        assert db_next_item(s, 999) is None
    for item in (5, 3):
        decide(desk, actor, item, reviewed_id=item)
    with desk.sessions() as s:
        assert db_next_item(s, 1, awaiting=True) is None


def test_decisions_with_next_go_to_the_next_awaiting_item(app: Flask, desk: Desk) -> None:
    start = datetime(2026, 3, 5, tzinfo=UTC)
    for i in range(3):
        ingest(desk, make_submission(received_at=start + timedelta(hours=i)))
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/3")
    page = triager.get("/staff/items/3").get_data(as_text=True)
    assert 'id="next-item" href="/staff/items/2"' in page and 'id="prev-item"' not in page
    confirm = {"csrf_token": token, "action": "confirm"}
    r = triager.post("/staff/items/3/decision", data={**confirm, "reviewed_id": "3",
                                                      "next": ["", "1"]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/items/2")
    # the plain buttons stay on the item, as before
    r = triager.post("/staff/items/2/decision", data={**confirm, "reviewed_id": "2", "next": ""})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/items/2")
    r = triager.post("/staff/items/1/decision", data={
        "csrf_token": token, "action": "correct", "reviewed_id": "1", "in_scope": "true",
        "subject_role": "subordinate_head", "disciplines": ["mass"], "next": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/")
    assert "没有待研判的件了" in triager.get("/staff/").get_data(as_text=True)
    with desk.sessions() as s:
        assert {row.status for row in s.scalars(select(m.Submission))} == {"triaged"}


def _with_candidate(desk: Desk, item_id: int = 1) -> None:
    with desk.sessions() as s:
        cls = s.get_one(m.Submission, item_id).current
        cls.candidates = [CANDIDATE]
        s.commit()


def test_candidate_pick_becomes_the_first_subject(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    _with_candidate(desk)
    triager = staff_client(app, desk, "t1", "triager")
    page = triager.get("/staff/items/1").get_data(as_text=True)
    assert "设为被反映人" in page and 'id="model-version"' in page and "keywords-" in page
    value = re.search(r'name="candidate" id="candidate-0" data-role="staff" value=\'([^\']+)\'',
                      page)
    assert value, "the candidate is not on the correction form"
    picked = json.loads(html.unescape(value.group(1)))
    assert picked == {k: CANDIDATE[k] for k in ("mention", "name", "post", "role")}
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/decision", data={
        "csrf_token": token, "action": "correct", "reviewed_id": "1", "in_scope": "true",
        "subject_role": "staff", "disciplines": ["mass"],
        "candidate": html.unescape(value.group(1))})  # as the browser sends it
    assert r.status_code == 302, r.get_data(as_text=True)
    with desk.sessions() as s:
        cls = s.get_one(m.Submission, 1).current
        assert cls.source == "staff" and cls.subject_role == "staff"
        first = cls.subjects[0]
        assert (first["name"], first["post"], first["role"], first["score"]) == (
            "王秀英", "东岭村会计", "staff", 0.6)
        assert [x["name"] for x in cls.subjects[1:]] == ["刘德福"]  # the others move down
        assert cls.candidates == []


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (json.dumps({**CANDIDATE, "role": "boss"}), "所选被反映人的类别不正确"),
        ("{not json", "所选被反映人信息不完整"),
        ("[" * 100000, "所选被反映人信息不完整"),  # deep nesting: refused, not a 500
        (json.dumps({"mention": "", "name": "", "post": "", "role": "staff"}), "信息不完整"),
        (json.dumps({**CANDIDATE, "name": ["王秀英"]}), "信息不完整"),
    ],
)
def test_bad_candidate_is_refused(app: Flask, desk: Desk, candidate: str, message: str) -> None:
    ingest(desk, make_submission())
    _with_candidate(desk)
    triager = staff_client(app, desk, "t1", "triager")
    token = csrf_token(triager, "/staff/items/1")
    r = triager.post("/staff/items/1/decision", data={
        "csrf_token": token, "action": "correct", "reviewed_id": "1", "in_scope": "true",
        "subject_role": "staff", "candidate": candidate, "next": "1"})
    assert r.status_code == 409 and message in r.get_data(as_text=True)
    with desk.sessions() as s:
        assert s.get_one(m.Submission, 1).current.version == 1


def test_evidence_links_to_its_place_in_the_text(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission(
        text="东岭村党支部书记刘德福把低保名额给了自己的亲戚，听说村会计也参与了，但没有贪污。"))
    triager = staff_client(app, desk, "t1", "triager")
    page = triager.get("/staff/items/1").get_data(as_text=True)
    marks = set(re.findall(r'<mark id="(ev-\d+)"', page))
    links = re.findall(r'<a class="quote" href="#(ev-\d+)"', page)
    assert links and set(links) <= marks  # overlapping evidence links to the run that won
    assert re.search(r'<li class="negated">.*?<span class="tag negated">否定</span>', page)
    assert re.search(r'<li class="hedged">.*?<span class="tag hedged">传闻/推测</span>', page)


def test_item_page_shows_people_and_categories_in_chinese(app: Flask, desk: Desk) -> None:
    # The form's category is named in Chinese; a witness and a restaurant are not listed as
    # people complained about.
    ingest(desk, make_submission(
        text="东岭村刘德福书记天天在“老地方饭店”吃喝，账都挂在村里，当时会计林小燕也在场。",
        category="mass"))
    triager = staff_client(app, desk, "t1", "triager")
    page = html.unescape(triager.get("/staff/items/1").get_data(as_text=True))
    chosen = r'<span class="quote form">反映人所选类别</span> <span class="hint">群众纪律</span>'
    assert re.search(chosen, page) and "mass" not in re.sub(r"<[^>]+>", "", page)
    people = re.search(r'<ul class="subjects">(.*?)</ul>', page, re.S)
    assert people and "刘德福" in people.group(1)
    assert "林小燕" not in people.group(1) and "饭店" not in people.group(1)
