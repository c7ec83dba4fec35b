"""Busy addresses are slowed by proof of work, never refused; trusted clients have their own
tokens and limits. Through the real app, database and limiter storage (Redis when set)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.web import create_app
from intake import pow
from intake.clients import create_client, revoke_client
from intake.desk import Desk
from intake.settings import SettingsError
from intake.store import models as m
from tests.integration.test_cli import run
from tests.support import csrf_token

REPORT = {"text": "北岭村村委会主任赵长顺把扶贫项目的工程包给自己的小舅子。",
          "password": "my-secret-1"}
VILLAGE = {"REMOTE_ADDR": "10.20.30.40"}  # one carrier NAT address for everyone


@pytest.fixture
def busy_app(desk: Desk) -> Flask:
    """Work from the third submission per address; cheap puzzles so the test runs fast."""
    settings = replace(desk.settings, pow_threshold=3, pow_min_bits=4, pow_max_bits=8)
    return create_app(settings, desk=desk)


def submissions(desk: Desk) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Submission)) or 0


def post_report(client: FlaskClient, headers: dict[str, str] | None = None) -> Any:
    return client.post("/api/v1/reports", json=REPORT, headers=headers or {},
                       environ_base=VILLAGE)


def solved_headers(body: dict[str, Any]) -> dict[str, str]:
    return {"X-Pow-Challenge": body["challenge"],
            "X-Pow-Nonce": pow.solve(body["challenge"], body["bits"])}


def test_difficulty_grows_with_volume_and_stops_at_the_maximum() -> None:
    bits = [pow.required_bits(v, threshold=20, min_bits=12, max_bits=16)
            for v in (0, 19, 20, 39, 40, 80, 160, 10_000)]
    assert bits == [0, 0, 12, 12, 14, 16, 16, 16]


def test_a_hundred_reports_from_one_address_are_all_accepted(busy_app: Flask,
                                                              desk: Desk) -> None:
    client = busy_app.test_client()
    statuses, challenged, hardest = [], 0, 0
    for _ in range(100):
        r = post_report(client)
        if r.status_code == 429:
            body = r.get_json()
            assert body["error"]["code"] == "work_required" and body["bits"] >= 4
            challenged += 1
            hardest = max(hardest, body["bits"])
            r = post_report(client, solved_headers(body))
        statuses.append(r.status_code)
    assert statuses == [201] * 100
    assert challenged == 97 and hardest == 8  # the first three free; the cap is reached
    assert submissions(desk) == 100


def test_another_address_is_not_slowed_by_a_busy_one(busy_app: Flask) -> None:
    client = busy_app.test_client()
    for _ in range(3):
        assert post_report(client).status_code == 201
    assert post_report(client).status_code == 429
    other = client.post("/api/v1/reports", json=REPORT,
                        environ_base={"REMOTE_ADDR": "10.99.0.1"})
    assert other.status_code == 201


def test_bad_forged_and_reused_solutions_are_refused(busy_app: Flask, desk: Desk) -> None:
    client = busy_app.test_client()
    for _ in range(3):
        post_report(client)
    body = post_report(client).get_json()
    token = body["challenge"]
    wrong = next(str(n) for n in range(10_000) if pow.leading_zero_bits(
        hashlib.sha256(f"{token}:{n}".encode()).digest()) < body["bits"])
    r = post_report(client, {"X-Pow-Challenge": token, "X-Pow-Nonce": wrong})
    assert r.status_code == 429 and r.get_json()["error"]["reason"] == "unsolved"
    forged = re.sub(r"\.(\d+)\.", ".1.", token, count=1)  # claim an easier puzzle
    r = post_report(client, {"X-Pow-Challenge": forged, "X-Pow-Nonce": "0"})
    assert r.status_code == 429 and r.get_json()["error"]["reason"] == "forged"
    good = solved_headers(body)
    assert post_report(client, good).status_code == 201
    r = post_report(client, good)
    assert r.status_code == 429 and r.get_json()["error"]["reason"] == "reused"
    assert "请再次点击提交" in r.get_json()["error"]["message"]
    assert submissions(desk) == 4


def test_an_expired_challenge_is_refused(busy_app: Flask) -> None:
    client = busy_app.test_client()
    for _ in range(3):
        post_report(client)
    secret = busy_app.extensions["submission_guard"].secret
    old = pow.issue(secret, 8, lifetime=60, now=1_000_000)
    r = post_report(client, {"X-Pow-Challenge": old.token,
                             "X-Pow-Nonce": pow.solve(old.token, 8)})
    assert r.get_json()["error"]["reason"] == "expired"


def test_api_challenge_can_be_fetched_before_submitting(busy_app: Flask) -> None:
    client = busy_app.test_client()
    r = client.get("/api/v1/challenge", environ_base=VILLAGE)
    assert r.get_json() == {"challenge": None, "bits": 0}
    for _ in range(3):
        post_report(client)
    body = client.get("/api/v1/challenge", environ_base=VILLAGE).get_json()
    assert body["bits"] == 4 and body["expires_at"] > 0 and 590 < body["expires_in"] <= 600
    assert r.headers["Cache-Control"] == "no-store"
    assert post_report(client, solved_headers(body)).status_code == 201


def test_the_form_without_script_past_the_threshold_explains_in_chinese(
    busy_app: Flask, desk: Desk
) -> None:
    client = busy_app.test_client()
    page = client.get("/report", environ_base=VILLAGE).get_data(as_text=True)
    assert 'data-pow="/api/v1/challenge"' in page and "pow-noscript" not in page
    for i in range(3):
        token = csrf_token(client, "/report")
        r = client.post("/report", data={**REPORT, "csrf_token": token}, environ_base=VILLAGE)
        assert r.status_code == 200, i
    page = client.get("/report", environ_base=VILLAGE).get_data(as_text=True)
    assert "pow-noscript" in page  # told before typing, when scripts are off
    token = csrf_token(client, "/report")
    r = client.post("/report", data={**REPORT, "csrf_token": token}, environ_base=VILLAGE)
    assert r.status_code == 429
    html = r.get_data(as_text=True)
    assert "开启浏览器的 JavaScript" in html and REPORT["text"] in html  # the text is kept
    # with the work done (what pow.js does), the same form goes through
    body = client.get("/api/v1/challenge", environ_base=VILLAGE).get_json()
    r = client.post("/report", data={**REPORT, "csrf_token": token,
                                     "pow_challenge": body["challenge"],
                                     "pow_nonce": pow.solve(body["challenge"], body["bits"])},
                    environ_base=VILLAGE)
    assert r.status_code == 200 and "查询码" in r.get_data(as_text=True)
    assert submissions(desk) == 4


def test_follow_ups_are_limited_per_case_not_per_address(desk: Desk) -> None:
    settings = replace(desk.settings, message_rate_limit="2 per minute")
    client = create_app(settings, desk=desk).test_client()
    codes = [post_report(client).get_json()["code"] for _ in range(2)]
    for code in codes:  # two cases from one address: each has its own budget
        replies = [client.post(f"/api/v1/reports/{code}/messages", environ_base=VILLAGE,
                               json={"password": REPORT["password"], "text": "补充"}).status_code
                   for _ in range(3)]
        assert replies == [201, 201, 429]


# --- trusted API clients -----------------------------------------------------------------


def test_trusted_client_skips_the_work_and_has_its_own_limit(busy_app: Flask,
                                                             desk: Desk) -> None:
    client = busy_app.test_client()
    token = create_client(desk, "码上巡察", rate_limit="5 per minute", actor_label="test")
    bearer = {"Authorization": f"Bearer {token}"}
    statuses = [post_report(client, bearer).status_code for _ in range(6)]
    assert statuses == [201] * 5 + [429]  # never asked for work; its own limit holds
    assert post_report(client).status_code == 201  # the address's anonymous budget untouched
    r = post_report(client, {"Authorization": "Bearer xczapi_not-a-token"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert post_report(client, {"Authorization": "Basic abc"}).status_code == 401
    revoke_client(desk, "码上巡察", actor_label="test")
    assert post_report(client, bearer).status_code == 401
    with desk.sessions() as s:
        actions = list(s.scalars(select(m.AuditEvent.action).order_by(m.AuditEvent.id)))
        stored = s.scalar(select(m.ApiClient.token_lookup))
    assert actions == ["api_client_create", "api_client_revoke"]
    assert token not in stored  # only a digest


def test_trusted_client_default_limit_comes_from_the_settings(desk: Desk) -> None:
    settings = replace(desk.settings, api_client_rate_limit="2 per minute")
    client = create_app(settings, desk=desk).test_client()
    bearer = {"Authorization": f"Bearer {create_client(desk, 'app', actor_label='test')}"}
    assert [post_report(client, bearer).status_code for _ in range(3)] == [201, 201, 429]
    assert "限额" in post_report(client, bearer).get_json()["error"]["message"]


def test_clients_command_adds_lists_and_revokes(desk: Desk) -> None:
    r = run(["clients", "add", "码上巡察", "--limit", "100 per hour"], desk)
    assert r.returncode == 0, r.stderr
    token = re.search(r"(xczapi_\S+)", r.stdout).group(1)  # type: ignore[union-attr]
    assert run(["clients", "add", "码上巡察"], desk).returncode == 2
    assert run(["clients", "add", "other", "--limit", "lots"], desk).returncode == 2
    listed = run(["clients", "list"], desk).stdout
    assert "码上巡察" in listed and "有效" in listed and token not in listed
    client = create_app(desk.settings, desk=desk).test_client()
    assert post_report(client, {"Authorization": f"Bearer {token}"}).status_code == 201
    assert run(["clients", "revoke", "码上巡察"], desk).returncode == 0
    assert run(["clients", "revoke", "码上巡察"], desk).returncode == 2
    assert "已停用" in run(["clients", "list"], desk).stdout
    assert post_report(client, {"Authorization": f"Bearer {token}"}).status_code == 401
    assert run(["clients", "add", "码上巡察"], desk).returncode == 0  # a name can be reissued


def test_bad_guard_settings_stop_start_up(desk: Desk) -> None:
    with pytest.raises(SettingsError, match="api_client_rate_limit"):
        create_app(replace(desk.settings, api_client_rate_limit="lots"), desk=desk)
    with pytest.raises(SettingsError, match="pow_max_bits"):
        create_app(replace(desk.settings, pow_min_bits=20, pow_max_bits=10), desk=desk)
