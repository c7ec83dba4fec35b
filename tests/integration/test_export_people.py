"""`intake export --format xlsx|csv` as a user runs it (a real subprocess on a real data folder):
Chinese columns, local times, codes in Chinese, rounds and dates chosen, read back with openpyxl
and the csv module, no reporter identity anywhere in the files, texts from the public that stay
text, and every export in the audit log. The JSON Lines contract stays as it was."""

from __future__ import annotations

import csv
import html
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from intake import exportsheet, leads
from intake.desk import Desk
from intake.ledger import HEADER_ROW
from intake.pipeline import ingest
from intake.staff import create_user
from intake.store import models as m
from intake.submission import Receipt
from intake.triage import Actor
from tests.integration.test_cli import run
from tests.support import NAMED_IDENTITY, make_submission
from tests.two_teams import add_round

# The reporter wrote their own name and phone into the text, too: stored masked.
TEXT = (f"我是{NAMED_IDENTITY.name}，电话{NAMED_IDENTITY.phone}。东岭村党支部书记刘德福把低保名额"
        "给了自己的亲戚，村里的账目三年没有公开。")
INJECTED = '=HYPERLINK("http://evil.example","点此")'
JSONL_KEYS = {"id", "round", "channel", "received_at", "title", "text", "subject", "category",
              "anonymous", "late", "status", "attachments", "messages", "classification"}


def named(desk: Desk, **overrides: object) -> Receipt:
    values: dict[str, object] = {"anonymous": False, "identity": NAMED_IDENTITY, "text": TEXT,
                                 "title": "村支书优亲厚友"}
    values.update(overrides)
    return ingest(desk, make_submission(**values))


def identity_strings(receipt: Receipt) -> list[str]:
    i = NAMED_IDENTITY
    return [i.name, i.phone, i.id_number, i.address, receipt.code]


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel on Windows reads it so
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert tuple(header) == exportsheet.COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def xlsx_text(path: Path) -> str:
    """Every XML part of the workbook as text, character references resolved, for searching."""
    with zipfile.ZipFile(path) as archive:
        return "".join(html.unescape(archive.read(name).decode("utf-8"))
                       for name in archive.namelist())


