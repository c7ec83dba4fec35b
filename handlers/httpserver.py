"""The HTTP server of `intake serve`: cheroot, which hands the application each body unread.

Waitress read a whole request body (spooled to disk) before the application saw it, so an
anonymous visitor could fill the disk up to the largest limit of any path. Cheroot passes the
body as it arrives (wsgi.input, chunked bodies decoded as they stream), so the application's
BodyLimit answers 413 from the headers. Its gateway also gives the application a way to
close the connection after a response sent before the body was read: cheroot would otherwise
read the rest of the body to keep the connection alive.
"""

from __future__ import annotations

import logging
from typing import Any

from cheroot import wsgi

from handlers.web.bodylimit import CLOSE_CONNECTION

log = logging.getLogger("cheroot")  # through the service's logging (levels, masking)
CONNECTION_TIMEOUT = 60  # seconds a connection may sit silent (a slow upload pauses too)


class _Gateway(wsgi.Gateway_10):
    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        request = self.req

        def close() -> None:
            request.close_connection = True

        environ[CLOSE_CONNECTION] = close
        return environ


def http_server(app: Any, host: str, port: int, *, threads: int,
                max_body: int) -> wsgi.Server:
    """A cheroot server for `app` on host:port (port 0: any free port, see `bound_port`);
    `max_body` is a last backstop behind the application's own limits."""
    server = wsgi.Server((host, port), app, numthreads=threads, server_name=host,
                         timeout=CONNECTION_TIMEOUT)
    server.gateway = _Gateway
    server.max_request_body_size = max_body
    server.software = "intake"
    server.error_log = _error_log  # type: ignore[method-assign]
    return server


def _error_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """Cheroot's own messages (a client gone, a bad request line) as log records, not stderr."""
    log.log(level, "%s", msg, exc_info=traceback)


def bound_port(server: wsgi.Server) -> int:
    """The port a prepared server listens on."""
    return int(server.bind_addr[1])
