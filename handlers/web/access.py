"""The access log: one DEBUG line per request with the method, the route as declared and the
status, never the path itself (`/api/v1/reports/<code>/status` would print a query code), the
query string or the client's address."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger(__name__)


def install_access_log(app: Flask) -> None:
    @app.before_request
    def started() -> None:
        g.access_started = time.perf_counter()

    @app.after_request
    def access(response: Response) -> Response:
        if log.isEnabledFor(logging.DEBUG):
            rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
            took = time.perf_counter() - g.get("access_started", time.perf_counter())
            log.debug("%s %s %s %.0f ms", request.method, rule, response.status_code,
                      took * 1000)
        return response
