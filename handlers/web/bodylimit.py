"""Request bodies refused beyond their path's limit before a byte of them is read.

`BodyLimit` wraps the WSGI application. Every path allows the public limit
(settings.max_request_bytes); the scan-batch upload allows settings.scan_max_batch_bytes, but
only once the staff session is checked, from the headers. A declared Content-Length over the
limit is answered 413 at once; a body without one (chunked) is counted as it streams and cut
at the limit. The 413 itself is rendered by the Flask app (a page in Chinese, or the API's
error shape) from a flag in the environ, so nothing reads the body on the way.

A response sent while the body is still unread (a 413, a redirect to the login page) asks
the server to close the connection instead of draining the rest into memory: the server
puts a callable under CLOSE_CONNECTION in the environ (handlers.httpserver does).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge

CLOSE_CONNECTION = "intake.close_connection"
TOO_LARGE = "intake.body_too_large"  # the limit a declared body is over, for the app to say
CHUNK = 64 * 1024

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


class BodyTooLargeError(RequestEntityTooLarge):
    """A request body over its path's limit (`limit` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit


class BodyLimit:
    """WSGI middleware: `limit_for(environ, declared)` gives the limit of a request whose
    declared length is `declared` (None: chunked or no body)."""

    def __init__(self, app: WsgiApp, limit_for: Callable[[Environ, int | None], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        declared = _declared_length(environ)
        chunked = bool(environ.get("wsgi.input_terminated")) and declared is None
        body: _CountedInput | None = None
        if declared or chunked:
            limit = self.limit_for(environ, declared)
            if declared is not None and declared > limit:
                environ[TOO_LARGE] = limit  # the app answers 413 without reading
            else:
                body = _CountedInput(environ["wsgi.input"], limit, declared)
                environ["wsgi.input"] = body

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            unread = (declared or chunked) and (body is None or not body.finished)
            if unread:
                close = environ.get(CLOSE_CONNECTION)
                if close is not None:
                    close()
                if not any(name.lower() == "connection" for name, _ in headers):
                    headers = [*headers, ("Connection", "close")]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _declared_length(environ: Environ) -> int | None:
    value = environ.get("CONTENT_LENGTH") or ""
    try:
        return max(0, int(value)) if value.strip() else None
    except ValueError:
        return None


class _CountedInput(io.RawIOBase):
    """The request body, raising BodyTooLargeError once more than `limit` bytes arrived."""

    def __init__(self, inner: Any, limit: int, declared: int | None) -> None:
        self._inner, self._limit, self._declared = inner, limit, declared
        self.received = 0
        self._ended = False

    @property
    def finished(self) -> bool:
        """Whether the whole body was read (so the connection can carry another request)."""
        if self._declared is not None:
            return self.received >= self._declared
        return self._ended

    def readable(self) -> bool:
        return True

    def _count(self, data: bytes, asked: int | None) -> bytes:
        self.received += len(data)
        if self.received > self._limit:
            raise BodyTooLargeError(self._limit)
        if not data and asked != 0:
            self._ended = True
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self._count(self._inner.read(CHUNK), CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        return self._count(self._inner.read(size), size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = CHUNK if size is None or size < 0 else min(size, CHUNK)  # a line is no hiding place
        return self._count(self._inner.readline(limit), limit)
