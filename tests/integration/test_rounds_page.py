"""The rounds page: the list with counts, loading and updating round files, the lifecycle
buttons with the archive confirmation, and who may do what."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.store.models import utcnow
from intake.submission import InvalidSubmissionError
from intake.workdays import CHINA
from tests.support import REPO, csrf_token, make_submission, staff_client

EXAMPLE = (REPO / "config" / "round.example.yaml").read_text(encoding="utf-8")


def second_file(name: str = "县委第二巡察组 2026年第二轮常规巡察", mailbox: str = "xcz2@") -> bytes:
    return (EXAMPLE.replace("县委第一巡察组", "县委第二巡察组")
            .replace("name: 县委第二巡察组 2026年第二轮常规巡察",
                     f"name: {name}\n  slug: nanhu-2026")
            .replace("xcz1@", mailbox)).encode("utf-8")


def upload(client: FlaskClient, data: bytes, name: str = "round.yaml") -> object:
    token = csrf_token(client, "/staff/rounds")
    return client.post("/staff/rounds/load", data={
        "csrf_token": token, "round_file": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def post_state(client: FlaskClient, slug: str, to: str, **extra: str) -> object:
    token = csrf_token(client, "/staff/rounds")
    return client.post(f"/staff/rounds/{slug}/state",
                       data={"csrf_token": token, "to": to, **extra})


def first_slug(desk: Desk) -> str:
    return desk.rounds.all()[-1].slug


def test_the_list_shows_each_round_with_its_count_and_links(app: Flask, desk: Desk) -> None:
    ingest(desk, make_submission())
    ingest(desk, make_submission(text="副镇长周伟公车私用，周末开公车去钓鱼。"))
    admin = staff_client(app, desk, "sysadmin", "admin")
    page = admin.get("/staff/rounds")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    slug = first_slug(desk)
    row = re.search(rf'<tr id="round-{slug}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = row.group(1)
    assert "县委第一巡察组" in cells and "中共青山镇委员会" in cells and "受理中" in cells
    assert "<td>2</td>" in cells  # a count: the administrator reads no item
    assert f'href="/r/{slug}/"' in cells
    assert f'href="/staff/rounds/{slug}/publication"' in cells
    assert "刘德福" not in html and "周伟公车" not in html
    assert 'href="/staff/rounds"' in admin.get("/staff/users").get_data(as_text=True)  # nav


def test_only_administrators_change_rounds(app: Flask, desk: Desk) -> None:
    slug = first_slug(desk)
    triager = staff_client(app, desk, "triager1", "triager")
    assert triager.get("/staff/rounds").status_code == 403
    token = csrf_token(triager, "/staff/")
    assert triager.post(f"/staff/rounds/{slug}/state",
                        data={"csrf_token": token, "to": "closed"}).status_code == 403
    assert triager.post("/staff/rounds/load", data={"csrf_token": token}).status_code == 403
    leader = staff_client(app, desk, "leader1", "team_leader")
    html = leader.get("/staff/rounds").get_data(as_text=True)
    assert slug in html and "载入或更新轮次文件" not in html and "截止受理</button>" not in html
    token = csrf_token(leader, "/staff/rounds")
    assert leader.post(f"/staff/rounds/{slug}/state",
                       data={"csrf_token": token, "to": "closed"}).status_code == 403
    assert leader.get(f"/staff/rounds/{slug}/archive").status_code == 403
    admin = staff_client(app, desk, "sysadmin", "admin")
    no_token = admin.post(f"/staff/rounds/{slug}/state", data={"to": "closed"})
    assert no_token.status_code == 400  # CSRF
    assert desk.rounds.by_slug(slug).state == "open"  # type: ignore[union-attr]


def test_a_team_leader_sees_only_their_teams_rounds(app: Flask, desk: Desk) -> None:
    leader = staff_client(app, desk, "leader1", "team_leader")  # joins the one team there is
    admin = staff_client(app, desk, "sysadmin", "admin")
    assert upload(admin, second_file()).status_code == 303
    html = leader.get("/staff/rounds").get_data(as_text=True)
    assert first_slug(desk) in html and "nanhu-2026" not in html
    assert "nanhu-2026" in admin.get("/staff/rounds").get_data(as_text=True)


def test_loading_and_updating_a_round_file(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "sysadmin", "admin")
    response = upload(admin, second_file())
    assert response.status_code == 303
    html = admin.get("/staff/rounds").get_data(as_text=True)
    assert "已新建轮次 nanhu-2026" in html and 'id="round-nanhu-2026"' in html
    assert "县委第二巡察组" in html
    entry = desk.rounds.by_slug("nanhu-2026")
    assert entry is not None and entry.state == "open"

    upload(admin, second_file())
    assert "未作改动" in admin.get("/staff/rounds").get_data(as_text=True)
    upload(admin, second_file(name="县委第二巡察组 2026年第二轮巡察（延长）"))
    html = admin.get("/staff/rounds").get_data(as_text=True)
    assert "已更新轮次 nanhu-2026" in html and "（延长）" in html
    with desk.sessions() as session:
        actions = list(session.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.action.like("round.%")).order_by(m.AuditEvent.seq)))
        assert actions == ["round.load", "round.update"]


def test_bad_round_files_are_refused_with_the_field(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "sysadmin", "admin")
    bad_role = second_file().replace("role: staff, place: 东".encode(),
                                     "role: boss, place: 东".encode())
    response = upload(admin, bad_role)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "轮次文件有误，未载入" in html and "roster[" in html and "boss" in html
    response = upload(admin, b"round: [unclosed")
    assert response.status_code == 400 and "YAML" in response.get_data(as_text=True)
    response = upload(admin, "巡察".encode("gbk"))
    assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)
    # Two rounds taking items cannot share a mailbox.
    response = upload(admin, second_file(mailbox="xcz1@"))
    assert response.status_code == 409
    assert "xcz1@intake.example.cn 已由轮次" in response.get_data(as_text=True)
    assert desk.rounds.by_slug("nanhu-2026") is None


def test_the_lifecycle_from_the_page(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "sysadmin", "admin")
    slug = first_slug(desk)
    response = post_state(admin, slug, "handed_over")  # not from open
    assert response.status_code == 409
    assert "不能改为「已移交」" in response.get_data(as_text=True)

    assert post_state(admin, slug, "closed").status_code == 303
    assert "现为「已截止」" in admin.get("/staff/rounds").get_data(as_text=True)
    assert post_state(admin, slug, "open").status_code == 303
    assert post_state(admin, slug, "closed").status_code == 303

    # Archiving asks first, says what it means and when the materials go, and wants a reason.
    response = post_state(admin, slug, "archived", reason="已移交")
    assert response.status_code == 303 and response.location.endswith(f"/{slug}/archive")
    page = admin.get(f"/staff/rounds/{slug}/archive").get_data(as_text=True)
    due = (utcnow() + timedelta(days=1095)).astimezone(CHINA).strftime("%Y年%m月")
    assert "不再接收任何来件" in page and "1095 天" in page and due in page
    token = csrf_token(admin, f"/staff/rounds/{slug}/archive")
    response = admin.post(f"/staff/rounds/{slug}/state",
                          data={"csrf_token": token, "to": "archived", "confirm": "yes"})
    assert response.status_code == 400 and "归档理由" in response.get_data(as_text=True)
    assert desk.rounds.by_slug(slug).state == "closed"  # type: ignore[union-attr]
    response = admin.post(f"/staff/rounds/{slug}/state", data={
        "csrf_token": token, "to": "archived", "confirm": "yes", "reason": "线索已全部移交"})
    assert response.status_code == 303
    assert desk.rounds.by_slug(slug).state == "archived"  # type: ignore[union-attr]
    html = admin.get("/staff/rounds").get_data(as_text=True)
    assert "现为「已归档」" in html
    row = re.search(rf'<tr id="round-{slug}">(.*?)</tr>', html, re.S)
    assert row is not None and "<button" not in row.group(1)  # nothing after archived
    with desk.sessions() as session:
        events = list(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "round.state").order_by(m.AuditEvent.seq)))
    assert [(e.detail["before"], e.detail["after"]) for e in events] == [
        ("open", "closed"), ("closed", "open"), ("open", "closed"), ("closed", "archived")]
    assert events[-1].reason == "线索已全部移交" and events[-1].actor_label == "sysadmin"
    assert post_state(admin, slug, "open").status_code == 409


def test_items_after_closing_are_late_on_the_queue_and_refused_once_archived(
        app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "sysadmin", "admin")
    triager = staff_client(app, desk, "triager1", "triager")
    slug = first_slug(desk)
    on_time = ingest(desk, make_submission())
    post_state(admin, slug, "closed")
    late = ingest(desk, make_submission(text="副镇长周伟公车私用，周末开公车去钓鱼。"))
    with desk.sessions() as session:
        assert not session.get_one(m.Submission, on_time.submission_id).late
        assert session.get_one(m.Submission, late.submission_id).late
    html = triager.get("/staff/").get_data(as_text=True)
    assert html.count("截止后收到") == 1
    item = triager.get(f"/staff/items/{late.submission_id}").get_data(as_text=True)
    assert "受理截止后收到" in item

    token = csrf_token(admin, f"/staff/rounds/{slug}/archive")
    admin.post(f"/staff/rounds/{slug}/state", data={
        "csrf_token": token, "to": "archived", "confirm": "yes", "reason": "已移交"})
    with pytest.raises(InvalidSubmissionError) as refused:
        ingest(desk, make_submission(text="还有一件事要反映。"))
    assert refused.value.field == "round"
    public = app.test_client().get(f"/r/{slug}/report", follow_redirects=True)
    assert public.status_code == 410  # the round's page says it is over
