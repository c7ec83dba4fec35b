"""The public report form sent twice (a reload of the receipt, the back button, a double
press) stores one item and hands out one query code."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from intake.desk import Desk
from intake.store import models as m
from tests.support import csrf_token

TEXT = "东岭村党支部书记刘德福把低保名额给了自己的亲戚。"


def form_fields(client: FlaskClient) -> dict[str, str]:
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page)
    assert key, "the form carries no key"
    return {"csrf_token": csrf_token(client, "/report"), "form_key": key.group(1),
            "text": TEXT, "password": "dongling-2026"}


def items(desk: Desk) -> int:
    with desk.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.Submission)) or 0


def test_a_form_sent_twice_is_one_item_and_one_code(client: FlaskClient, desk: Desk) -> None:
    fields = form_fields(client)
    first = client.post("/report", data=fields)
    assert first.status_code == 200 and "已收到您反映的问题" in first.get_data(as_text=True)
    again = client.post("/report", data=fields)
    page = again.get_data(as_text=True)
    assert again.status_code == 409 and "这份反映已经提交过了" in page
    assert 'id="query-code"' not in page  # no second code to write down
    assert items(desk) == 1
    with desk.sessions() as s:  # the key is kept as a digest, linked to no item
        (stored,) = s.scalars(select(m.PublicFormKey.key_hash))
    assert stored != fields["form_key"] and len(stored) == 64


def test_each_form_page_is_its_own_report(client: FlaskClient, desk: Desk) -> None:
    for _ in range(2):
        assert client.post("/report", data=form_fields(client)).status_code == 200
    assert items(desk) == 2


def test_a_refused_form_keeps_its_key_for_the_corrected_send(
    client: FlaskClient, desk: Desk
) -> None:
    fields = form_fields(client)
    refused = client.post("/report", data={**fields, "password": "1"})
    assert refused.status_code == 400
    assert f'name="form_key" value="{fields["form_key"]}"' in refused.get_data(as_text=True)
    assert client.post("/report", data=fields).status_code == 200
    assert items(desk) == 1


def test_the_home_page_says_when_intake_has_closed(app: Flask, desk: Desk) -> None:
    during = desk.round.opens + timedelta(days=1)
    app.extensions["clock"] = lambda: during
    assert "正在对" in app.test_client().get("/").get_data(as_text=True)
    app.extensions["clock"] = lambda: desk.round.closes + timedelta(minutes=1)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "正在对" not in page and "截止" in page and "仍会保存" in page
