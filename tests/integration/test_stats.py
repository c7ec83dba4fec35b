"""The statistics (issue 14): the counts the staff API, the 统计 page, its charts and its
workbook share (intake.stats), for a team and for the office, with spam, repeats, overdue
items, leads, transfers and another team's items. Real app, real database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intake.store import models as m
from intake.triage import Actor, set_spam
from tests.integration.test_leads import post, team  # noqa: F401
from tests.integration.test_staff_api import TEAM_A, TEAM_B, World, all_items, world  # noqa: F401
from tests.support import NAMED_IDENTITY

CONTRACT_KEYS = {"total", "by_channel", "by_status", "by_discipline", "by_subject_role",
                 "by_route", "by_day"}


@pytest.fixture
def worked(team: World) -> World:  # noqa: F811
    """Team A's items worked on: a lead closed after a talk (谈话函询), a transfer, a repeat,
    spam; team B's left as they came."""
    a = team.items_a
    for path, body in [
        (f"/items/{a[0]}/accept", {"keeper": "triager_a"}),
        (f"/items/{a[0]}/close", {"disposal": "talk_inquiry", "note": "已谈话"}),
        (f"/items/{a[1]}/transfers", {"department": "human_resources"}),
        (f"/items/{a[3]}/repeat", {"of": a[2]}),
    ]:
        response = post(team, "triager_a", path, body)
        assert response.status_code in (200, 201), (path, response.get_json())
    with team.desk.sessions() as db:
        leader = db.query(m.StaffUser).filter_by(username="leader_a").one()
    set_spam(team.desk, Actor(leader.id, "leader_a", "team_leader"), a[4], spam=True)
    return team


def counts(w: World, who: str, query: str = "") -> dict[str, Any]:
    response = w.get(who, f"/stats{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_team_counts_its_own_round_with_the_new_keys(worked: World) -> None:
    a = counts(worked, "triager_a")
    assert set(a) >= CONTRACT_KEYS
    for key in CONTRACT_KEYS - {"total"}:
        assert all(isinstance(n, int) for n in a[key].values()), key
    # four of A's five items (one is spam) and the named report
    assert a["total"] == 5 and a["by_status"]["spam"] == 1
    assert a["repeats"] == 1 and a["leads"] == 1 and a["transfers"] == 1
    assert a["by_disposal"]["talk_inquiry"] == 1 and a["by_disposal"]["repeat"] == 1
    assert sum(a["by_disposal"].values()) == 2
    assert a["by_reporter"] == {"named": 1, "anonymous": 4}
    assert sum(a["by_scope"].values()) == a["total"] and set(a["by_scope"]) == {
        "in", "out", "unknown"}
    assert a["by_round"] == {worked.slug_a: 5} and a["by_team"] == {TEAM_A: 5}
    # the places: roster villages, the township's own leader (郑国平, no place in the file),
    # and 镇财政所王刚 whom nothing places
    assert a["by_unit"] == {"青山镇东岭村": 1, "青山镇南河村": 1, "青山镇西坡村": 1,
                            "青山镇（本级）": 1, "unknown": 1}
    # overdue (today is long after March): the transfer's item (its close limit passed) and
    # the untouched item; not the closed lead, the repeat, the spam or the fresh named report.
    # The same items the queue's overdue filter lists.
    overdue = all_items(worked, "triager_a", "overdue=true")
    assert a["overdue"] == len(overdue) == 2
    assert {i["id"] for i in overdue} == {worked.items_a[1], worked.items_a[2]}


def test_another_teams_items_are_never_counted_for_a_team_and_always_for_the_office(
        worked: World) -> None:
    a, b = counts(worked, "triager_a"), counts(worked, "triager_b")
    office = counts(worked, "office")
    assert b["total"] == 2 and b["leads"] == b["transfers"] == b["repeats"] == 0
    assert b["by_team"] == {TEAM_B: 2} and all(k.startswith("河西镇") for k in b["by_unit"]
                                                if k != "unknown")
    assert not any(k.startswith("河西镇") for k in a["by_unit"])
    assert office["total"] == a["total"] + b["total"] == 7
    assert office["by_team"] == {TEAM_A: 5, TEAM_B: 2}
    assert office["leads"] == 1 and office["transfers"] == 1 and office["repeats"] == 1
    assert office["overdue"] == a["overdue"] + b["overdue"] == 4
    for key in ("by_scope", "by_reporter", "by_disposal", "by_unit"):
        assert office[key] == {k: a[key].get(k, 0) + b[key].get(k, 0)
                               for k in {*a[key], *b[key]}}, key
    assert counts(worked, "office", f"?team={TEAM_A}") == a
    assert counts(worked, "office", "?round=hexi-2026") == b
    # a team member asking for the other team's round or team gets nothing of it
    other = counts(worked, "triager_a", "?round=hexi-2026")
    assert other["total"] == other["leads"] == other["overdue"] == 0 and other["by_unit"] == {}
    # the period: only the 12th (the repeat and the spam of A)
    day = counts(worked, "office", "?since=2026-03-12&until=2026-03-12")
    assert day["total"] == 1 and day["repeats"] == 1 and day["by_status"]["spam"] == 1


def test_counts_carry_no_identity(worked: World) -> None:
    for who in ("triager_a", "leader_a", "office"):
        body = json.dumps(counts(worked, who), ensure_ascii=False)
        assert "青山镇东岭村" in body or who == "triager_b"  # the search can find Chinese
        for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
                       NAMED_IDENTITY.address, worked.named_code, "刘德福", "低保"):
            assert secret not in body
