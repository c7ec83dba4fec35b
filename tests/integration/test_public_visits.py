"""The public status page's case visit is held on the server: "退出查询" ends it for any copy of
the cookie, it ends by itself after its idle time, and no cookie carries the item number.

Time is driven by a clock set on the app (`app.extensions["clock"]`), never by sleeping.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.web.public import VISIT_COOKIE, VISIT_PATH
from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.submission import Receipt
from tests.integration.test_auth import Clock, clock  # noqa: F401  (the fixture)
from tests.support import csrf_token, make_submission

PASSWORD = "family-phone-7"


def a_case(desk: Desk) -> Receipt:
    return ingest(desk, make_submission(password=PASSWORD))


def enter(client: FlaskClient, receipt: Receipt) -> str:
    """Open the case with its code and password; return the visit cookie's value."""
    r = client.post("/status", data={"csrf_token": csrf_token(client, "/status"),
                                     "code": receipt.code, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/status/case")
    cookie = client.get_cookie(VISIT_COOKIE, path=VISIT_PATH)
    assert cookie is not None
    return cookie.value


def opens_case(client: FlaskClient) -> bool:
    r = client.get("/status/case")
    return r.status_code == 200 and "补充" in r.get_data(as_text=True)


def follow_up(client: FlaskClient, text: str) -> None:
    client.post("/status/case/message", data={"csrf_token": csrf_token(client, "/status"),
                                               "text": text})


def count(desk: Desk, model: type) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_copied_cookie_opens_nothing_after_leaving(app: Flask, desk: Desk) -> None:
    receipt = a_case(desk)
    client = app.test_client()
    token = enter(client, receipt)
    assert opens_case(client)
    follow_up(client, "还有一件事：账目在会计家里。")
    assert count(desk, m.Message) == 1

    r = client.post("/status/leave", data={"csrf_token": csrf_token(client, "/status/case")})
    assert r.status_code == 302
    assert client.get_cookie(VISIT_COOKIE, path=VISIT_PATH) is None
    assert count(desk, m.CaseVisit) == 0

    # Someone kept a copy of the cookie: replayed, in this browser and in another one.
    for replay in (client, app.test_client()):
        replay.set_cookie(VISIT_COOKIE, token, path=VISIT_PATH)
        r = replay.get("/status/case")
        assert r.status_code == 302 and r.headers["Location"].endswith("/status")
        replay.set_cookie(VISIT_COOKIE, token, path=VISIT_PATH)
        follow_up(replay, "冒充举报人补充的内容")
    assert count(desk, m.Message) == 1


def test_no_cookie_carries_the_item_number(app: Flask, desk: Desk) -> None:
    a_case(desk)  # so the case below is not item 1
    receipt = a_case(desk)
    client = app.test_client()
    client.post("/status", data={"csrf_token": csrf_token(client, "/status"),
                                 "code": receipt.code, "password": PASSWORD})
    token = enter(client, receipt)
    with desk.sessions() as s:
        stored = list(s.scalars(select(m.CaseVisit)))
    assert [v.submission_id for v in stored] == [receipt.submission_id]  # the first one ended
    assert stored[0].token_hash != token and token not in stored[0].token_hash
    assert len(token) >= 40

    flask_cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert flask_cookie is not None
    contents = app.session_interface.get_signing_serializer(app).loads(  # type: ignore[attr-defined]
        flask_cookie.value)
    assert set(contents) <= {"csrf_token", "_flashes"}  # nothing about the case


def test_the_visit_cookie_is_narrow(app: Flask, desk: Desk) -> None:
    receipt = a_case(desk)
    client = app.test_client()
    r = client.post("/status", data={"csrf_token": csrf_token(client, "/status"),
                                     "code": receipt.code, "password": PASSWORD})
    [header] = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(VISIT_COOKIE + "=")]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/status" in header
    assert client.get_cookie(VISIT_COOKIE, path="/") is None  # not sent to other pages


def test_the_visit_ends_when_idle(app: Flask, desk: Desk, clock: Clock) -> None:  # noqa: F811
    receipt = a_case(desk)
    client = app.test_client()
    token = enter(client, receipt)
    for _ in range(4):  # in use: stays open past the idle time
        clock.advance(minutes=15)
        assert opens_case(client)
    clock.advance(minutes=21)
    assert not opens_case(client)
    assert count(desk, m.CaseVisit) == 0
    client.set_cookie(VISIT_COOKIE, token, path=VISIT_PATH)
    follow_up(client, "超时后的补充")
    assert count(desk, m.Message) == 0


def test_the_visit_has_a_lifetime(app: Flask, desk: Desk, clock: Clock) -> None:  # noqa: F811
    receipt = a_case(desk)
    client = app.test_client()
    enter(client, receipt)
    for _ in range(3):
        clock.advance(minutes=19)
        assert opens_case(client)
    clock.advance(minutes=4)  # 61 minutes since the code and password
    assert not opens_case(client)


def test_visits_nobody_ended_are_cleaned_up(app: Flask, desk: Desk, clock: Clock) -> None:  # noqa: F811
    receipt = a_case(desk)
    for _ in range(3):
        enter(app.test_client(), receipt)
    assert count(desk, m.CaseVisit) == 3
    clock.advance(minutes=25)
    enter(app.test_client(), receipt)
    assert count(desk, m.CaseVisit) == 1


def test_posting_a_follow_up_still_needs_the_csrf_token(app: Flask, desk: Desk) -> None:
    receipt = a_case(desk)
    client = app.test_client()
    enter(client, receipt)
    r = client.post("/status/case/message", data={"text": "没有令牌的补充"})
    assert r.status_code == 400
    assert count(desk, m.Message) == 0
