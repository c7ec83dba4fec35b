"""The team's report documents through the staff API and the pages (staff-api.md
`reports/weekly.docx`, and the round's closing appendices): read back with python-docx for a
round with leads, a transfer, a closed lead, a repeat, a notice done and an overdue transfer;
never a reporter's name, phone, e-mail address, ID number, address or query code anywhere in
the documents' XML; week parsing; who may have which round's reports; the handover bundle
holds the appendices. Two teams, real app, real database."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from docx import Document
from sqlalchemy import select, update

from intake import leads
from intake.handoverdata import db_handover_bundle
from intake.pipeline import ingest
from intake.protect import Identity
from intake.store import models as m
from tests.integration.test_handover_bundle import opened
from tests.integration.test_leads import team  # noqa: F401
from tests.integration.test_ledger_api import actor, worked
from tests.integration.test_staff_api import World, at, login, world  # noqa: F401
from tests.support import NAMED_IDENTITY, make_submission

WEEK = "2026-W11"  # 9 to 15 March 2026; the example round opened on Monday 2 March (W10)
EMAIL_IDENTITY = Identity(name="司马清扬", email="sima.qy@example.net", phone="13800765432")


def docx_xml(content: bytes) -> str:
    """Every XML part of a DOCX (body, headers, footers, properties) as one text."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                         if name.endswith((".xml", ".rels")))


def tables(content: bytes) -> dict[str, list[list[str]]]:
    """The document's tables by their first header cell."""
    found: dict[str, list[list[str]]] = {}
    for table in Document(io.BytesIO(content)).tables:
        rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
        found.setdefault(rows[0][0], rows)
    return found


def paragraphs(content: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(content)).paragraphs if p.text.strip()]


