"""Accounts: listing, role and team changes and password resets on the command line and on
账号, with their refusals and audit events; where each role lands after login; and the roles that
read no item (office, admin, auditor) kept from every item page."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from intake import letters
from intake.desk import Desk
from intake.pipeline import ingest
from intake.rounds import load_files
from intake.settings import EXAMPLE_ROUND
from intake.staff import (
    StaffError,
    create_user,
    list_users,
    reset_password,
    set_active,
    set_role,
    set_teams,
)
from intake.store import models as m
from intake.submission import IncomingFile
from tests.integration.test_cli import run
from tests.support import STAFF_PASSWORD, csrf_token, make_submission, staff_client

FIRST, SECOND = "县委第一巡察组", "县委第二巡察组"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + \
    "现场照片".encode() + b"\xff\xd9"


def second_team(desk: Desk, tmp_path: Path) -> None:
    """A second round, of another team, beside the example round."""
    source = EXAMPLE_ROUND.read_text(encoding="utf-8").replace(FIRST, SECOND)
    source = source.replace("xcz1@", "xcz2@").replace("round:\n", "round:\n  slug: second\n", 1)
    path = tmp_path / "second.yaml"
    path.write_text(source, encoding="utf-8")
    load_files(desk.sessions, [path])
    desk.rounds.refresh(force=True)


def events(desk: Desk, action: str) -> list[m.AuditEvent]:
    with desk.sessions() as s:
        return list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)
                              .order_by(m.AuditEvent.id)))


def session_count(desk: Desk, username: str) -> int:
    with desk.sessions() as s:
        user = s.scalar(select(m.StaffUser).where(m.StaffUser.username == username))
        return len(list(s.scalars(select(m.StaffSession).where(
            m.StaffSession.user_id == user.id))))


def sign_in(app: Flask, username: str, password: str = STAFF_PASSWORD,
            next_: str = "") -> tuple[FlaskClient, str]:
    """A client after the login form; returns it and where the login sent it."""
    client = app.test_client()
    token = csrf_token(client, "/staff/login")
    path = "/staff/login" + (f"?next={next_}" if next_ else "")
    r = client.post(path, data={"username": username, "password": password,
                                "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client, r.headers["Location"]


def changed_password(desk: Desk, username: str, role: str, **kw: Any) -> None:
    create_user(desk, username, role, password=STAFF_PASSWORD, **kw)
    with desk.sessions() as s:
        s.execute(text("UPDATE staff_users SET must_change_password = false "
                       "WHERE username = :u"), {"u": username})
        s.commit()


def post(client: FlaskClient, path: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/staff/password"), **data})


def user_id(desk: Desk, username: str) -> int:
    with desk.sessions() as s:
        return s.scalar(select(m.StaffUser.id).where(m.StaffUser.username == username))


# -- the command line --------------------------------------------------------------------------


def test_users_list_set_teams_set_role_and_reset_password_on_the_command_line(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)  # joins the one team there is
    create_user(desk, "root", "admin", password=STAFF_PASSWORD, display_name="根管理员")
    second_team(desk, tmp_path)

    r = run(["users", "list"], desk)
    assert r.returncode == 0, r.stderr
    listed = {a["username"]: a for a in map(json.loads, r.stdout.splitlines())}
    assert listed["t1"]["role"] == "triager" and listed["t1"]["teams"] == [FIRST]
    assert listed["root"] == {**listed["root"], "role": "admin", "teams": [], "active": True,
                              "locked": False, "second_factor": "off",
                              "display_name": "根管理员", "last_login_at": None}
    assert datetime.fromisoformat(listed["t1"]["created_at"]).tzinfo is not None
    assert "$argon2" not in r.stdout and STAFF_PASSWORD not in r.stdout

    r = run(["users", "set-teams", "t1", FIRST, SECOND], desk)
    assert r.returncode == 0, r.stderr
    assert [u.teams for u in list_users(desk) if u.username == "t1"] == [(FIRST, SECOND)]
    r = run(["users", "set-role", "t1", "office"], desk)  # the office belongs to no team
    assert r.returncode == 0, r.stderr
    t1 = next(u for u in list_users(desk) if u.username == "t1")
    assert (t1.role, t1.teams) == ("office", ())
    r = run(["users", "set-role", "t1", "triager"], desk)  # two teams: which one?
    assert r.returncode == 2 and "有多个巡察组" in r.stderr
    r = run(["users", "set-role", "t1", "triager", "--team", SECOND], desk)
    assert r.returncode == 0, r.stderr
    t1 = next(u for u in list_users(desk) if u.username == "t1")
    assert (t1.role, t1.teams) == ("triager", (SECOND,))

    r = run(["users", "reset-password", "t1"], desk)
    assert r.returncode == 0, r.stderr
    password = re.search(r"一次性密码：(\S+)", r.stdout).group(1)
    client, _ = sign_in(app, "t1", password)
    assert client.get("/staff/").headers["Location"].endswith("/staff/password")

    # the refusals, each with its message and exit 2
    for args, message in (
            (["set-role", "root", "triager"], "唯一启用的系统管理员"),
            (["disable", "root"], "唯一启用的系统管理员"),
            (["set-teams", "t1", "第九巡察组"], "没有巡察组「第九巡察组」"),
            (["set-teams", "t1"], "有多个巡察组"),  # a triager needs a team
            (["set-teams", "root", FIRST], "不属于任何巡察组"),
            (["set-role", "nobody", "triager"], "没有用户名为 nobody 的账号"),
            (["reset-password", "nobody"], "没有用户名为 nobody 的账号")):
        r = run(["users", *args], desk)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)

    assert [(e.detail["teams"], e.detail["old_teams"]) for e in events(desk, "user.teams")] == [
        ([FIRST, SECOND], [FIRST]), ([], [FIRST, SECOND]), ([SECOND], [])]
    assert [(e.detail["old_role"], e.detail["new_role"]) for e in events(desk, "user.role")] \
        == [("triager", "office"), ("office", "triager")]
    resets = events(desk, "user.password_reset")
    assert [e.detail["username"] for e in resets] == ["t1"]
    assert all(e.actor_label.startswith("cli:") for e in [*resets, *events(desk, "user.role")])
    assert password not in json.dumps([e.detail for e in resets])


# -- the core's refusals -----------------------------------------------------------------------


def test_the_last_active_administrator_stays_one(desk: Desk) -> None:
    root, _ = create_user(desk, "root", "admin", password=STAFF_PASSWORD)
    spare, _ = create_user(desk, "spare", "admin", password=STAFF_PASSWORD)
    set_active(desk, "spare", False, actor_label="root")  # a disabled admin does not count
    with pytest.raises(StaffError, match="唯一启用的系统管理员"):
        set_role(desk, "root", "auditor", actor_label="cli:x")
    with pytest.raises(StaffError, match="唯一启用的系统管理员"):
        set_active(desk, "root", False, actor_label="cli:x")
    set_active(desk, "spare", True, actor_label="root")
    with pytest.raises(StaffError, match="不能修改自己的角色"):
        set_role(desk, "root", "auditor", actor_label="root", actor_id=root.id)
    with pytest.raises(StaffError, match="不能重置自己的密码"):
        reset_password(desk, "root", actor_label="root", actor_id=root.id)
    assert set_role(desk, "root", "auditor", actor_label="spare", actor_id=spare.id)
    with pytest.raises(StaffError, match="唯一启用的系统管理员"):
        set_role(desk, "spare", "office", actor_label="cli:x")
    assert not set_role(desk, "spare", "admin", actor_label="cli:x")  # nothing to change
    assert not set_teams(desk, "spare", [], actor_label="cli:x")
    assert [e.detail["new_role"] for e in events(desk, "user.role")] == ["auditor"]


# -- the accounts page -------------------------------------------------------------------------


def test_the_administrator_makes_the_accounts_that_read_no_item(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    second_team(desk, tmp_path)
    admin = staff_client(app, desk, "root", "admin")
    # Accounts that read items are not the administrator's to make (三员分立): a team
    # leader's is made on the server, a triager's by the team's leader; both refusals recorded.
    r = post(admin, "/staff/users", username="zz1", role="team_leader", team=SECOND)
    assert r.status_code == 409 and "只能由服务器管理员用命令行办理" in r.get_data(as_text=True)
    r = post(admin, "/staff/users", username="zz3", role="triager", team=SECOND)
    assert r.status_code == 409 and "由本组组长" in r.get_data(as_text=True)
    assert not {"zz1", "zz3"} & {u.username for u in list_users(desk)}
    assert [(e.actor_label, e.detail["action"], e.detail["username"])
            for e in events(desk, "account.refused")] == [
        ("root", "create", "zz1"), ("root", "create", "zz3")]

    # the office's boxes ticked before its role was chosen are no teams of it
    r = post(admin, "/staff/users", username="ban", role="office", team=FIRST)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    password = re.search(r"一次性密码：<code>([^<]+)</code>", page).group(1)
    ban = next(u for u in list_users(desk) if u.username == "ban")
    assert (ban.role, ban.teams, ban.must_change_password) == ("office", (), True)
    assert sign_in(app, "ban", password)[1].endswith("/staff/stats")
    r = post(admin, "/staff/users", username="x", role="boss")
    assert r.status_code == 400 and "未知角色" in r.get_data(as_text=True)

    changed_password(desk, "t1", "triager", teams=[FIRST])
    page = admin.get("/staff/users").get_data(as_text=True)
    row = re.search(r'<tr id="account-t1">.*?</tr>', page, re.S).group(0)
    assert "研判员" in row and FIRST in row and "停用" in row and "由本组组长办理" in row
    assert "重置密码" not in row and "修改角色和所属组" not in row
    row = re.search(r'<tr id="account-ban">.*?</tr>', page, re.S).group(0)
    assert "修改角色和所属组" in row and "重置密码" in row
    own = re.search(r'<tr id="account-root">.*?</tr>', page, re.S).group(0)
    assert "（本人）" in own and "修改角色和所属组" not in own and "重置密码" not in own
    assert '<option value="triager"' not in page and '<option value="team_leader"' not in page
    assert post(admin, f"/staff/users/{user_id(desk, 't1')}/disable").status_code == 302
    assert post(admin, f"/staff/users/{user_id(desk, 't1')}/reset-password").status_code == 409
    assert {"username": "ban", "role": "office", "teams": []} in [
        e.detail for e in events(desk, "staff.create")]


def test_a_team_leader_makes_and_resets_the_teams_officers_and_triagers(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    second_team(desk, tmp_path)
    leader = staff_client(app, desk, "zz_leader", "team_leader", [SECOND])
    changed_password(desk, "a_triager", "triager", teams=[FIRST])
    r = post(leader, "/staff/users", username="zz2", display_name="第二组研判员",
             role="triager", team=SECOND)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    password = re.search(r"一次性密码：<code>([^<]+)</code>", page).group(1)
    zz2 = next(u for u in list_users(desk) if u.username == "zz2")
    assert (zz2.role, zz2.teams, zz2.must_change_password) == ("triager", (SECOND,), True)
    assert sign_in(app, "zz2", password)[1].endswith("/staff/")
    r = post(leader, "/staff/users", username="zz3", role="duty_officer")  # their one team
    assert r.status_code == 200
    assert next(u for u in list_users(desk) if u.username == "zz3").teams == (SECOND,)
    for data, message in (({"role": "triager", "team": FIRST}, "只能把账号放在您所在的组"),
                          ({"role": "office"}, "组长只能办理本组的值班员、研判员账号"),
                          ({"role": "team_leader", "team": SECOND}, "只能由服务器管理员")):
        r = post(leader, "/staff/users", username="zz9", **data)
        assert r.status_code == 409 and message in r.get_data(as_text=True), data
    page = leader.get("/staff/users").get_data(as_text=True)
    assert "account-zz2" in page and "account-a_triager" not in page  # their teams only
    assert post(leader, f"/staff/users/{user_id(desk, 'a_triager')}/reset-password",
                ).status_code == 404
    r = post(leader, f"/staff/users/{user_id(desk, 'zz2')}/reset-password")
    assert r.status_code == 200 and "一次性密码" in r.get_data(as_text=True)
    r = post(leader, f"/staff/users/{user_id(desk, 'zz2')}/access", role="duty_officer",
             team=SECOND)
    assert r.status_code == 302
    r = post(leader, f"/staff/users/{user_id(desk, 'zz2')}/access", role="triager",
             team=[FIRST, SECOND])
    assert r.status_code == 409
    assert [(e.detail["old_role"], e.detail["new_role"], e.actor_id)
            for e in events(desk, "user.role")] == [
        ("triager", "duty_officer", user_id(desk, "zz_leader"))]


def test_changing_role_or_teams_on_the_page_ends_the_accounts_sessions(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    second_team(desk, tmp_path)
    leader = staff_client(app, desk, "both_leader", "team_leader", [FIRST, SECOND])
    changed_password(desk, "t1", "triager", teams=[FIRST])
    triager, _ = sign_in(app, "t1")
    assert triager.get("/staff/").status_code == 200
    t1 = user_id(desk, "t1")

    r = post(leader, f"/staff/users/{t1}/access", role="triager", team=[FIRST, SECOND])
    assert r.status_code == 302
    assert "已将 t1 设为研判员" in leader.get("/staff/users").get_data(as_text=True)
    assert triager.get("/staff/").status_code == 302 and session_count(desk, "t1") == 0
    triager, _ = sign_in(app, "t1")
    assert f"{FIRST}、{SECOND} · 受理台" in triager.get("/staff/").get_data(as_text=True)

    r = post(leader, f"/staff/users/{t1}/access", role="team_leader", team=[FIRST, SECOND])
    assert r.status_code == 409 and "只能由服务器管理员用命令行办理" in r.get_data(as_text=True)
    r = post(leader, f"/staff/users/{t1}/access", role="duty_officer", team=[FIRST, SECOND])
    assert r.status_code == 302 and triager.get("/staff/").status_code == 302
    r = post(leader, f"/staff/users/{t1}/access", role="duty_officer", team=[FIRST, SECOND])
    assert "角色和所属组未变" in leader.get(r.headers["Location"]).get_data(as_text=True)

    admin = staff_client(app, desk, "root", "admin")
    ban = staff_client(app, desk, "ban", "office")
    r = post(admin, f"/staff/users/{user_id(desk, 'ban')}/access", role="auditor")
    assert r.status_code == 302 and ban.get("/staff/audit/").status_code == 302

    assert [(e.detail["old_role"], e.detail["new_role"], e.actor_id)
            for e in events(desk, "user.role")] == [
        ("triager", "duty_officer", user_id(desk, "both_leader")),
        ("office", "auditor", user_id(desk, "root"))]
    assert [e.detail["teams"] for e in events(desk, "user.teams")] == [[FIRST, SECOND]]
    assert events(desk, "user.teams")[0].detail["sessions_ended"] == 1


def test_password_reset_on_the_page_shows_the_password_once_and_ends_sessions(
        app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "root", "admin")
    staff_client(app, desk, "zuzhang1", "team_leader")
    for action in ("reset-password", "reset-totp"):  # a team leader's: on the server only
        r = post(admin, f"/staff/users/{user_id(desk, 'zuzhang1')}/{action}")
        assert r.status_code == 409 and "只能由服务器管理员" in r.get_data(as_text=True)
    office = staff_client(app, desk, "bangong", "office")
    r = post(admin, f"/staff/users/{user_id(desk, 'bangong')}/reset-password")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"]
    password = re.search(r"一次性密码：<code>([^<]+)</code>", page).group(1)
    assert password not in admin.get("/staff/users").get_data(as_text=True)  # once
    assert office.get("/staff/stats").status_code == 302
    client, _ = sign_in(app, "bangong", password)
    assert client.get("/staff/").headers["Location"].endswith("/staff/password")
    assert app.test_client().post("/staff/login", data={
        "username": "bangong", "password": STAFF_PASSWORD,
        "csrf_token": csrf_token(app.test_client(), "/staff/login")}).status_code != 302
    [event] = events(desk, "user.password_reset")
    assert (event.actor_id, event.detail) == (user_id(desk, "root"), {
        "username": "bangong", "sessions_ended": 1})


def test_the_accounts_page_refuses_in_chinese(app: Flask, desk: Desk) -> None:
    admin = staff_client(app, desk, "root", "admin")
    root = user_id(desk, "root")
    for path, data, message in (
            (f"/staff/users/{root}/access", {"role": "auditor"}, "不能修改自己的角色"),
            (f"/staff/users/{root}/disable", {}, "唯一启用的系统管理员，不能停用"),
            (f"/staff/users/{root}/reset-password", {}, "不能重置自己的密码")):
        r = post(admin, path, **data)
        assert r.status_code == 409 and message in r.get_data(as_text=True), path
    assert post(admin, "/staff/users/999/disable").status_code == 404
    assert post(admin, f"/staff/users/{root}/delete").status_code == 404
    r = admin.post(f"/staff/users/{root}/reset-password")  # no CSRF token
    assert r.status_code == 400
    assert not events(desk, "user.role") and not events(desk, "user.password_reset")
    assert next(u for u in list_users(desk) if u.username == "root").active


def test_only_the_administrator_and_team_leaders_open_the_accounts_page(app: Flask,
                                                                         desk: Desk) -> None:
    changed_password(desk, "root", "admin")
    for role in ("duty_officer", "triager", "office", "auditor"):
        client = staff_client(app, desk, role, role)
        assert client.get("/staff/users").status_code == 403, role
        assert post(client, f"/staff/users/{user_id(desk, 'root')}/reset-password",
                    ).status_code == 403
        assert post(client, "/staff/users", username="x", role="admin").status_code == 403
    assert not events(desk, "user.password_reset")


# -- where each role lands ---------------------------------------------------------------------


def expected_landing(app: Flask, role: str) -> str:
    if role == "office":  # the statistics page, once it exists; else 修改密码
        return "/staff/stats" if "staff.stats" in app.view_functions else "/staff/password"
    return {"duty_officer": "/staff/desk/", "triager": "/staff/", "team_leader": "/staff/",
            "auditor": "/staff/audit/", "admin": "/staff/users"}[role]


@pytest.mark.parametrize("role", ["duty_officer", "triager", "team_leader", "office",
                                  "auditor", "admin"])
def test_each_role_lands_on_its_own_page(app: Flask, desk: Desk, role: str) -> None:
    ingest(desk, make_submission())
    changed_password(desk, "someone", role)
    landing = expected_landing(app, role)
    client, location = sign_in(app, "someone")
    assert location == landing
    assert client.get(location).status_code == 200
    _, location = sign_in(app, "someone", next_="/staff/")  # the bare address: the same
    assert location == landing
    # a deep link wins when the role may open it
    _, location = sign_in(app, "someone", next_="/staff/items/1")
    queue_role = role in ("duty_officer", "triager", "team_leader")
    assert location == ("/staff/items/1" if queue_role else landing)
    _, location = sign_in(app, "someone", next_="/staff/audit/?actor=x")
    assert location == ("/staff/audit/?actor=x" if role in ("team_leader", "auditor")
                        else landing)
    _, location = sign_in(app, "someone", next_="/staff/password")
    assert location == "/staff/password"  # every member's
    for nowhere in ("/staff/no-such-page", "/staff/login", "/staff/logout", "//evil.example/"):
        _, location = sign_in(app, "someone", next_=nowhere)
        assert location == landing, nowhere
    # /staff/ itself takes the roles that read no item where they start
    r = client.get("/staff/")
    assert r.status_code == 200 if queue_role else r.headers["Location"] == landing


def test_the_first_admin_lands_on_accounts_after_the_one_time_password(
        app: Flask, desk: Desk) -> None:
    from intake.staff import ensure_first_admin

    password = ensure_first_admin(desk)
    assert password
    client, _ = sign_in(app, "admin", password)
    r = post(client, "/staff/password", old=password, new="a-new-long-password",
             repeat="a-new-long-password")
    assert r.headers["Location"] == "/staff/users"
    page = client.get("/staff/users").get_data(as_text=True)
    assert "系统管理员（系统管理员）" not in page and ">系统管理员</a>" in page


# -- headers and navigation --------------------------------------------------------------------


def nav(page: str) -> list[str]:
    block = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
    return re.findall(r'<a href="[^"]+"(?: title="[^"]*")?>([^<]+)</a>', block)


def test_the_header_names_the_members_teams_and_links_only_what_the_role_may_open(
        app: Flask, desk: Desk, tmp_path: Path) -> None:
    second_team(desk, tmp_path)
    changed_password(desk, "t2", "triager", teams=[SECOND], display_name="李研判")
    page = sign_in(app, "t2")[0].get("/staff/").get_data(as_text=True)
    assert f"{SECOND} · 受理台" in page and FIRST not in page.split("</header>")[0]
    assert nav(page)[:1] == ["研判队列"] and "账号" not in nav(page)
    assert "李研判（研判员）" in page

    admin = staff_client(app, desk, "root", "admin")
    links = nav(admin.get("/staff/users").get_data(as_text=True))
    assert "账号" in links and "呼叫中心接入" in links
    assert not {"研判队列", "值班台", "审计记录"} & set(links)
    if "staff.rounds" in app.view_functions:
        assert "轮次" in links
    auditor = staff_client(app, desk, "shenji", "auditor")
    links = nav(auditor.get("/staff/audit/").get_data(as_text=True))
    assert links == ["审计记录", "shenji（安全审计员）"]
    changed_password(desk, "zhiban", "duty_officer", teams=[FIRST])
    officer, _ = sign_in(app, "zhiban")
    assert nav(officer.get("/staff/desk/").get_data(as_text=True))[:5] == [
        "研判队列", "线索台账", "超期督办", "日报", "值班台"]


# -- the roles that read no item ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["office", "admin", "auditor"])
def test_office_admin_and_auditor_read_no_item(app: Flask, desk: Desk, role: str) -> None:
    ingest(desk, make_submission(attachments=(IncomingFile("现场.jpg", io.BytesIO(PHOTO)),)))
    batch = letters.create_batch(desk, source="postal", box="", opened_at=datetime(
        2026, 3, 9, 0, 30, tzinfo=UTC), note="", staff_id=None)
    added = letters.add_file(desk, batch, "来信.png", io.BytesIO(PNG))
    with desk.sessions() as s:
        attachment = s.scalar(select(m.Attachment.id))
        page = s.scalar(select(m.ScanPage.id).where(m.ScanPage.batch_id == batch))
    client = staff_client(app, desk, "x", role)
    reader = staff_client(app, desk, "t1", "team_leader")
    for path in ("/staff/?status=received", "/staff/items/1", f"/staff/attachments/{attachment}",
                 f"/staff/letters/batches/{batch}", f"/staff/letters/pages/{page}/image",
                 f"/staff/letters/files/{added.file_id}", "/staff/desk/"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "刘德福" not in r.get_data(as_text=True)
        assert reader.get(path).status_code == 200, path  # the pages are there
    for path in ("/staff/items/1/reveal", "/staff/items/1/decision", "/staff/items/1/reply"):
        assert post(client, path, reason="核查需要", text="x").status_code == 403, path
    assert "刘德福" not in client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert not [e for e in events(desk, "item.view") if e.actor_label == "x"]
    assert not [e for e in events(desk, "attachment.download") if e.actor_label == "x"]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, format="PNG")
    return out.getvalue()


PNG = _png()
