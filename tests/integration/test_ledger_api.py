"""The ledger workbook through the staff API (GET /api/v1/staff/ledger.xlsx, staff-api.md):
one row per item of the round except spam, lead and transfer numbers, keepers, and never a
reporter's name, phone, ID number, address or query code; which roles and rounds may have it;
the download audited. Two teams, real app, real database."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from intake import leads
from intake.ledger import HEADER_ROW, LEDGER_COLUMNS, LEDGER_SHEET, TRANSFER_SHEET
from intake.ledgerdata import db_ledger
from intake.pipeline import ingest
from intake.rounds import load_files
from intake.settings import EXAMPLE_ROUND
from intake.store import models as m
from intake.triage import Actor, set_spam
from tests.integration.test_leads import team  # noqa: F401
from tests.integration.test_staff_api import TEAM_A, World, at, world  # noqa: F401
from tests.support import NAMED_IDENTITY, make_submission


def actor(w: World, username: str) -> Actor:
    with w.desk.sessions() as db:
        user = db.scalar(select(m.StaffUser).where(m.StaffUser.username == username))
        assert user is not None
        return Actor(user.id, user.username, user.role)


def named_report(w: World) -> tuple[int, str]:
    """A named letter whose own text carries the reporter's name, phone, ID number and
    address (masked when stored); returns its id and query code."""
    receipt = ingest(w.desk, make_submission(
        round_id=w.round_a, channel="letter", received_at=at("2026-03-13", 9),
        anonymous=False, identity=NAMED_IDENTITY,
        text=f"我叫{NAMED_IDENTITY.name}，身份证{NAMED_IDENTITY.id_number}，住"
             f"{NAMED_IDENTITY.address}，电话{NAMED_IDENTITY.phone}。反映青山镇财政所所长"
             "郑国平挪用扶贫资金修自家房子。"))
    return receipt.submission_id, receipt.code


def worked(w: World) -> dict[str, Any]:
    """Leads, a transfer, a close and a spam item in team A's round."""
    a = w.items_a
    triager, leader = actor(w, "triager_a"), actor(w, "leader_a")
    letter, code = named_report(w)
    first = leads.accept(w.desk, triager, a[0], keeper="triager_a", note="受理")
    second = leads.accept(w.desk, leader, letter, keeper="leader_a")
    transfer = leads.transfer(w.desk, triager, a[1], department="human_resources")
    leads.close(w.desk, leader, a[0], disposal="talk_inquiry", note="谈话")
    set_spam(w.desk, triager, a[4], spam=True)
    with w.desk.sessions() as db:
        number = db.get(m.Transfer, transfer).number
    return {"first": first, "second": second, "transfer": number, "letter": letter,
            "code": code, "spam": a[4]}


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return load_workbook(io.BytesIO(response.get_data()))


def column(sheet: Any, name: str) -> list[Any]:
    index = LEDGER_COLUMNS.index(name) + 1
    return [sheet.cell(row=r, column=index).value
            for r in range(HEADER_ROW + 1, sheet.max_row + 1)]


def every_cell(book: Any) -> str:
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows()
                     for c in row if c.value is not None)


def test_the_ledger_has_one_numbered_row_per_item_and_no_identity(team: World) -> None:  # noqa: F811
    done = worked(team)
    response = team.get("leader_a", "/ledger.xlsx")
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).endswith(".xlsx")
    assert "问题线索台账" in unquote(disposition.split("filename*=UTF-8''")[1])
    book = workbook(response)
    sheet = book[LEDGER_SHEET]
    assert [c.value for c in sheet[HEADER_ROW]] == list(LEDGER_COLUMNS)
    numbers = column(sheet, "编号")
    # team A's five items and the two named reports, spam aside, oldest first
    assert len(numbers) == len(team.items_a) - 1 + 2
    assert numbers[0] == done["first"] == "青山巡线〔2026〕001号"
    assert numbers[1] == done["transfer"] == "青山巡转〔2026〕1号"
    assert done["second"] in numbers
    assert all(n for n in numbers)  # every row has a 编号, numbered or not
    keepers = dict(zip(numbers, column(sheet, "承办人"), strict=True))
    assert keepers[done["first"]] == "triager_a" and keepers[done["second"]] == "leader_a"
    statuses = dict(zip(numbers, column(sheet, "办理状态"), strict=True))
    assert statuses[done["first"]] == "已办结" and statuses[done["transfer"]] == "已转办"
    assert dict(zip(numbers, column(sheet, "处置方式"), strict=True))[done["first"]] == "谈话函询"
    assert "人社局" in dict(zip(numbers, column(sheet, "转办单位及文号"), strict=True))[
        done["transfer"]]
    history = dict(zip(numbers, column(sheet, "办理过程"), strict=True))[done["first"]]
    assert "triager_a 受理为线索（青山巡线〔2026〕001号）" in history and "leader_a 办结" in history
    transfers = book[TRANSFER_SHEET]
    assert transfers.cell(row=HEADER_ROW + 1, column=2).value == done["transfer"]
    # the item of a transfer that is not a lead is named by its own number
    assert transfers.cell(row=HEADER_ROW + 1, column=3).value == f"第{team.items_a[1]}号件"
    # the item reported on, as triage recorded them, is there; the reporter never is
    text = every_cell(book)
    assert "郑国平" in text
    for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
                   NAMED_IDENTITY.address, team.named_code, done["code"],
                   team.named_code.replace("-", ""), done["code"].replace("-", "")):
        assert secret not in text
    spam_text = "副镇长周伟公车私用"
    assert spam_text not in text
    with team.desk.sessions() as db:
        events = list(db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "ledger.download")))
    assert [(e.actor_label, e.detail["round"], e.detail["via"]) for e in events] == [
        ("leader_a", team.slug_a, "api")]