def fetch(w: World, who: str, path: str) -> Any:
    response = w.get(who, path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert response.headers["Cache-Control"] == "no-store"
    return response


@pytest.fixture
def reported(team: World) -> dict[str, Any]:  # noqa: F811
    """Team A's round worked in the week of 9 March: two leads (one from a named letter),
    a third from a named e-mail, a transfer left unanswered past its accept date, a lead
    closed by 谈话函询, a repeat, a spam item, and the letter writer told."""
    done = worked(team)
    mail = ingest(team.desk, make_submission(
        round_id=team.round_a, channel="email", received_at=at("2026-03-14", 8),
        anonymous=False, identity=EMAIL_IDENTITY,
        text=f"我是{EMAIL_IDENTITY.name}，邮箱{EMAIL_IDENTITY.email}，电话{EMAIL_IDENTITY.phone}。"
             "反映青山镇城建办主任吴有德收受开发商购物卡。"))
    done["mail"], done["mail_code"] = mail.submission_id, mail.code
    done["third"] = leads.accept(team.desk, actor(team, "leader_a"), mail.submission_id,
                                 keeper="triager_a2")
    a = team.items_a
    leads.mark_repeat(team.desk, actor(team, "triager_a"), a[3], of=a[2])
    in_week = at("2026-03-12", 15)
    with team.desk.sessions() as db:  # the steps happened in the week, as a real round's do
        db.execute(update(m.Lead).where(m.Lead.round_id == team.round_a)
                   .values(accepted_at=in_week))
        db.execute(update(m.Lead).where(m.Lead.submission_id == mail.submission_id)
                   .values(accepted_at=at("2026-03-16", 9)))  # the next week
        db.execute(update(m.Transfer).where(m.Transfer.round_id == team.round_a).values(
            dispatched_at=in_week, accept_due=date(2026, 3, 13), reply_due=date(2026, 5, 11)))
        db.execute(update(m.Submission).where(m.Submission.id == a[0])
                   .values(closed_at=at("2026-03-13", 11)))
        notice = db.scalar(select(m.Notice).where(m.Notice.submission_id == done["letter"]))
        assert notice is not None
        notice.state, notice.done_at = "done", at("2026-03-14", 10)
        db.commit()
    return done


def secrets(w: World, done: dict[str, Any]) -> list[str]:
    codes = [w.named_code, done["code"], done["mail_code"]]
    return [NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
            NAMED_IDENTITY.address, EMAIL_IDENTITY.name, EMAIL_IDENTITY.email,
            EMAIL_IDENTITY.phone, *codes, *(c.replace("-", "") for c in codes)]


def test_the_weekly_report_counts_the_week_and_the_round_and_names_no_one(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    response = fetch(team, "leader_a", f"/reports/weekly.docx?round={team.slug_a}&week={WEEK}")
    name = unquote(response.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert name.endswith(f"信访举报受理情况周报-{WEEK}.docx")
    content = response.get_data()
    text = paragraphs(content)
    assert text[:3] == ["县委第一巡察组", "信访举报受理情况周报", "（第2周）"]
    assert "统计时段：2026年3月9日至3月15日（2026-W11）" in text
    assert "被巡察单位：中共青山镇委员会" in text
    summary = next(p for p in text if p.startswith("本周共受理信访举报"))
    # team A's four items of 10–12 March (the fifth is spam), the named letter of 13 March and
    # the e-mail of 14 March; the named report was posted today, after the week
    assert summary.startswith("本周共受理信访举报6件（网络举报4件、电子邮箱1件、来信1件）")
    assert "本周受理为问题线索2件，转办1件，办结1件，登记重复件1件，告知反映人1次" in summary
    assert "超期未办1件" in summary
    found = tables(content)
    channels = {row[0]: row[1:] for row in found["来源渠道"][1:]}
    assert channels["网络举报"] == ["4", "4"] and channels["来信"] == ["1", "1"]
    assert channels["合计"] == ["6", "6"] and channels["来访"] == ["0", "0"]
    triage = {row[0]: row[1:] for row in found["研判结果"][1:]}
    assert sum(int(v[0]) for k, v in triage.items() if k != "合计") == 6
    assert set(triage) == {"属于受理范围", "不属于受理范围", "待研判", "合计"}
    disciplines = [row[0] for row in found["问题类别"][1:]]
    assert disciplines == ["政治纪律", "组织纪律", "廉洁纪律", "群众纪律", "工作纪律", "生活纪律"]
    leads_table = found["序号"]  # the first numbered table: this week's leads
    assert leads_table[0] == ["序号", "线索编号", "受理日期", "反映对象", "问题类别", "承办人",
                              "处置情况"]
    numbers = [row[1] for row in leads_table[1:]]
    assert numbers == [reported["first"], reported["second"]]  # the third came the week after
    by_number = {row[1]: row for row in leads_table[1:]}
    assert by_number[reported["first"]][5] == "triager_a"
    assert by_number[reported["first"]][6] == "谈话函询"
    transfers = next(t for t in Document(io.BytesIO(content)).tables
                     if t.rows[0].cells[1].text == "转办文号")
    row = [c.text for c in transfers.rows[1].cells]
    assert row[1] == reported["transfer"] and row[3].startswith("人社局") and row[6] == "是"
    closed = {r[0]: r[1:] for r in found["处置方式"][1:]}
    assert closed["谈话函询"] == ["1", "1"] and closed["合计"] == ["1", "1"]
    assert "截至2026年3月15日，超期未办1件。" in text
    overdue = next(t for t in Document(io.BytesIO(content)).tables
                   if t.rows[0].cells[2].text == "超期事项")
    assert [c.text for c in overdue.rows[1].cells][1:3] == [reported["transfer"], "转办受理"]
    assert "本周登记重复件1件，累计1件；本周告知反映人1次，累计1次。" in text
    xml = docx_xml(content)
    for secret in secrets(team, reported):
        assert secret not in xml
    # no item text either: neither whom an item accuses by name nor what it says
    for words in ("刘德福", "郑国平", "吴有德", "低保名额", "挪用扶贫资金"):
        assert words not in xml
    with team.desk.sessions() as db:
        events = list(db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "report.weekly")))
    assert [(e.actor_label, e.detail["round"], e.detail["week"], e.detail["via"])
            for e in events] == [("leader_a", team.slug_a, WEEK, "api")]


def test_the_next_week_counts_on_from_the_round_so_far(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    content = fetch(team, "triager_a",
                    f"/reports/weekly.docx?round={team.slug_a}&week=2026-W12").get_data()
    text = paragraphs(content)
    assert "（第3周）" in text
    summary = next(p for p in text if p.startswith("本周共受理信访举报"))
    assert summary.startswith("本周共受理信访举报0件；")
    assert "累计受理信访举报6件，形成问题线索3件，转办1件" in summary
    leads_table = tables(content)["序号"]
    assert [row[1] for row in leads_table[1:]] == [reported["third"]]
    assert "本周无转办事项。" in text


@pytest.mark.parametrize(("week", "field", "words"), [
    ("2025-W53", "week", "52 周"),  # 2025 has 52 ISO weeks (2026, starting on a Thursday, 53)
    ("2026-W00", "week", "1 到 53"),
    ("2026-13", "week", "格式"),
    ("第11周", "week", "格式"),
    ("2026-W09", "week", "早于本轮巡察开始"),  # the round opened on 2 March (W10)
])
def test_a_bad_week_is_a_bad_request_naming_it(world: World, week: str, field: str,  # noqa: F811
                                               words: str) -> None:
    response = world.get("leader_a", f"/reports/weekly.docx?round={world.slug_a}&week={week}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and words in error["message"]


def test_last_week_by_default(world: World) -> None:  # noqa: F811
    """Without `week`, the week before this one (today's date is the real one here, long after
    the example round opened)."""
    from intake.reports import last_week
    from intake.workdays import CHINA

    response = fetch(world, "leader_a", f"/reports/weekly.docx?round={world.slug_a}")
    label = last_week(datetime.now(CHINA), CHINA).label
    assert f"（{label}）" in "".join(paragraphs(response.get_data()))


def test_the_missing_and_the_unknown_round_are_bad_requests(world: World) -> None:  # noqa: F811
    for query, words in (("week=2026-W11", "请指定巡察轮次"), ("round=nope&week=2026-W11",
                                                               "没有代码为 nope")):
        response = world.get("leader_a", f"/reports/weekly.docx?{query}")
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["field"] == "round" and words in error["message"]


@pytest.mark.parametrize(("who", "weekly", "appendix"), [
    ("leader_a", 200, 200), ("triager_a", 200, 200), ("duty_a", 403, 403),
    ("triager_b", 404, 404), ("office", 200, 403),
    ("admin2", 403, 403), ("auditor", 403, 403), (None, 401, 401)])
def test_who_may_have_team_a_s_reports(world: World, who: str | None, weekly: int,  # noqa: F811
                                       appendix: int) -> None:
    response = world.get(who, f"/reports/weekly.docx?round={world.slug_a}&week={WEEK}")
    assert response.status_code == weekly
    for kind in ("statistics", "leads", "transfers"):
        assert world.get(who, f"/reports/{kind}.docx?round={world.slug_a}").status_code \
            == appendix
    assert world.get("leader_a", f"/reports/other.docx?round={world.slug_a}").status_code == 404


def test_the_office_s_weekly_report_counts_past_the_scope_and_holds_no_text(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    content = fetch(team, "office",
                    f"/reports/weekly.docx?round={team.slug_a}&week={WEEK}").get_data()
    summary = next(p for p in paragraphs(content) if p.startswith("本周共受理信访举报"))
    assert summary.startswith("本周共受理信访举报6件")
    xml = docx_xml(content)
    for words in (*secrets(team, reported), "刘德福", "郑国平", "低保名额"):
        assert words not in xml


def test_the_closing_appendices_list_the_round_and_name_no_reporter(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    stats = fetch(team, "leader_a", f"/reports/statistics.docx?round={team.slug_a}").get_data()
    text = paragraphs(stats)
    assert "附件1" in text and "信访举报受理情况统计表" in text
    line = next(p for p in text if "被巡察单位" in p)
    assert line.count("巡察组") == 1, line  # the round's name carries the team's: said once
    found = tables(stats)
    assert found["来源渠道"][0] == ["来源渠道", "收件数", "受理为问题线索", "转办", "重复件",
                                   "其他办结", "待办理"]
    rows = {row[0]: [int(v) for v in row[1:]] for row in found["来源渠道"][1:]}
    # team A: four web items (spam aside), the letter, the e-mail and the named API report
    assert rows["合计"] == [7, 3, 1, 1, 0, 2]
    assert rows["网络举报"][0] == 4 and rows["来信"] == [1, 1, 0, 0, 0, 0]
    assert rows["电子邮箱"] == [1, 1, 0, 0, 0, 0] and rows["码上巡察"][0] == 1
    assert [r[0] for r in found["问题类别"][1:]][:3] == ["政治纪律", "组织纪律", "廉洁纪律"]
    # every cell of the discipline table a count (a template once printed a method's repr)
    assert all(cell.isdigit() for r in found["问题类别"][1:] for cell in r[1:])
    by_discipline = {r[0]: [int(v) for v in r[1:]] for r in found["问题类别"][1:]}
    assert sum(n for n, _ in by_discipline.values()) >= 1
    assert all(leads <= n for n, leads in by_discipline.values())
    assert sum(int(r[1]) for r in found["研判结果"][1:]) == 7

    lead_list = fetch(team, "triager_a", f"/reports/leads.docx?round={team.slug_a}").get_data()
    assert "问题线索移交清单" in paragraphs(lead_list) and "共3件。" in paragraphs(lead_list)
    rows_ = tables(lead_list)["序号"]
    assert rows_[0] == ["序号", "线索编号", "收件日期", "反映对象", "问题类别", "线索摘要",
                        "承办人", "处置方式", "办理过程"]
    assert [r[1] for r in rows_[1:]] == [reported["first"], reported["second"], reported["third"]]
    first = rows_[1]
    assert first[2] == "2026年3月10日" and "刘德福" in first[5] and first[6] == "triager_a"
    assert first[7] == "谈话函询" and "受理为线索" in first[8]
    assert "吴有德" in rows_[3][5] and "［邮箱已隐去］" in rows_[3][5]

    transfer_list = fetch(team, "leader_a",
                          f"/reports/transfers.docx?round={team.slug_a}").get_data()
    rows_ = tables(transfer_list)["序号"]
    assert rows_[0] == ["序号", "转办文号", "件号", "转办单位", "转办日期", "受理日期",
                        "办理结果", "办理状态", "是否超期"]
    assert len(rows_) == 2 and rows_[1][1] == reported["transfer"]
    assert rows_[1][4] == "2026年3月12日" and rows_[1][5] == "—" and rows_[1][8] == "是"
    for content in (stats, lead_list, transfer_list):
        xml = docx_xml(content)
        for secret in secrets(team, reported):
            assert secret not in xml
    with team.desk.sessions() as db:
        kinds = [e.detail["appendix"] for e in db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "report.appendix").order_by(m.AuditEvent.seq))]
    assert kinds == ["statistics", "leads", "transfers"]


def test_the_handover_bundle_holds_the_appendices(
        team: World, reported: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "移交.zip"
    password = db_handover_bundle(team.desk, actor(team, "leader_a"), team.round_a,
                                  with_identity=False, reason="", out=out)
    files = opened(out, password)
    names = ["附件1_信访举报受理情况统计表.docx", "附件2_问题线索移交清单.docx",
             "附件3_转办情况一览表.docx"]
    assert set(names) <= set(files)
    lead_rows = tables(files[names[1]])["序号"][1:]
    assert [r[1] for r in lead_rows] == [reported["first"], reported["second"],
                                         reported["third"]]
    readme = files["说明.txt"].decode("utf-8-sig")
    assert all(name in readme for name in names)
    for name in names:
        xml = docx_xml(files[name])
        for secret in secrets(team, reported):
            assert secret not in xml


def test_the_ledger_page_offers_the_reports_and_the_page_downloads_them(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    client = login(team, "leader_a")
    page = client.get(f"/staff/ledger?round={team.slug_a}").get_data(as_text=True)
    assert 'name="week"' in page and "下载周报" in page
    for kind in ("statistics", "leads", "transfers"):
        assert f"/staff/reports/{kind}.docx?round={team.slug_a}" in page
    response = client.get(f"/staff/reports/weekly.docx?round={team.slug_a}&week={WEEK}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "（第2周）" in paragraphs(response.get_data())
    # a week the round has not: back on the staff page that asked, the reason shown there
    bad = client.get(f"/staff/reports/weekly.docx?round={team.slug_a}&week=2025-W53",
                     follow_redirects=True)
    assert bad.request.path == "/staff/ledger" and "52 周" in bad.get_data(as_text=True)
    early = client.get(f"/staff/reports/weekly.docx?round={team.slug_a}&week=2026-W05&from=stats",
                       follow_redirects=True)
    assert early.request.path == "/staff/stats" and "早于本轮巡察开始" in early.get_data(
        as_text=True)
    assert client.get("/staff/reports/weekly.docx?round=hexi-2026").status_code == 404
    assert client.get("/staff/reports/leads.docx?round=hexi-2026").status_code == 404
    other = login(team, "duty_a")
    assert other.get(f"/staff/reports/leads.docx?round={team.slug_a}").status_code == 403



def test_notices_done_when_written_carry_their_time(
        team: World, reported: dict[str, Any]) -> None:  # noqa: F811
    # the weekly report counts notices by when they were done: one on the status page or
    # in the outbox is done the moment it is written
    with team.desk.sessions() as db:
        notices = list(db.scalars(select(m.Notice).where(m.Notice.state == "done")))
    assert {n.delivery for n in notices} >= {"status_page", "email"}
    assert all(n.done_at is not None for n in notices)
