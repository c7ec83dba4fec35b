"""Staff sessions and logins: server-held sessions, throttling, password policy, TOTP, TLS.

Time is driven by a clock set on the app (`app.extensions["clock"]`), never by sleeping.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.web import create_app
from handlers.web.staff import STAFF_COOKIE
from intake.auth.passwords import PasswordPolicyError, check_password
from intake.desk import Desk
from intake.staff import StaffError, create_user, reset_second_factor, set_active
from intake.store import models as m
from tests.integration.test_cli import run
from tests.support import STAFF_PASSWORD, csrf_token, staff_client

STRONG = "Qinghai-lake-7-river"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    c = Clock()
    app.extensions["clock"] = c
    return c


def login(client: FlaskClient, username: str, password: str, address: str = "10.0.0.1") -> Any:
    token = csrf_token(client, "/staff/login")
    return client.post("/staff/login", data={"username": username, "password": password,
                                             "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def events(desk: Desk, action: str) -> list[m.AuditEvent]:
    with desk.sessions() as s:
        return list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)
                              .order_by(m.AuditEvent.id)))


def staff_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None
    return cookie.value


def session_count(desk: Desk) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.StaffSession)) or 0


# -- sessions ---------------------------------------------------------------------------------


def test_replayed_cookie_after_logout_gets_the_login_page(app: Flask, desk: Desk,
                                                          clock: Clock) -> None:
    client = staff_client(app, desk, "t1", "triager")
    token = staff_cookie(client)
    with desk.sessions() as s:  # the database holds a hash, never the cookie's value
        stored = s.scalar(select(m.StaffSession.token_hash))
    assert stored and stored != token and token not in stored
    assert client.get("/staff/").status_code == 200
    flask_cookie = client.get_cookie("xcz_session")  # CSRF token and flashes
    assert flask_cookie is not None
    r = client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/login")
    assert session_count(desk) == 0 and len(events(desk, "logout")) == 1

    replay = app.test_client()  # an attacker holding both cookies from before the logout
    replay.set_cookie(STAFF_COOKIE, token, path="/staff")
    replay.set_cookie("xcz_session", flask_cookie.value)
    r = replay.get("/staff/")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    assert "登录已失效" in replay.get(r.headers["Location"]).get_data(as_text=True)


def test_logging_in_again_ends_the_older_session(app: Flask, desk: Desk) -> None:
    client = staff_client(app, desk, "t1", "triager")
    old = staff_cookie(client)
    assert login(client, "t1", STAFF_PASSWORD).status_code == 302
    assert staff_cookie(client) != old and session_count(desk) == 1


def test_cookie_flags_without_tls(app: Flask, desk: Desk) -> None:
    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)
    r = login(app.test_client(), "t1", STAFF_PASSWORD)
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(STAFF_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/staff" in cookie
    assert "Secure" not in cookie
    assert "Strict-Transport-Security" not in r.headers


def test_idle_timeout_and_absolute_lifetime(app: Flask, desk: Desk, clock: Clock) -> None:
    client = staff_client(app, desk, "t1", "triager")
    for _ in range(3):  # activity keeps it alive past 30 minutes in all
        clock.advance(minutes=29)
        assert client.get("/staff/").status_code == 200
    clock.advance(minutes=31)
    r = client.get("/staff/")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]
    assert [e.detail["why"] for e in events(desk, "session.expired")] == ["idle"]
    assert session_count(desk) == 0

    other = staff_client(app, desk, "t2", "triager")
    for _ in range(16):  # busy all day: 8 hours end it anyway
        clock.advance(minutes=29)
        assert other.get("/staff/").status_code == 200
    clock.advance(minutes=29)
    assert other.get("/staff/").status_code == 302
    assert [e.detail["why"] for e in events(desk, "session.expired")] == ["idle", "lifetime"]


def test_password_change_ends_the_other_sessions(app: Flask, desk: Desk, clock: Clock) -> None:
    first = staff_client(app, desk, "t1", "triager")
    second = app.test_client()
    assert login(second, "t1", STAFF_PASSWORD).status_code == 302
    token = csrf_token(second, "/staff/password")
    r = second.post("/staff/password", data={"csrf_token": token, "old": STAFF_PASSWORD,
                                             "new": STRONG, "repeat": STRONG})
    assert r.status_code == 302
    assert second.get("/staff/").status_code == 200
    assert first.get("/staff/").status_code == 302
    assert session_count(desk) == 1
    [event] = events(desk, "password.change")
    assert event.detail["sessions_ended"] == 1


def test_disabling_an_account_ends_its_sessions(app: Flask, desk: Desk, clock: Clock) -> None:
    client = staff_client(app, desk, "t1", "triager")
    assert client.get("/staff/").status_code == 200
    set_active(desk, "t1", False, actor_label="admin")
    assert client.get("/staff/").status_code == 302
    assert session_count(desk) == 0
    r = login(app.test_client(), "t1", STAFF_PASSWORD)
    assert r.status_code == 401  # like a wrong password: nothing about the account
    assert events(desk, "login.failure")[-1].detail["why"] == "disabled"
    set_active(desk, "t1", True, actor_label="admin")
    assert login(app.test_client(), "t1", STAFF_PASSWORD).status_code == 302
    assert [e.actor_label for e in events(desk, "user.disable")] == ["admin"]


def test_the_accounts_page_disables_unlocks_and_resets(app: Flask, desk: Desk,
                                                       clock: Clock) -> None:
    triager = staff_client(app, desk, "t1", "triager")
    leader = staff_client(app, desk, "zuzhang", "team_leader")
    admin = staff_client(app, desk, "root", "admin")
    with desk.sessions() as s:
        ids = {u.username: u.id for u in s.scalars(select(m.StaffUser))}
    for i in range(10):
        login(app.test_client(), "t1", "wrong-password", f"10.0.0.{i}")
        clock.advance(seconds=60)
    page = admin.get("/staff/users").get_data(as_text=True)
    assert "锁定至" in page and "解锁" in page

    def act(user: str, action: str) -> Any:
        return admin.post(f"/staff/users/{ids[user]}/{action}",
                          data={"csrf_token": csrf_token(admin, "/staff/users")})

    assert act("t1", "unlock").status_code == 302
    assert act("t1", "disable").status_code == 302
    assert triager.get("/staff/").status_code == 302
    assert leader.get("/staff/").status_code == 200
    assert act("zuzhang", "disable").status_code == 302  # any role's account
    assert leader.get("/staff/").status_code == 302
    assert act("t1", "enable").status_code == 302
    assert act("t1", "launch").status_code == 404
    assert [e.actor_id for e in events(desk, "user.disable")] == [ids["root"]] * 2
    assert len(events(desk, "login.unlock")) == len(events(desk, "user.enable")) == 1
    assert login(app.test_client(), "t1", STAFF_PASSWORD, "10.0.9.9").status_code == 302


# -- throttling -------------------------------------------------------------------------------


def test_guesses_spread_over_four_addresses_lock_the_account_until_the_lock_expires(
        app: Flask, desk: Desk, clock: Clock) -> None:
    create_user(desk, "zuzhang", "team_leader", password=STAFF_PASSWORD)
    addresses = [f"198.51.100.{i}" for i in range(1, 5)]
    statuses = []
    for attempt in range(36):
        r = login(app.test_client(), "zuzhang", f"guess-number-{attempt}",
                  addresses[attempt % 4])
        statuses.append(r.status_code)
        # Each guess just after the growing delay allows it, so that it is really tried;
        # once locked, one every 20 s.
        clock.advance(seconds=2 ** max(0, attempt - 3) if attempt < 9 else 20)
    # The tenth wrong password locks the account and says so; the rest are refused unchecked.
    assert statuses[:9] == [401] * 9 and statuses[9:] == [429] * 27
    r = login(app.test_client(), "zuzhang", STAFF_PASSWORD, addresses[0])
    assert r.status_code == 429
    page = r.get_data(as_text=True)
    assert "账号已暂时锁定" in page and "分钟后再试" in page

    failures = events(desk, "login.failure")
    assert len(failures) == 37  # every failure, the right password while locked included
    assert {e.detail["address"] for e in failures} == set(addresses)
    assert [e.detail["why"] for e in failures].count("wrong") == 10
    assert [e.detail["why"] for e in failures].count("locked") == 27
    assert all(e.actor_label == "zuzhang" for e in failures)
    [locked] = events(desk, "login.locked")
    assert locked.detail["minutes"] == 15

    clock.advance(minutes=7)  # 15 minutes after the lock began: over
    r = login(app.test_client(), "zuzhang", STAFF_PASSWORD, addresses[1])
    assert r.status_code == 302
    [success] = events(desk, "login.success")
    assert success.detail["address"] == addresses[1]


def test_delays_grow_and_do_not_tell_whether_the_account_exists(
        app: Flask, desk: Desk, clock: Clock) -> None:
    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)
    pages = {}
    for name, address in (("t1", "10.0.0.1"), ("nobody-here", "10.0.0.2")):
        for _ in range(5):
            r = login(app.test_client(), name, "wrong-password", address)
            assert r.status_code == 401
        r = login(app.test_client(), name, "wrong-password", address)
        assert r.status_code == 429 and "2 秒后再试" in r.get_data(as_text=True)
        pages[name] = re.sub(r'value="[^"]+"', "", r.get_data(as_text=True))
        clock.advance(seconds=2)
        assert login(app.test_client(), name, "wrong-password", address).status_code == 401
        r = login(app.test_client(), name, STAFF_PASSWORD, address)  # right, but too soon
        assert r.status_code == 429 and "4 秒后再试" in r.get_data(as_text=True)
    assert pages["t1"] == pages["nobody-here"]
    unknown = [e for e in events(desk, "login.failure") if e.actor_id is None]
    assert unknown and all(e.actor_label == "(unknown)" for e in unknown)
    with desk.sessions() as s:  # the name typed is kept only as a keyed digest
        keys = list(s.scalars(select(m.LoginThrottle.account_key)))
    assert len(keys) == 2 and not any("nobody" in k for k in keys)


def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_a_slow_one(desk: Desk) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from intake.auth.logins import attempt_password

    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)
    when = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(
            lambda i: attempt_password(desk, "t1", f"guess-{i}", now=when, address="10.0.0.1"),
            range(20)))
    refused = sorted(o.refused for o in outcomes)
    assert refused == ["wait"] * 15 + ["wrong"] * 5  # each attempt counted before its check
    assert len(events(desk, "login.failure")) == 20


def test_an_administrator_unlocks_from_the_command_line(app: Flask, desk: Desk,
                                                        clock: Clock) -> None:
    create_user(desk, "zuzhang", "team_leader", password=STAFF_PASSWORD)
    for i in range(10):
        login(app.test_client(), "zuzhang", "wrong-password", f"10.0.0.{i}")
        clock.advance(seconds=60)
    assert login(app.test_client(), "zuzhang", STAFF_PASSWORD, "10.0.1.1").status_code == 429
    r = run(["users", "unlock", "zuzhang"], desk)
    assert r.returncode == 0 and "已解锁" in r.stdout, r.stderr
    assert login(app.test_client(), "zuzhang", STAFF_PASSWORD, "10.0.1.1").status_code == 302
    [event] = events(desk, "login.unlock")
    assert event.actor_label.startswith("cli:") and event.detail["username"] == "zuzhang"
    assert run(["users", "unlock", "nobody"], desk).returncode == 2


# -- password policy --------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["1111111111", "password123", "admin12345", "qingshan-duty",
                                  "Qingshan-Duty-2026", "short-7"])
def test_weak_passwords_are_refused_with_a_chinese_reason(weak: str) -> None:
    with pytest.raises(PasswordPolicyError) as caught:
        check_password(weak, username="qingshan-duty")
    assert re.search(r"[\u4e00-\u9fff]", caught.value.message)


def test_password_policy_on_every_way_a_password_is_chosen(app: Flask, desk: Desk) -> None:
    with pytest.raises(StaffError, match="常见密码"):
        create_user(desk, "wang", "triager", password="password123")
    with pytest.raises(StaffError, match="包含用户名"):
        create_user(desk, "qingshan-duty", "triager", password="qingshan-duty")
    # The round's own places, in pinyin too, are the first words a local attacker tries.
    for local in ("Qingshan2026", "qingshanzhen1"):
        with pytest.raises(StaffError, match="地名"):
            create_user(desk, "wang", "triager", password=local)
    create_user(desk, "generated", "triager")  # a generated one-time password is fine
    r = run(["users", "add", "li", "--role", "team_leader", "--password-stdin"], desk,
            stdin="1111111111\n")
    assert r.returncode == 2 and "重复" in r.stderr

    client = staff_client(app, desk, "t1", "triager")
    for weak, reason in [("1111111111", "重复"), ("password123", "常见密码"),
                         ("admin12345", "常见密码"), ("short", "至少 10 个字符")]:
        token = csrf_token(client, "/staff/password")
        r = client.post("/staff/password", data={"csrf_token": token, "old": STAFF_PASSWORD,
                                                 "new": weak, "repeat": weak})
        assert r.status_code == 400 and reason in r.get_data(as_text=True), weak
    token = csrf_token(client, "/staff/password")
    r = client.post("/staff/password", data={"csrf_token": token, "old": STAFF_PASSWORD,
                                             "new": STRONG, "repeat": STRONG})
    assert r.status_code == 302


def test_first_login_change_refuses_the_username(app: Flask, desk: Desk) -> None:
    _, one_time = create_user(desk, "dongling-officer", "duty_officer")
    client = app.test_client()
    assert login(client, "dongling-officer", one_time).status_code == 302
    token = csrf_token(client, "/staff/password")
    r = client.post("/staff/password", data={"csrf_token": token, "old": one_time,
                                             "new": "dongling-officer",
                                             "repeat": "dongling-officer"})
    assert r.status_code == 400 and "不能包含用户名" in r.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # still must change it


# -- second factor ----------------------------------------------------------------------------


def enrol(client: FlaskClient, clock: Clock) -> str:
    """Enrol on the 两步验证 page as a person would; return the secret."""
    page = client.get("/staff/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code, rendered here, offline
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    code = pyotp.TOTP(secret).at(clock.now)
    r = client.post("/staff/totp", data={"csrf_token": csrf_token(client, "/staff/totp"),
                                         "code": code})
    assert r.status_code == 302, r.get_data(as_text=True)
    return secret


def code_step(client: FlaskClient, code: str) -> Any:
    token = csrf_token(client, "/staff/login/code")
    return client.post("/staff/login/code", data={"csrf_token": token, "code": code})


def test_totp_enrol_login_and_a_replayed_code(app: Flask, desk: Desk, clock: Clock) -> None:
    client = staff_client(app, desk, "t1", "triager")
    secret = enrol(client, clock)
    [event] = events(desk, "totp.enrol")
    assert event.actor_label == "t1"
    with desk.sessions() as s:  # sealed at rest
        sealed = s.scalar(select(m.StaffUser.totp_secret).where(m.StaffUser.username == "t1"))
    assert sealed and secret.encode() not in sealed
    assert "已启用" in client.get("/staff/totp").get_data(as_text=True)

    clock.advance(seconds=30)
    fresh = app.test_client()
    r = login(fresh, "t1", STAFF_PASSWORD)
    assert r.status_code == 302 and "/staff/login/code" in r.headers["Location"]
    half = staff_cookie(fresh)
    r = fresh.get("/staff/")  # the password alone opens nothing
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/login/code")
    r = code_step(fresh, "000000" if pyotp.TOTP(secret).at(clock.now) != "000000" else "111111")
    assert r.status_code == 401 and "验证码不正确" in r.get_data(as_text=True)
    code = pyotp.TOTP(secret).at(clock.now)
    r = code_step(fresh, code)
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/")
    assert staff_cookie(fresh) != half  # a new session id once the second factor is done
    assert fresh.get("/staff/").status_code == 200
    assert events(desk, "login.success")[-1].detail["second_factor"] is True
    assert [e.detail["step"] for e in events(desk, "login.failure")] == ["code"]

    replay = app.test_client()  # the same code, seen over a shoulder, within its window
    login(replay, "t1", STAFF_PASSWORD)
    r = code_step(replay, code)
    assert r.status_code == 401
    assert replay.get("/staff/").status_code == 302
    clock.advance(seconds=30)
    assert code_step(replay, pyotp.TOTP(secret).at(clock.now)).status_code == 302


def test_second_factor_failures_share_the_account_throttle(app: Flask, desk: Desk,
                                                           clock: Clock) -> None:
    client = staff_client(app, desk, "t1", "triager")
    secret = enrol(client, clock)
    attacker = app.test_client()
    login(attacker, "t1", STAFF_PASSWORD)  # the password is known; the phone is not
    statuses = []
    for i in range(12):
        wrong = "123456" if pyotp.TOTP(secret).at(clock.now) != "123456" else "654321"
        statuses.append(code_step(attacker, wrong).status_code)
        clock.advance(seconds=2 ** max(0, i - 3))  # just past each growing delay
    assert statuses[:9] == [401] * 9 and statuses[9:] == [429] * 3
    assert len(events(desk, "login.locked")) == 1
    # Knowing the password does not reset the count: a fresh password step is refused too.
    assert login(app.test_client(), "t1", STAFF_PASSWORD).status_code == 429


def test_required_roles_must_enrol_and_an_admin_resets(desk: Desk, clock: Clock) -> None:
    settings = replace(desk.settings, totp_required_roles="team_leader,admin")
    app = create_app(settings, desk=replace(desk, settings=settings))
    app.extensions["clock"] = clock
    leader = staff_client(app, desk, "zuzhang", "team_leader")
    r = leader.get("/staff/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/totp")
    assert "须启用两步验证" in leader.get("/staff/totp").get_data(as_text=True)
    assert leader.get("/staff/audit/").status_code == 302
    triager = staff_client(app, desk, "t1", "triager")
    assert triager.get("/staff/").status_code == 200

    enrol(leader, clock)
    assert leader.get("/staff/").status_code == 200

    r = run(["users", "reset-totp", "zuzhang"], desk)
    assert r.returncode == 0 and "已重置" in r.stdout, r.stderr
    assert leader.get("/staff/").status_code == 302  # its sessions ended
    [event] = events(desk, "totp.reset")
    assert event.detail == {"username": "zuzhang", "had_second_factor": True}
    again = staff_client_existing(app, "zuzhang")
    assert again.get("/staff/").headers["Location"].endswith("/staff/totp")
    assert reset_second_factor(desk, "zuzhang", actor_label="test") is False


def staff_client_existing(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, STAFF_PASSWORD).status_code == 302
    return client


# -- TLS --------------------------------------------------------------------------------------


def test_https_only_sets_secure_cookies_hsts_and_redirects_plain_http(desk: Desk) -> None:
    settings = replace(desk.settings, https_only=True, trust_proxy=True)
    app = create_app(settings, desk=replace(desk, settings=settings))
    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)

    plain = app.test_client()
    r = plain.get("/staff/login")
    assert r.status_code == 308 and r.headers["Location"].startswith("https://")
    assert plain.get("/healthz").status_code == 200

    proxied = app.test_client()  # TLS ends at the reverse proxy, which says so
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    page = proxied.get("/staff/login", headers=headers)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    r = proxied.post("/staff/login", headers={**headers, "Referer": "https://localhost/staff/login"},
                     data={"username": "t1", "password": STAFF_PASSWORD,
                           "csrf_token": token.group(1)})
    assert r.status_code == 302, r.get_data(as_text=True)
    cookies = r.headers.getlist("Set-Cookie")
    staff = next(c for c in cookies if c.startswith(STAFF_COOKIE))
    assert "Secure" in staff and "HttpOnly" in staff and "SameSite=Lax" in staff
    assert all("Secure" in c for c in cookies)
    assert events(desk, "login.success")[0].detail["address"] == "203.0.113.9"