@pytest.mark.parametrize(("who", "status"), [
    ("duty_a", 200), ("triager_a", 200), ("leader_a", 200), ("triager_b", 404),
    ("office", 403), ("admin2", 403), ("auditor", 403), (None, 401)])
def test_who_may_have_team_a_s_ledger(world: World, who: str | None,  # noqa: F811
                                      status: int) -> None:
    response = world.get(who, f"/ledger.xlsx?round={world.slug_a}")
    assert response.status_code == status
    if status != 200:
        assert response.get_json()["error"]["code"] in ("not_found", "forbidden",
                                                        "unauthorized")


def test_a_round_of_another_team_is_not_found_and_an_unknown_one_is_a_bad_request(
        world: World) -> None:  # noqa: F811
    other = world.get("triager_a", "/ledger.xlsx?round=hexi-2026")
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"
    unknown = world.get("triager_a", "/ledger.xlsx?round=no-such-round")
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "round"
    mine = workbook(world.get("triager_b", "/ledger.xlsx"))  # their one round
    assert len(column(mine[LEDGER_SHEET], "编号")) == len(world.items_b)


def test_a_member_of_two_rounds_names_one(world: World, tmp_path: Path) -> None:  # noqa: F811
    source = EXAMPLE_ROUND.read_text(encoding="utf-8").replace("xcz1@", "xcz9@").replace(
        "round:\n", "round:\n  slug: qingshan-autumn\n", 1)
    path = tmp_path / "autumn.yaml"
    path.write_text(source.replace("name: ", "name: 秋季", 1), encoding="utf-8")
    load_files(world.desk.sessions, [path])
    world.desk.rounds.refresh(force=True)
    entry = world.desk.rounds.by_slug("qingshan-autumn")
    assert entry is not None and entry.team == TEAM_A
    response = world.get("triager_a", "/ledger.xlsx")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "round"
    assert world.slug_a in response.get_json()["error"]["message"]
    empty = workbook(world.get("triager_a", "/ledger.xlsx?round=qingshan-autumn"))
    assert column(empty[LEDGER_SHEET], "编号") == []


def test_the_ledger_reads_a_round_in_a_fixed_number_of_queries(team: World) -> None:  # noqa: F811
    worked(team)
    entry = team.desk.rounds.get(team.round_a)
    assert entry is not None

    def read() -> tuple[int, int]:
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(team.desk.engine, "before_cursor_execute", seen)
        try:
            with team.desk.sessions() as db:
                rows = len(db_ledger(db, entry, m.utcnow()).rows)
        finally:
            event.remove(team.desk.engine, "before_cursor_execute", seen)
        return len(statements), rows

    queries, rows = read()
    triager = actor(team, "triager_a")
    for day in range(10):
        item = ingest(team.desk, make_submission(
            round_id=team.round_a, received_at=at(f"2026-03-{15 + day}", 9),
            text=f"第{day}村党支部书记把低保名额给了自己的亲戚。")).submission_id
        if day % 2:
            leads.accept(team.desk, triager, item, keeper="triager_a")
        elif day % 3 == 0:
            leads.transfer(team.desk, triager, item, department="civil_affairs")
    assert read() == (queries, rows + 10)
    assert queries <= 10
