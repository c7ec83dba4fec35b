"""The staff API's read side (staff-api.md) with personal tokens: two teams, two rounds, every
role; deadlines on the official calendar; the 统计 page. Real app, real database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from handlers.web import create_app
from intake.auth.apitokens import authenticate, create_token, revoke_tokens
from intake.desk import Desk
from intake.items import triage_overdue_before
from intake.pipeline import add_team_message, ingest
from intake.rounds import load_files
from intake.settings import EXAMPLE_ROUND
from intake.staff import create_user, set_active
from intake.store import models as m
from intake.triage import Actor, decide, set_spam
from tests.integration.test_cli import run
from tests.support import NAMED_IDENTITY, STAFF_PASSWORD, csrf_token, make_submission

CST = timezone(timedelta(hours=8))
TEAM_A, TEAM_B = "县委第一巡察组", "县委第二巡察组"
ITEM_KEYS = {"id", "round", "channel", "received_at", "title", "text", "status", "lead_no",
             "keeper", "in_scope", "subject_role", "disciplines", "routes", "repeat_of",
             "deadlines"}
# name: (role, team)
ACCOUNTS = {
    "duty_a": ("duty_officer", TEAM_A),
    "triager_a": ("triager", TEAM_A),
    "leader_a": ("team_leader", TEAM_A),
    "triager_b": ("triager", TEAM_B),
    "office": ("office", None),
    "admin2": ("admin", None),
    "auditor": ("auditor", None),
}


def second_round(tmp_path: Path) -> Path:
    """Team B's round: another team, slug, mailbox and unit (河西镇)."""
    source = EXAMPLE_ROUND.read_text(encoding="utf-8")
    source = source.replace(TEAM_A, TEAM_B).replace("青山", "河西").replace("xcz1@", "xcz2@")
    source = source.replace("round:\n", "round:\n  slug: hexi-2026\n", 1)
    path = tmp_path / "hexi.yaml"
    path.write_text(source, encoding="utf-8")
    return path


@dataclass
class World:
    desk: Desk
    app: Flask
    round_a: int
    round_b: int
    slug_a: str
    tokens: dict[str, str]
    items_a: list[int]
    items_b: list[int]
    named: int  # a named report of team A, posted through the public API
    named_code: str  # its query code

    def get(self, who: str | None, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.app.test_client().get(f"/api/v1/staff{path}", headers=headers, **kwargs)


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=CST)


@pytest.fixture
def world(app: Flask, desk: Desk, tmp_path: Path) -> World:
    load_files(desk.sessions, [second_round(tmp_path)])
    desk.rounds.refresh(force=True)
    entry_a = next(e for e in desk.rounds.all() if e.team == TEAM_A)
    entry_b = desk.rounds.by_slug("hexi-2026")
    assert entry_b is not None and entry_b.team == TEAM_B
    tokens = {}
    for name, (role, team) in ACCOUNTS.items():
        create_user(desk, name, role, password=STAFF_PASSWORD, teams=[team] if team else [])
        tokens[name] = create_token(desk, name, label="测试", actor_label="test")
    items_a = [ingest(desk, make_submission(round_id=entry_a.id, received_at=when,
                                            text=body)).submission_id
               for when, body in [
                   (at("2026-03-10", 9), "东岭村党支部书记刘德福把低保名额给了自己的亲戚。"),
                   (at("2026-03-11", 9), "镇财政所王刚虚报冒领补贴，账目不公开。"),
                   (at("2026-03-11", 9), "西坡村黄春生收受工程老板红包，群众意见很大。"),
                   (at("2026-03-12", 9), "南河村马德才在青苗补偿款中克扣村民钱款，100%属实。"),
                   (at("2026-03-12", 23, 30), "副镇长周伟公车私用，周末开公车去钓鱼。"),
               ]]
    items_b = [ingest(desk, make_submission(round_id=entry_b.id, received_at=when,
                                            text=body)).submission_id
               for when, body in [
                   (at("2026-03-10", 11), "河西镇财政所王刚挪用扶贫资金，大家都知道。"),
                   (at("2026-03-13", 9), "东岭村党支部书记刘德福把低保名额给了自己的亲戚。"),
               ]]
    client = app.test_client()
    response = client.post("/api/v1/reports", json={
        "round": entry_a.slug, "anonymous": False, "password": "my-secret-1",
        "reporter_name": NAMED_IDENTITY.name, "reporter_phone": NAMED_IDENTITY.phone,
        "text": f"我是{NAMED_IDENTITY.name}，手机{NAMED_IDENTITY.phone}。反映青山镇财政所"
                "所长郑国平挪用扶贫资金修自家房子。"})
    assert response.status_code == 201, response.get_json()
    with desk.sessions() as db:
        named = db.scalar(select(m.Submission.id).order_by(m.Submission.id.desc()).limit(1))
    return World(desk, app, entry_a.id, entry_b.id, entry_a.slug, tokens, items_a, items_b,
                 named, response.get_json()["code"])


