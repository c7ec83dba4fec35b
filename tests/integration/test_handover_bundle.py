"""The handover bundle (移交) from the database: an AES archive that opens with its password,
holding the ledger, the index and one folder per lead or transferred item with its attachments;
identities only on a team leader's audited choice with a reason; refusals audited; the command
line and the team leader's page. Two teams, real app, real database."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from intake import leads, scope
from intake.handover import CASE_NAME, IDENTITY_NAME, INDEX_NAME, LEDGER_NAME, README_NAME
from intake.handoverdata import HandoverError, db_handover_bundle
from intake.pipeline import ingest
from intake.rounds import set_state
from intake.store import models as m
from intake.submission import IncomingFile
from tests.integration.test_cli import run
from tests.integration.test_leads import team  # noqa: F401
from tests.integration.test_ledger_api import actor, worked
from tests.integration.test_staff_api import World, at, login, world  # noqa: F401
from tests.support import NAMED_IDENTITY, csrf_token, make_submission

PASSWORD = re.compile(r"[2-9A-Z]{5}(?:-[2-9A-Z]{5}){3}")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def bundled(team: World) -> dict[str, Any]:  # noqa: F811
    """team A's round worked (two leads, a transfer, a close, a spam item) plus a lead with a
    photo."""
    done = worked(team)
    photo = png()
    receipt = ingest(team.desk, make_submission(
        round_id=team.round_a, received_at=at("2026-03-14", 9),
        text="北坡村村主任李大勇侵占集体土地建私房，照片附后。",
        attachments=(IncomingFile("我的照片.png", io.BytesIO(photo)),)))
    done["photo_item"], done["photo"] = receipt.submission_id, photo
    done["photo_lead"] = leads.accept(team.desk, actor(team, "leader_a"), receipt.submission_id,
                                      keeper="triager_a")
    return done


def opened(path: Path, password: str) -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(password.encode())
        return {name: archive.read(name) for name in archive.namelist()}


def texts(files: dict[str, bytes]) -> str:
    """Everything a reader of the bundle sees: text files and every workbook cell."""
    found = []
    for name, data in files.items():
        if name.endswith(".txt"):
            found.append(data.decode("utf-8-sig"))
        elif name.endswith(".xlsx"):
            book = load_workbook(io.BytesIO(data))
            found += [str(c.value) for ws in book.worksheets for row in ws.iter_rows()
                      for c in row if c.value is not None]
    return "\n".join(found)


def events(w: World, prefix: str) -> list[m.AuditEvent]:
    with w.desk.sessions() as db:
        return list(db.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action.like(f"{prefix}%")).order_by(m.AuditEvent.seq)))


def test_the_bundle_opens_with_its_password_and_holds_a_folder_per_lead(
        team: World, bundled: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "移交.zip"
    password = db_handover_bundle(team.desk, actor(team, "leader_a"), team.round_a,
                                  with_identity=False, reason="", out=out)
    assert PASSWORD.fullmatch(password)
    with pytest.raises(RuntimeError), pyzipper.AESZipFile(out) as archive:
        archive.setpassword(b"wrong-password")
        archive.read(LEDGER_NAME)
    files = opened(out, password)
    folders = sorted({name.split("/")[0] for name in files if "/" in name})
    # the two leads of `worked`, its transferred item and the lead with a photo
    assert folders == ["001_青山巡线〔2026〕001号", "002_青山巡转〔2026〕1号",
                       "003_青山巡线〔2026〕002号", "004_青山巡线〔2026〕003号"]
    assert {LEDGER_NAME, INDEX_NAME, README_NAME} <= set(files)
    assert files["004_青山巡线〔2026〕003号/附件/附件1.png"] == bundled["photo"]
    case = files[f"001_青山巡线〔2026〕001号/{CASE_NAME}"].decode("utf-8-sig")
    assert "编号：青山巡线〔2026〕001号" in case and "承办人：triager_a" in case
    assert "处置方式：谈话函询" in case and "leader_a 办结（谈话函询）：谈话" in case
    assert "刘德福" in case  # the item's (masked) text, naming whom it accuses
    transferred = files[f"002_青山巡转〔2026〕1号/{CASE_NAME}"].decode("utf-8-sig")
    assert "转办记录：" in transferred and "人社局" in transferred
    index = load_workbook(io.BytesIO(files[INDEX_NAME])).active
    assert [index.cell(row=r, column=3).value for r in range(4, 8)] == folders
    ledger = load_workbook(io.BytesIO(files[LEDGER_NAME]))["问题线索台账"]
    assert ledger.max_row - 3 == len(team.items_a) - 1 + 3  # spam aside, three reports added
    assert not any(name.endswith(IDENTITY_NAME) for name in files)
    seen = texts(files)
    for secret in (NAMED_IDENTITY.name, NAMED_IDENTITY.phone, NAMED_IDENTITY.id_number,
                   NAMED_IDENTITY.address, bundled["code"], "我的照片"):
        assert secret not in seen
    assert "未包含" in files[README_NAME].decode("utf-8-sig")
    recorded = events(team, "handover.")
    assert [(e.action, e.actor_label, e.detail["round"], e.detail["leads"]) for e in recorded] \
        == [("handover.bundle", "leader_a", team.slug_a, 4)]


def test_identities_go_in_only_on_the_leaders_choice_with_a_reason(
        team: World, bundled: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "with.zip"
    password = db_handover_bundle(team.desk, actor(team, "leader_a"), team.round_a,
                                  with_identity=True, reason="纪委监委立案审查需要", out=out)
    files = opened(out, password)
    identity_files = [n for n in files if n.endswith(IDENTITY_NAME)]
    assert identity_files == [f"003_青山巡线〔2026〕002号/{IDENTITY_NAME}"]
    identity = files[identity_files[0]].decode("utf-8-sig")
    assert NAMED_IDENTITY.name in identity and NAMED_IDENTITY.id_number in identity
    assert "已包含" in files[README_NAME].decode("utf-8-sig")
    # nowhere else: the cases and the ledger stay masked
    others = texts({k: v for k, v in files.items() if not k.endswith(IDENTITY_NAME)})
    assert NAMED_IDENTITY.name not in others and NAMED_IDENTITY.phone not in others
    recorded = events(team, "handover.")
    assert [(e.action, e.reason) for e in recorded] == [
        ("handover.bundle_with_identity", "纪委监委立案审查需要")]


def test_the_choice_without_a_reason_or_by_a_triager_is_refused_and_audited(
        team: World, bundled: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "refused.zip"
    leader, triager = actor(team, "leader_a"), actor(team, "triager_a")
    with pytest.raises(HandoverError) as caught:
        db_handover_bundle(team.desk, leader, team.round_a, with_identity=True, reason=" ",
                           out=out)
    assert caught.value.kind == "invalid" and caught.value.field == "reason"
    with pytest.raises(HandoverError) as caught:
        db_handover_bundle(team.desk, triager, team.round_a, with_identity=True,
                           reason="纪委监委需要", out=out)
    assert caught.value.kind == "forbidden"
    with pytest.raises(HandoverError) as caught:  # the bundle itself is the leader's act
        db_handover_bundle(team.desk, triager, team.round_a, with_identity=False, reason="",
                           out=out)
    assert caught.value.kind == "forbidden"
    with team.desk.sessions() as db:  # another team's round is not found, in the scope
        viewer = scope.db_viewer(db, leader.id, leader.role)
    with scope.scoped(viewer), pytest.raises(HandoverError) as caught:
        db_handover_bundle(team.desk, leader, team.round_b, with_identity=False, reason="",
                           out=out)
    assert caught.value.kind == "not_found"
    assert not out.exists() and not list(tmp_path.glob(".handover-*"))
    refused = events(team, "handover.")
    assert [(e.action, e.actor_label, e.detail["refused"]) for e in refused] == [
        ("handover.bundle_with_identity.refused", "leader_a", "reason"),
        ("handover.bundle_with_identity.refused", "triager_a", "role")]


def test_the_command_line_bundles_and_hands_the_round_over(
        team: World, bundled: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "cli.zip"
    refused = run(["rounds", "hand-over", team.slug_a, "--bundle", str(out)], team.desk)
    assert refused.returncode == 2 and "已截止受理" in refused.stderr  # still open
    set_state(team.desk.sessions, team.slug_a, "closed", actor_label="test")
    refused = run(["rounds", "hand-over", team.slug_a, "--bundle", str(out),
                   "--with-identity", "--reason", "审查需要"], team.desk)
    assert refused.returncode == 2 and "--as" in refused.stderr and not out.exists()
    refused = run(["rounds", "hand-over", team.slug_a, "--bundle", str(out), "--with-identity",
                   "--reason", "审查需要", "--as", "triager_a"], team.desk)
    assert refused.returncode == 2 and "组长" in refused.stderr and not out.exists()

    done = run(["rounds", "hand-over", team.slug_a, "--bundle", str(out), "--with-identity",
                "--reason", "纪委监委审查需要", "--as", "leader_a"], team.desk)
    assert done.returncode == 0, done.stderr
    password = PASSWORD.search(done.stdout.split("解压密码")[1])
    assert password is not None and done.stdout.count(password.group()) == 1
    assert "已移交" in done.stdout
    files = opened(out, password.group())
    assert any(n.endswith(IDENTITY_NAME) for n in files)
    again = run(["rounds", "hand-over", team.slug_a, "--bundle", str(tmp_path / "2.zip")],
                team.desk)
    assert again.returncode == 0 and "未改动" in again.stdout  # a second bundle, no new state
    recorded = [(e.action, e.actor_label) for e in events(team, "handover.")]
    assert recorded[-2][0] == "handover.bundle_with_identity" and recorded[-2][1] == "leader_a"
    assert recorded[-1][0] == "handover.bundle" and recorded[-1][1].startswith("cli:")


def test_the_leaders_page_confirms_the_choice_and_shows_the_password_once(
        team: World, bundled: dict[str, Any]) -> None:  # noqa: F811
    triager = login(team, "triager_a")
    assert triager.get("/staff/ledger/handover").status_code == 403
    leader = login(team, "leader_a")
    form = leader.get(f"/staff/ledger/handover?round={team.slug_a}")
    assert form.status_code == 200 and "包含举报人身份信息" in form.get_data(as_text=True)
    token = csrf_token(leader, "/staff/ledger/handover")
    no_reason = leader.post("/staff/ledger/handover", data={
        "csrf_token": token, "round": team.slug_a, "with_identity": "1", "reason": ""})
    assert no_reason.status_code == 400
    confirm = leader.post("/staff/ledger/handover", data={
        "csrf_token": token, "round": team.slug_a, "with_identity": "1",
        "reason": "纪委监委审查需要"})
    assert confirm.status_code == 200 and "请确认" in confirm.get_data(as_text=True)
    assert not events(team, "handover.")  # nothing made before the confirmation
    done = leader.post("/staff/ledger/handover", data={
        "csrf_token": token, "round": team.slug_a, "with_identity": "1",
        "reason": "纪委监委审查需要", "confirm": "1"})
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    password = PASSWORD.search(page)
    assert password is not None
    link = re.search(r'id="bundle-download" href="([^"]+)"', page)
    assert link is not None
    assert triager.get(link.group(1).replace("&amp;", "&")).status_code == 403
    archive = leader.get(link.group(1).replace("&amp;", "&"))
    assert archive.status_code == 200 and archive.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in archive.headers["Content-Disposition"]
    path = Path(team.desk.settings.data_dir) / "bundle.zip"
    path.write_bytes(archive.get_data())
    assert any(n.endswith(IDENTITY_NAME) for n in opened(path, password.group()))
    assert leader.get(link.group(1).replace("&amp;", "&")).status_code == 404  # once
    assert [e.action for e in events(team, "handover.")] == ["handover.bundle_with_identity"]


def test_the_ledger_page_shows_the_rows_and_downloads_for_the_team(
        team: World, bundled: dict[str, Any]) -> None:  # noqa: F811
    duty = login(team, "duty_a")
    page = duty.get("/staff/ledger")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "线索台账" in body
    assert bundled["first"] in body and bundled["transfer"] in body and "triager_a" in body
    assert "生成移交包" not in body  # the team leader's
    assert NAMED_IDENTITY.name not in body
    overdue = duty.get("/staff/ledger?overdue=1&keeper=triager_a").get_data(as_text=True)
    assert bundled["first"] not in overdue  # closed: nothing is late
    download = duty.get(f"/staff/ledger/ledger.xlsx?round={team.slug_a}")
    assert download.status_code == 200 and download.get_data()[:2] == b"PK"
    assert duty.get("/staff/ledger?round=hexi-2026").status_code == 404
    assert duty.get("/staff/ledger/ledger.xlsx?round=hexi-2026").status_code == 404
    assert login(team, "office").get("/staff/ledger").status_code == 403
    assert [e.detail["via"] for e in events(team, "ledger.download")] == ["web"]
