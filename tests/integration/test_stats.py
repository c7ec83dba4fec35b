"""The statistics (issue 14): the counts the staff API, the 统计 page, its charts and its
workbook share (intake.stats), for a team and for the office, with spam, repeats, overdue
items, leads, transfers and another team's items. Real app, real database."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from intake.store import models as m
from intake.triage import Actor, set_spam
from tests.integration.test_leads import post, team  # noqa: F401
from tests.integration.test_staff_api import (  # noqa: F401
    TEAM_A,
    TEAM_B,
    World,
    all_items,
    login,
    world,
)
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
        "in", "out", "pending", "unknown"}
    # what triage decided: the two items nobody has worked on are pending, whatever the
    # classifier suggested (the weekly report counts them so too)
    assert a["by_scope"]["pending"] == a["by_status"]["received"] == 2
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


# -- the 统计 page, its charts and workbook ----------------------------------------------------


def test_the_page_shows_every_count_with_chinese_names_and_its_charts(worked: World) -> None:
    client = login(worked, "leader_a")
    page = client.get("/staff/stats")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "共收到 <strong>5</strong> 件" in html and "下载 Excel" in html
    for name in ("网络举报", "码上巡察", "已办结", "疑似垃圾", "廉洁纪律", "下级主要负责人",
                 "青山镇东岭村", "未能确定", "谈话函询", "重复件", "实名", "匿名", "属于受理范围",
                 "受理为线索", "超期未办", "民政局"):
        assert name in html, name
    charts = re.findall(r'<img src="([^"]+\.svg[^"]*)"', html)
    assert len(charts) >= 10 and "/staff/stats/chart/channel.svg" in html
    assert "下载图片" in html
    # 下载图片 works on the page as first opened, with no filter (its link once lacked a "?")
    downloads = re.findall(r'<a href="([^"]+)" download>下载图片', html)
    assert len(downloads) == len(charts)
    for url in downloads[:2]:
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200 and response.mimetype == "image/png", url
    for url in charts:
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200, url
        assert response.mimetype == "image/svg+xml"
        assert "no-store" in response.headers["Cache-Control"]
        root = ElementTree.fromstring(response.data)
        assert root.tag.endswith("svg") and len(list(root.iter())) > 20
    # one team, one round: no comparison of teams or rounds
    assert "/staff/stats/chart/team.svg" not in html and "/staff/stats/chart/round.svg" not in html
    assert "刘德福" not in html and NAMED_IDENTITY.name not in html


def test_charts_as_png_keep_the_pages_parameters_and_refuse_properly(worked: World) -> None:
    client = login(worked, "triager_a")
    png = client.get("/staff/stats/chart/unit.png?since=2026-03-10&download=1")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "attachment" in png.headers["Content-Disposition"]
    image = Image.open(io.BytesIO(png.data))
    image.verify()
    assert image.format == "PNG" and image.size[0] >= 1200
    day = client.get("/staff/stats/chart/day.png?round=" + worked.slug_a)
    assert day.status_code == 200 and Image.open(io.BytesIO(day.data)).size[0] >= 1200
    assert client.get("/staff/stats/chart/nothing.svg").status_code == 404
    assert client.get("/staff/stats/chart/channel.gif").status_code == 404
    assert client.get("/staff/stats/chart/channel.svg?since=someday").status_code == 400
    assert client.get("/staff/stats/chart/channel.svg?round=nope").status_code == 400
    # another team's round: counted as nothing, never shown
    other = client.get("/staff/stats?round=hexi-2026").get_data(as_text=True)
    assert "共收到 <strong>0</strong> 件" in other
    assert login(worked, "duty_a").get("/staff/stats/chart/channel.svg").status_code == 403
    assert login(worked, "admin2").get("/staff/stats/chart/channel.png").status_code == 403
    anonymous = worked.app.test_client().get("/staff/stats/chart/channel.svg")
    assert anonymous.status_code in (302, 401)


def test_the_office_compares_teams_and_never_reads_a_text(worked: World) -> None:
    client = login(worked, "office")
    html = client.get("/staff/stats").get_data(as_text=True)
    assert "共收到 <strong>7</strong> 件" in html and "全部巡察组" in html
    assert "/staff/stats/chart/team.svg" in html and TEAM_B in html
    assert client.get("/staff/stats/chart/team.svg").status_code == 200
    assert "东岭村党支部书记" not in html and "低保" not in html
    assert 'id="weekly-report"' not in html  # a weekly report is of one round


def test_one_round_chosen_offers_its_weekly_report_to_the_office(worked: World) -> None:
    client = login(worked, "office")
    html = client.get("/staff/stats?round=hexi-2026").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="weekly-report".*?</form>', html, re.S)
    assert form is not None and 'value="hexi-2026"' in form.group(0)
    week = re.search(r'name="week" value="(\d{4}-W\d{2})"', form.group(0))
    assert week is not None
    response = client.get(f"/staff/reports/weekly.docx?round=hexi-2026&week={week.group(1)}")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"


def _rows(ws: Any) -> dict[str, Any]:
    return {str(row[0]): row[1] for row in ws.iter_rows(min_row=4, values_only=True)
            if row[0] is not None}


def test_the_workbook_reads_back_with_its_counts_and_print_setup(worked: World) -> None:
    client = login(worked, "leader_a")
    response = client.get("/staff/stats.xlsx?since=2026-03-01&until=2026-03-31")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "汇总" and "按受理渠道" in book.sheetnames
    summary = book["汇总"]
    assert "信访举报受理情况统计" in summary["A1"].value
    assert "2026年3月1日至2026年3月31日" in summary["A2"].value
    assert [c.value for c in summary[3]][:2] == ["项目", "件数"]
    assert _rows(summary)["收件（不含疑似垃圾）"] == 4  # the named report came in December
    assert _rows(summary)["受理为线索"] == 1 and _rows(summary)["超期未办"] == 2
    channels = book["按受理渠道"]
    assert [c.value for c in channels[3]] == ["类别", "件数", "占比"]
    assert _rows(channels)["网络举报"] == 4 and _rows(channels)["码上巡察"] == 0
    assert channels.freeze_panes == "A4" and channels.print_title_rows == "$3:$3"
    assert channels.page_setup.orientation == "landscape"
    assert str(channels.page_setup.paperSize) == channels.PAPERSIZE_A4
    assert channels.column_dimensions["A"].width >= 20
    assert channels["C4"].number_format == "0.0%"
    days = book["按收到日期"]
    assert isinstance(days["A4"].value, datetime) and days["A4"].value.date() == date(2026, 3, 10)
    assert [r[1] for r in days.iter_rows(min_row=4, values_only=True)] == [1, 2, 1]
    assert _rows(book["按涉及的单位或村"])["青山镇东岭村"] == 1
    # disposals are shares of the closed items, so they add up to the whole
    shares = [r[2] for r in book["按办结方式"].iter_rows(min_row=4, values_only=True)
              if r[1]]
    assert shares and abs(sum(shares) - 1) < 1e-9
    everything = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows()
                          for c in row if c.value is not None)
    for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
                   NAMED_IDENTITY.address, worked.named_code, "刘德福", "低保"):
        assert secret not in everything
    with worked.desk.sessions() as db:
        events = db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "stats.download")).all()
    assert len(events) == 1 and events[0].actor_label == "leader_a"


def test_the_api_workbook_takes_the_stats_parameters(worked: World) -> None:
    response = worked.get("office", f"/stats.xlsx?team={TEAM_B}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert TEAM_B in book["汇总"]["A1"].value
    assert _rows(book["汇总"])["收件（不含疑似垃圾）"] == 2
    assert worked.get("triager_a", "/stats.xlsx?round=nope").get_json()["error"]["field"] == \
        "round"
    assert worked.get("duty_a", "/stats.xlsx").status_code == 403
    assert worked.get(None, "/stats.xlsx").status_code == 401
    own = load_workbook(io.BytesIO(worked.get("triager_a", "/stats.xlsx").data))
    assert _rows(own["汇总"])["收件（不含疑似垃圾）"] == 5
    assert TEAM_B not in " ".join(str(c.value) for ws in own.worksheets
                                  for row in ws.iter_rows() for c in row)