def all_items(world: World, who: str, query: str = "") -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        path = f"/items?{query}" + (f"&cursor={cursor}" if cursor else "")
        body = world.get(who, path).get_json()
        found += body["items"]
        cursor = body["next"]
        if cursor is None:
            return found


# -- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/items", "/items/1", "/stats"])
def test_no_token_or_a_wrong_one_is_401_in_the_public_error_shape(world: World,
                                                                   path: str) -> None:
    client = world.app.test_client()
    for headers in ({}, {"Authorization": "Bearer xczusr_not-a-token"},
                    {"Authorization": f"Basic {world.tokens['triager_a']}"},
                    {"Authorization": "Bearer " + world.tokens["triager_a"][:-2]}):
        response = client.get(f"/api/v1/staff{path}", headers=headers)
        assert response.status_code == 401
        error = response.get_json()["error"]
        assert error["code"] == "unauthorized" and error["field"] is None
        assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_tokens_and_disabled_accounts_are_401(world: World) -> None:
    desk = world.desk
    assert world.get("triager_a", "/items").status_code == 200
    second = create_token(desk, "triager_a", actor_label="test")
    assert revoke_tokens(desk, "triager_a", actor_label="test") == 2
    assert world.get("triager_a", "/items").status_code == 401
    assert authenticate(desk, second) is None
    assert revoke_tokens(desk, "triager_a", actor_label="test") == 0

    assert world.get("leader_a", "/stats").status_code == 200
    set_active(desk, "leader_a", False, actor_label="test")
    assert world.get("leader_a", "/stats").status_code == 401
    set_active(desk, "leader_a", True, actor_label="test")
    assert world.get("leader_a", "/stats").status_code == 200

    with desk.sessions() as db:
        rows = db.scalars(select(m.StaffToken)).all()
        assert all(len(r.token_lookup) == 64 and r.token_lookup not in (second,) for r in rows)
        used = db.scalar(select(m.StaffToken).join(m.StaffUser).where(
            m.StaffUser.username == "leader_a"))
        assert used.last_used_at is not None
        actions = [e.action for e in db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action.like("token.%")))]
    assert actions.count("token.create") == len(ACCOUNTS) + 1
    assert actions.count("token.revoke") == 2


