"""JSON bodies over the depth or size limits: 400 / 413 in Chinese, in the API's error shape,
on every JSON endpoint; never a 500."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from handlers.web.jsonbody import MAX_JSON_BYTES, MAX_JSON_DEPTH, within_limits

ENDPOINTS = ["/api/v1/reports", "/api/v1/reports/1234567890123456/status",
             "/api/v1/reports/1234567890123456/messages", "/api/v1/desk/calls"]
REPORT = {"text": "镇长插手工程让他亲戚中标。", "password": "long-enough-1"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_api_error(response: object, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    return message


@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_json_is_400_in_chinese(client: FlaskClient, path: str) -> None:
    for body in (nested(10_000), json.dumps({**REPORT, "extra": json.loads(nested(40))}),
                 '{"text": ' + "{\"a\": " * 5000 + "1" + "}" * 5000 + "}"):
        r = client.post(path, data=body, content_type="application/json")
        message = assert_api_error(r, 400, "invalid")
        assert "嵌套" in message


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversize_json_is_refused_before_parsing(client: FlaskClient, path: str) -> None:
    big = json.dumps({**REPORT, "text": "反" * MAX_JSON_BYTES})
    message = assert_api_error(client.post(path, data=big, content_type="application/json"),
                               413, "too_large")
    assert "256 KB" in message
    many = json.dumps({**REPORT, "extra": list(range(20_000))})  # small, but 20,000 values
    assert len(many) < MAX_JSON_BYTES
    assert_api_error(client.post(path, data=many, content_type="application/json"),
                     400, "invalid")


def test_json_within_the_limits_still_works(client: FlaskClient) -> None:
    body = {**REPORT, "extra": json.loads(nested(MAX_JSON_DEPTH - 2))}
    r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 201, r.get_json()
    # Not JSON at all: the view's own message, as before.
    r = client.post("/api/v1/reports", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"


def test_json_on_a_page_is_an_html_error_in_chinese(client: FlaskClient) -> None:
    # A path without a view: the body is checked before routing answers.
    r = client.post("/no-such-page", data=nested(10_000), content_type="application/json")
    assert r.status_code == 400 and "嵌套超过" in r.get_data(as_text=True)


def test_within_limits_walks_without_recursion() -> None:
    assert within_limits({"a": [1, {"b": 2}]})
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert not within_limits(deep)
    assert not within_limits(list(range(10)), max_values=5)
