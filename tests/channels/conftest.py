"""Fixtures for the browser tests: the real app behind a real WSGI server, and a real Chromium.

Playwright is imported only inside the fixtures, so this file loads (and the test module can
skip with a reason) on a machine without it. The browser is the system Chromium: Playwright
never downloads one here, and the flags keep Chromium from reaching for the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.channels.mailserver import mail_settings, relay, running  # noqa: F401  (fixtures)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """The app served by cheroot (as `intake serve` serves it) on 127.0.0.1, a free port."""

    def __init__(self, app: Flask) -> None:
        from handlers.httpserver import bound_port, http_server

        self.server: Any = http_server(app, "127.0.0.1", 0, threads=4, max_body=1 << 30)
        self.server.prepare()
        self.url = f"http://127.0.0.1:{bound_port(self.server)}"
        self._thread = threading.Thread(target=self.server.serve, name="live-server",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.stop()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the test server did not stop"


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session; each test opens its own context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """Open browser contexts on the live server (own cookies, own viewport; relative URLs
    resolve against the server). All are closed after the test, before the server stops."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options = {"base_url": live_server.url, "locale": "zh-CN",
                   "timezone_id": "Asia/Shanghai", **options}
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