def test_wrong_tokens_are_rate_limited_like_device_tokens(world: World) -> None:
    settings = replace(world.desk.settings, status_failure_limit="3 per minute")
    client = create_app(settings, desk=world.desk).test_client()
    bad = {"Authorization": "Bearer xczusr_guess"}
    codes = [client.get("/api/v1/staff/items", headers=bad).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


# -- every role ------------------------------------------------------------------------------

# role → (list, detail of an A item, stats)
EXPECTED = {
    "duty_a": (200, 200, 403),
    "triager_a": (200, 200, 200),
    "leader_a": (200, 200, 200),
    "triager_b": (200, 404, 200),
    "office": (403, 403, 200),
    "admin2": (403, 403, 403),
    "auditor": (403, 403, 403),
}


@pytest.mark.parametrize("who", list(ACCOUNTS))
def test_every_role_gets_what_the_contract_says(world: World, who: str) -> None:
    listing, detail, counts = EXPECTED[who]
    item_a, item_b = world.items_a[0], world.items_b[0]
    response = world.get(who, "/items")
    assert response.status_code == listing
    if listing == 200:
        mine = world.items_b if who.endswith("_b") else [*world.items_a, world.named]
        theirs = [*world.items_a, world.named] if who.endswith("_b") else world.items_b
        ids = {i["id"] for i in all_items(world, who)}
        assert ids == set(mine) and not ids & set(theirs)
    else:
        assert response.get_json()["error"]["code"] == "forbidden"

    assert world.get(who, f"/items/{item_a}").status_code == detail
    if who.endswith("_a"):  # another team's item is not found, exactly like a missing one
        missing = world.get(who, "/items/999999")
        other = world.get(who, f"/items/{item_b}")
        assert other.status_code == missing.status_code == 404
        assert other.get_json() == missing.get_json()
    stats = world.get(who, "/stats")
    assert stats.status_code == counts
    if counts == 200:
        body = stats.get_json()
        expected = {"triager_b": len(world.items_b), "office":
                    len(world.items_a) + 1 + len(world.items_b)}.get(who, len(world.items_a) + 1)
        assert body["total"] == expected
        # the contract's keys, and more (issue 14: by_unit, overdue, …; tests/…/test_stats.py)
        assert set(body) >= {"total", "by_channel", "by_status", "by_discipline",
                             "by_subject_role", "by_route", "by_day"}


def test_an_item_has_the_contract_shape_and_no_identity(world: World) -> None:
    listing = world.get("leader_a", "/items").get_data(as_text=True)
    detail = world.get("leader_a", f"/items/{world.named}")
    raw = detail.get_data(as_text=True)
    for output in (listing, raw):
        assert NAMED_IDENTITY.name not in output and NAMED_IDENTITY.phone not in output
        assert world.named_code not in output and "my-secret-1" not in output
    item = detail.get_json()
    assert ITEM_KEYS | {"transfers", "history", "duplicates"} <= set(item)
    assert item["round"] == world.slug_a and item["channel"] == "api"
    assert "郑国平" in item["text"] and "［姓名已隐去］" in item["text"]
    assert item["lead_no"] is None and item["keeper"] is None and item["repeat_of"] is None
    assert item["transfers"] == []
    assert [d["kind"] for d in item["deadlines"]] == ["triage", "reply_accept", "close"]
    assert datetime.fromisoformat(item["received_at"]).utcoffset() == timedelta(hours=8)
    assert [h["event"] for h in item["history"]][:2] == ["received", "suggested"]
    with world.desk.sessions() as db:
        event = db.scalar(select(m.AuditEvent).where(m.AuditEvent.action == "item.view"))
        assert event.submission_id == world.named and event.actor_label == "leader_a"


def test_history_shows_decisions_and_status_changes_by_whom(world: World) -> None:
    desk = world.desk
    with desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == "triager_a"))
        actor = Actor(user.id, user.username, user.role)
        current = db.get(m.Submission, world.items_a[1]).current_classification_id
    decide(desk, actor, world.items_a[1], reviewed_id=current)
    set_spam(desk, actor, world.items_a[2], spam=True)
    item = world.get("leader_a", f"/items/{world.items_a[1]}").get_json()
    assert item["status"] == "triaged"
    assert [(h["event"], h["by"]) for h in item["history"]] == [
        ("received", None), ("suggested", None), ("confirmed", "triager_a")]
    spam = world.get("leader_a", f"/items/{world.items_a[2]}").get_json()
    assert spam["history"][-1]["event"] == "spam" and spam["history"][-1]["by"] == "triager_a"
    assert all(not d["overdue"] for d in spam["deadlines"])
    # spam is left out of the list unless asked for, and out of every count but by_status
    assert world.items_a[2] not in {i["id"] for i in all_items(world, "triager_a")}
    assert [i["id"] for i in all_items(world, "triager_a", "status=spam")] == [world.items_a[2]]
    stats = world.get("triager_a", "/stats").get_json()
    assert stats["total"] == len(world.items_a)  # four of five, and the named report
    assert stats["by_status"]["spam"] == 1 and stats["by_status"]["triaged"] == 1
    assert sum(stats["by_channel"].values()) == stats["total"]


