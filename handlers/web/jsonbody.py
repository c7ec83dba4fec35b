"""JSON request bodies within limits, checked before any view parses one.

The standard library's parser recurses once per nesting level, so a body of ten thousand
brackets ends in RecursionError (a 500). Every request that declares JSON is read here first,
at most MAX_JSON_BYTES of it, and parsed once with its depth and size measured: a body too
large is answered 413 (the contract's "too large"), one nested deeper than MAX_JSON_DEPTH or
holding more than MAX_JSON_VALUES values 400, both in Chinese and, on the API, in its error
shape. Views read the body with get_json() as before; a body that is not valid JSON at all is
left to them, so their own messages stay.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from intake.attachments import human_size

MAX_JSON_BYTES = 256 * 1024  # a report or a call log without files; their texts are far less
MAX_JSON_DEPTH = 32  # the contract's bodies are flat objects
MAX_JSON_VALUES = 10_000


class JsonTooLargeError(RequestEntityTooLarge):
    description = f"JSON 请求内容超过 {human_size(MAX_JSON_BYTES)} 的上限，请精简后再提交。"


class JsonTooComplexError(BadRequest):
    description = (f"JSON 请求内容嵌套超过 {MAX_JSON_DEPTH} 层或包含超过 {MAX_JSON_VALUES} 个值，"
                   "无法处理；请按接口说明提交简单的 JSON 对象。")


def install_json_limits(app: Flask) -> None:
    """Check every JSON body of `app` before its view runs."""
    app.before_request(check_json_body)


def check_json_body() -> None:
    """Raise JsonTooLargeError / JsonTooComplexError for a JSON body over the limits."""
    if not request.is_json:
        return
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise JsonTooLargeError()
    # A body without a length (chunked) is cut at the limit as it is read.
    limit = request.max_content_length
    request.max_content_length = MAX_JSON_BYTES if limit is None else min(limit, MAX_JSON_BYTES)
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise JsonTooLargeError() from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonTooComplexError() from None
    except ValueError:
        return  # not JSON at all: the view answers as it always did
    if not within_limits(value):
        raise JsonTooComplexError()


def within_limits(value: Any, max_depth: int = MAX_JSON_DEPTH,
                  max_values: int = MAX_JSON_VALUES) -> bool:
    """Whether a parsed JSON value nests at most `max_depth` deep and holds at most
    `max_values` values (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if depth > max_depth or seen > max_values:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True