def test_csv_and_xlsx_for_people(desk: Desk, tmp_path: Path) -> None:
    receipt = named(desk)
    injected = ingest(desk, make_submission(
        title=INJECTED, text="-2+3 这是一条测试反映，反映村干部优亲厚友的问题。", channel="hotline",
        received_at=datetime(2026, 3, 11, 23, 45, tzinfo=UTC)))
    create_user(desk, "keeper", "triager", password="bench-password-1", display_name="王五")
    with desk.sessions() as session:
        keeper_id = session.scalar(select(m.StaffUser.id).where(
            m.StaffUser.username == "keeper"))
    assert keeper_id is not None
    number = leads.accept(desk, Actor(keeper_id, "keeper", "triager"), receipt.submission_id,
                          keeper="keeper")

    out = tmp_path / "items.csv"
    r = run(["export", "--format", "csv", "--out", str(out)], desk)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    first, second = read_csv(out)
    assert first["件号"] == str(receipt.submission_id) and first["编号"] == number
    assert first["收件时间"] == "2026-03-10 17:30"  # 09:30 UTC in the round's zone (+08:00)
    assert first["来源渠道"] == "网络举报" and first["实名/匿名"] == "实名"
    assert first["办理状态"] == "已受理" and first["承办人"] == "王五"
    assert first["轮次"] == desk.default_round().cfg.name
    assert "刘德福" in first["内容"] and first["附件数"] == "0"
    assert second["件号"] == str(injected.submission_id)
    assert second["收件时间"] == "2026-03-12 07:45"  # the next morning in Beijing
    assert second["来源渠道"] == "值班电话"
    assert second["标题"] == "'" + INJECTED  # an apostrophe: Excel shows it as text
    assert second["内容"].startswith("'-2+3")
    text = out.read_text(encoding="utf-8-sig")
    for secret in identity_strings(receipt):
        assert secret not in text

    book_path = tmp_path / "items.xlsx"
    r = run(["export", "--format", "xlsx", "--out", str(book_path)], desk)
    assert r.returncode == 0, r.stderr
    assert book_path.stat().st_mode & 0o777 == 0o600
    ws = load_workbook(book_path)[exportsheet.SHEET]
    assert ws["A1"].value == "信访举报件导出"
    assert "不含举报人身份信息" in ws["A2"].value
    header = tuple(c.value for c in ws[HEADER_ROW])
    assert header == exportsheet.COLUMNS
    rows = [dict(zip(header, (c.value for c in row), strict=True))
            for row in ws.iter_rows(min_row=HEADER_ROW + 1)]
    assert [r["件号"] for r in rows] == [receipt.submission_id, injected.submission_id]
    received = ws.cell(HEADER_ROW + 1, header.index("收件时间") + 1)
    assert received.is_date and received.value == datetime(2026, 3, 10, 17, 30)
    assert received.number_format == "yyyy-mm-dd hh:mm"
    assert rows[0]["办理状态"] == "已受理" and rows[0]["编号"] == number
    title = ws.cell(HEADER_ROW + 2, header.index("标题") + 1)
    assert title.value == INJECTED and title.data_type == "s" and title.quotePrefix
    assert ws.freeze_panes == f"C{HEADER_ROW + 1}"
    assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.column_dimensions["H"].width == 60  # 内容
    content = xlsx_text(book_path)
    assert "刘德福" in content
    for secret in identity_strings(receipt):
        assert secret not in content

    with desk.sessions() as session:
        events = list(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export.plain").order_by(m.AuditEvent.seq)))
    assert [e.detail["format"] for e in events] == ["csv", "xlsx"]
    assert all(e.detail["rounds"] == [] for e in events)


def test_rounds_and_dates_choose_the_items(desk: Desk, tmp_path: Path) -> None:
    first = desk.default_round()
    second = add_round(desk, tmp_path)
    in_a = ingest(desk, make_submission(round_id=first.id,
                                        text="青山镇东岭村反映一：村干部优亲厚友，低保不公。"))
    in_b = ingest(desk, make_submission(round_id=second.id,
                                        text="河西乡柳湾村反映二：村干部优亲厚友，低保不公。"))
    late_a = ingest(desk, make_submission(
        round_id=first.id, text="青山镇东岭村反映三：村干部优亲厚友，低保不公。",
        received_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC)))
    out = tmp_path / "out.csv"

    def ids(*args: str) -> list[int]:
        r = run(["export", "--format", "csv", "--out", str(out), *args], desk)
        assert r.returncode == 0, r.stderr
        return [int(row["件号"]) for row in read_csv(out)]

    assert ids() == [in_a.submission_id, in_b.submission_id, late_a.submission_id]
    assert ids("--round", second.slug) == [in_b.submission_id]
    assert ids("--round", f"{first.slug},{second.slug}") == ids()
    assert ids("--round", first.slug, "--round", first.slug) == [
        in_a.submission_id, late_a.submission_id]
    assert ids("--until", "2026-03-19") == [in_a.submission_id, in_b.submission_id]
    assert ids("--since", "2026-03-20", "--until", "2026-03-20") == [late_a.submission_id]
    with desk.sessions() as session:
        last = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export.plain").order_by(m.AuditEvent.seq.desc())).first()
    assert last is not None and last.detail["until"].startswith("2026-03-21T00:00")

    r = run(["export", "--format", "jsonl", "--round", second.slug], desk)
    assert r.returncode == 0, r.stderr
    [record] = [json.loads(line) for line in r.stdout.splitlines()]
    assert record["round"] == second.slug and set(record) == JSONL_KEYS
    with desk.sessions() as session:
        last = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "export.plain").order_by(m.AuditEvent.seq.desc())).first()
    assert last is not None
    assert last.detail["format"] == "jsonl" and last.detail["rounds"] == [second.slug]


@pytest.mark.parametrize(("args", "message"), [
    (["--round", "nowhere-2026"], "no round nowhere-2026"),
    (["--format", "csv", "--with-identity"], "JSON Lines only"),
    (["--format", "xlsx", "--with-identity", "--out", "x.xlsx"], "JSON Lines only"),
    (["--format", "xlsx"], "needs --out"),
    (["--until", "soon"], "--until"),
    (["--since", "2026-03-10", "--until", "2026-03-01"], "before --since"),
])
def test_refusals_exit_2_and_export_nothing(desk: Desk, args: list[str], message: str) -> None:
    named(desk)
    r = run(["export", *args], desk)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stdout == ""
    with desk.sessions() as session:
        assert session.scalar(select(m.AuditEvent.id).where(
            m.AuditEvent.action.like("export.%"))) is None


def test_jsonl_keys_and_identity_stay_as_they_were(desk: Desk) -> None:
    receipt = named(desk)
    r = run(["export"], desk)
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert set(record) == JSONL_KEYS
    for secret in identity_strings(receipt):
        assert secret not in r.stdout
    r = run(["export", "--with-identity"], desk)
    assert json.loads(r.stdout)["reporter"]["phone"] == NAMED_IDENTITY.phone