def test_duplicates_are_listed_only_within_the_scope(world: World) -> None:
    desk = world.desk
    again = ingest(desk, make_submission(round_id=world.round_a, received_at=at("2026-03-14"),
                                         text="东岭村党支部书记刘德福把低保名额给了自己的亲戚。"))
    with desk.sessions() as db:
        links = db.scalars(select(m.DuplicateLink).where(
            m.DuplicateLink.submission_id == again.submission_id)).all()
    assert world.items_a[0] in {link.other_id for link in links}
    item = world.get("triager_a", f"/items/{again.submission_id}").get_json()
    linked = {d["id"] for d in item["duplicates"]}
    assert world.items_a[0] in linked and world.items_b[1] not in linked
    assert all(d["reason"] in m.DUPLICATE_REASONS for d in item["duplicates"])


# -- listing ---------------------------------------------------------------------------------


def test_cursor_paging_returns_every_item_once_newest_first(world: World) -> None:
    pages = []
    cursor = None
    while True:
        body = world.get("triager_a", "/items?limit=2" + (f"&cursor={cursor}" if cursor else "")
                         ).get_json()
        pages.append([i["id"] for i in body["items"]])
        cursor = body["next"]
        if cursor is None:
            break
    ids = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [2, 2, 2] and len(ids) == len(set(ids)) == 6
    assert set(ids) == {*world.items_a, world.named}
    items = all_items(world, "triager_a", "limit=2")
    keys = [(i["received_at"], i["id"]) for i in items]
    assert [k[1] for k in keys] == [k[1] for k in sorted(
        keys, key=lambda k: (datetime.fromisoformat(k[0]), k[1]), reverse=True)]
    # the two items received at the same moment come in id order, newest id first
    assert ids.index(world.items_a[2]) < ids.index(world.items_a[1])


def test_q_finds_a_two_character_name_in_the_own_teams_items_only(world: World) -> None:
    assert [i["id"] for i in all_items(world, "triager_a", "q=王刚")] == [world.items_a[1]]
    assert [i["id"] for i in all_items(world, "triager_b", "q=王刚")] == [world.items_b[0]]
    assert [i["id"] for i in all_items(world, "triager_a", "q=100%25")] == [world.items_a[3]]
    assert all_items(world, "triager_a", "q=%25") == [world.get(
        "triager_a", "/items?q=100%25").get_json()["items"][0]]
    assert all_items(world, "triager_a", "q=_") == []
    # the reporter's name is masked in the stored text: a search for it finds nothing
    assert all_items(world, "leader_a", f"q={NAMED_IDENTITY.name}") == []


