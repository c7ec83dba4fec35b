"""Plain factories and helpers for tests (fixtures live in conftest.py)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from intake.desk import Desk
from intake.protect import Identity
from intake.staff import create_user
from intake.submission import Submission

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STAFF_PASSWORD = "correct-horse-battery"


def make_submission(**overrides: Any) -> Submission:
    """A plain web report; override any field."""
    values: dict[str, Any] = {
        "channel": "web",
        "received_at": datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
        "text": "东岭村党支部书记刘德福把低保名额给了自己的亲戚，村里的账目三年没有公开。",
        "password": "secret-pass",
    }
    values.update(overrides)
    return Submission(**values)


NAMED_IDENTITY = Identity(
    name="欧阳明远", phone="13912345678", id_number="110101199003071234",
    address="青山镇东岭村三组十八号",
)


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def staff_client(app: Flask, desk: Desk, username: str, role: str,
                 teams: Sequence[str] = ()) -> FlaskClient:
    """A client logged in as a new staff member (of `teams`; by default the one team there
    is) with a changed (not one-time) password."""
    create_user(desk, username, role, password=STAFF_PASSWORD, teams=teams)
    with desk.sessions() as session:
        session.execute(text("UPDATE staff_users SET must_change_password = false "
                             "WHERE username = :u"), {"u": username})
        session.commit()
    client = app.test_client()
    token = csrf_token(client, "/staff/login")
    response = client.post("/staff/login", data={"username": username,
                                                 "password": STAFF_PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def stop_service(proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    """SIGTERM a service started by a test and wait for it (a loaded CI machine can take a while
    to join the server's threads); killed, and the test failed, only if it never stops."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the service did not stop within {timeout} s of SIGTERM") from None