def test_round_since_until_and_keeper_filters(world: World) -> None:
    ids = {i["id"] for i in all_items(world, "triager_a", f"round={world.slug_a}")}
    assert ids == {*world.items_a, world.named}
    assert all_items(world, "triager_a", "round=hexi-2026") == []  # not theirs: nothing
    response = world.get("triager_a", "/items?round=no-such-round")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "round"
    # dates are whole days at +08:00: 23:30 on the 12th is the 12th
    day = all_items(world, "triager_a", "since=2026-03-12&until=2026-03-12")
    assert {i["id"] for i in day} == {world.items_a[3], world.items_a[4]}
    moment = all_items(world, "triager_a", "since=2026-03-11T09:00:00%2B08:00&until=2026-03-12")
    assert {i["id"] for i in moment} == {world.items_a[1], world.items_a[2], world.items_a[3],
                                         world.items_a[4]}
    assert all_items(world, "triager_a", "keeper=wang") == []
    assert len(all_items(world, "triager_a", "keeper=")) == 6
    for query, field in [("since=yesterday", "since"), ("until=2026-13-01", "until"),
                         ("status=lost", "status"), ("overdue=yes", "overdue"),
                         ("limit=0", "limit"), ("limit=201", "limit"), ("cursor=abc", "cursor"),
                         ("since=2026-03-12&until=2026-03-11", "until")]:
        response = world.get("triager_a", f"/items?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["error"]["field"] == field


# -- deadlines -------------------------------------------------------------------------------


def test_deadlines_follow_the_official_calendar_across_national_day(world: World) -> None:
    desk = world.desk
    # Monday 28 September 2026: 1–7 October are holidays, Saturday 10 October a make-up day.
    before = ingest(desk, make_submission(
        round_id=world.round_a, received_at=at("2026-09-28"), anonymous=False,
        identity=NAMED_IDENTITY)).submission_id
    # 20:00 UTC on the 29th is already the 30th at +08:00.
    later = ingest(desk, make_submission(
        round_id=world.round_a, received_at=datetime(2026, 9, 29, 20, 0, tzinfo=UTC)
    )).submission_id
    world.app.extensions["clock"] = lambda: at("2026-10-26", 9)

    item = world.get("leader_a", f"/items/{before}").get_json()
    assert {d["kind"]: (d["due"], d["overdue"]) for d in item["deadlines"]} == {
        "triage": ("2026-10-23", True),  # 15th working day after, counting 10 October
        "reply_accept": ("2026-10-23", True),
        "close": ("2026-11-27", False),
    }
    other = world.get("leader_a", f"/items/{later}").get_json()
    assert [(d["kind"], d["due"], d["overdue"]) for d in other["deadlines"]] == [
        ("triage", "2026-10-27", False), ("close", "2026-11-29", False)]  # anonymous: no reply

    page = login(world, "leader_a").get(f"/staff/items/{before}").get_data(as_text=True)
    assert "研判（受理或转办） 2026-10-23 <span class=\"tag warn\">已超期</span>" in page
    assert "办结 2026-11-27</p>" in page  # the item page shows the same clocks

    overdue = {i["id"] for i in all_items(world, "leader_a", "overdue=true")}
    assert before in overdue and later not in overdue
    assert set(world.items_a) <= overdue  # March items, never triaged

    with desk.sessions() as db:
        leader = db.scalar(select(m.StaffUser.id).where(m.StaffUser.username == "leader_a"))
    add_team_message(desk, before, leader, "您反映的问题已收到，我组正在研判。")
    item = world.get("leader_a", f"/items/{before}").get_json()
    assert {d["kind"]: d["overdue"] for d in item["deadlines"]}["reply_accept"] is False
    with desk.sessions() as db:
        db.execute(text("UPDATE submissions SET status = 'accepted' WHERE id = :i"), {"i": before})
        db.commit()
    item = world.get("leader_a", f"/items/{before}").get_json()
    assert {d["kind"]: d["overdue"] for d in item["deadlines"]}["triage"] is False
    assert before not in {i["id"] for i in all_items(world, "leader_a", "overdue=true")}


def test_the_overdue_cutoff_is_the_day_after_the_last_overdue_receipt(world: World) -> None:
    entry = world.desk.rounds.get(world.round_a)
    assert entry is not None
    ((round_id, cutoff),) = triage_overdue_before([entry], at("2026-10-24", 12))
    # due 10-23 (received 09-28) is overdue on the 24th; due 10-26 (09-29) is not yet
    assert round_id == entry.id and cutoff == at("2026-09-29", 0)
    assert cutoff.date() == date(2026, 9, 29)


# -- counts ----------------------------------------------------------------------------------


def test_counts_per_team_and_combined_for_the_office(world: World) -> None:
    a = world.get("triager_a", "/stats").get_json()
    b = world.get("triager_b", "/stats").get_json()
    office = world.get("office", "/stats").get_json()
    assert a["total"] == len(world.items_a) + 1 and b["total"] == len(world.items_b)
    assert office["total"] == a["total"] + b["total"]
    for key in ("by_channel", "by_status", "by_subject_role", "by_discipline"):
        assert office[key] == {k: a[key].get(k, 0) + b[key].get(k, 0) for k in office[key]}
    assert a["by_channel"]["web"] == len(world.items_a) and a["by_channel"]["api"] == 1
    # by day, at +08:00: 23:30 on the 12th is the 12th; B's items are not in A's days
    assert a["by_day"]["2026-03-12"] == 2 and a["by_day"]["2026-03-11"] == 2
    assert "2026-03-13" not in a["by_day"] and office["by_day"]["2026-03-13"] == 1
    assert set(a["by_discipline"]) >= {"political", "integrity", "mass"}
    assert sum(a["by_route"].values()) >= 1

    only_a = world.get("office", f"/stats?team={TEAM_A}").get_json()
    assert only_a == a
    assert world.get("office", "/stats?round=hexi-2026").get_json() == b
    window = world.get("office", "/stats?since=2026-03-12&until=2026-03-13").get_json()
    assert window["total"] == 3
    assert world.get("triager_a", "/stats?round=hexi-2026").get_json()["total"] == 0
    assert world.get("triager_a", f"/stats?team={TEAM_B}").get_json()["total"] == 0
    for query, field in [("team=没有这个组", "team"), ("round=nope", "round"),
                         ("since=3月", "since")]:
        response = world.get("office", f"/stats?{query}")
        assert response.status_code == 400 and response.get_json()["error"]["field"] == field


# -- the 统计 page ---------------------------------------------------------------------------


def login(world: World, username: str) -> FlaskClient:
    with world.desk.sessions() as db:
        db.execute(text("UPDATE staff_users SET must_change_password = false "
                        "WHERE username = :u"), {"u": username})
        db.commit()
    client = world.app.test_client()
    token = csrf_token(client, "/staff/login")
    response = client.post("/staff/login", data={"username": username,
                                                 "password": STAFF_PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302
    return client


def test_the_stats_page_shows_the_same_counts(world: World) -> None:
    client = login(world, "triager_a")
    page = client.get("/staff/stats")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/staff/stats"' in html and "共收到 <strong>6</strong> 件" in html
    assert "网络举报" in html and "hexi-2026" not in html  # no other team's round to choose
    assert "共收到 <strong>0</strong> 件" in client.get(
        "/staff/stats?round=hexi-2026").get_data(as_text=True)
    bad = client.get("/staff/stats?since=someday")
    assert bad.status_code == 400 and "日期格式不对" in bad.get_data(as_text=True)

    office = login(world, "office").get(f"/staff/stats?team={TEAM_B}")
    assert office.status_code == 200
    html = office.get_data(as_text=True)
    assert "共收到 <strong>2</strong> 件" in html and "hexi-2026" in html
    assert "王刚" not in html  # counts, never texts

    assert login(world, "duty_a").get("/staff/stats").status_code == 403


# -- the command line ------------------------------------------------------------------------


def test_users_token_prints_the_token_once_and_revokes(world: World) -> None:
    r = run(["users", "token", "triager_b", "--label", "数据看板"], world.desk)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xczusr_") and len(lines[0]) > 40
    world.tokens["cli"] = lines[0]
    body = world.get("cli", "/items").get_json()
    assert {i["id"] for i in body["items"]} == set(world.items_b)
    with world.desk.sessions() as db:
        assert db.scalar(select(m.StaffToken.label).order_by(m.StaffToken.id.desc()).limit(1)
                         ) == "数据看板"
    r = run(["users", "token", "triager_b", "--revoke"], world.desk)
    assert r.returncode == 0 and "2 个" in r.stdout
    assert world.get("cli", "/items").status_code == 401
    r = run(["users", "token", "nobody"], world.desk)
    assert r.returncode == 2 and "nobody" in r.stderr
