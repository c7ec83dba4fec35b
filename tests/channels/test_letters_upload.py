"""A 200-page batch uploaded to `intake serve` over a real socket: every page recorded, and the
server's memory stays flat while a body of more than 100 MB streams through it. Then the pages
in a real Chromium: the upload form's script, and grouping letters by keys alone.

The server is the real process (`python -m intake.cli serve`, cheroot), with no OCR threads
(`INTAKE_OCR_WORKERS=0`), so that what is measured is the upload alone. The client is
http.client, sending the multipart body chunk by chunk as a browser would.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from tests.support import stop_service

MiB = 1024 * 1024
PAGES = 200
PDF_PAGES = 20  # one scanner PDF; the other pages are single photos
BODY_MIN = 100 * MiB
# Stated bound: the server's peak RSS (VmHWM) grows by less than this during the upload.
# Streaming keeps it to a few chunks (256 KiB reads, 64 KiB encryption blocks) plus what
# SQLite, PDFium and the interpreter need; a server that buffered the body would need the
# body's size, more than 100 MiB.
RSS_GROWTH_BOUND = 64 * MiB
PASSWORD = "duty-desk-password-1"  # the policy refuses one containing the username


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss(pid: int) -> int:
    """VmHWM of a process: the highest resident set size it has had, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1)) * 1024


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data: Path

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's peak memory")
    data = tmp_path / "instance"
    _create_officer(data)
    port = free_port()
    env = {**os.environ, "INTAKE_DATA_DIR": str(data), "INTAKE_HTTP_PORT": str(port),
           "INTAKE_SMTP_PORT": str(free_port()), "INTAKE_OCR_WORKERS": "0"}
    env.pop("INTAKE_DATABASE_URL", None)
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "serve"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, port, data)
    try:
        for _ in range(200):
            conn = server.connect()
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
            finally:
                conn.close()
        else:
            raise AssertionError("service did not become ready: "
                                 + (tmp_path / "serve.log").read_text(errors="replace"))
        yield server
    finally:
        stop_service(proc)


def _create_officer(data: Path) -> None:
    from intake.desk import open_desk
    from intake.settings import Settings
    from intake.staff import create_user

    desk = open_desk(Settings(data_dir=data))
    try:
        create_user(desk, "officer", "duty_officer", password=PASSWORD)
        with desk.sessions() as session:
            session.execute(text("UPDATE staff_users SET must_change_password = false"))
            session.commit()
    finally:
        desk.close()


class Browser:
    """Cookies and CSRF tokens, over one keep-alive connection."""

    def __init__(self, server: Server) -> None:
        self.conn = server.connect()
        self.cookies: dict[str, str] = {}  # the Flask session (CSRF) and the staff session

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        headers = {**(headers or {}), **({"Cookie": self.cookie} if self.cookies else {})}
        self.conn.request(method, path, body=body, headers=headers)
        return self._response()

    def _response(self) -> tuple[int, dict[str, str], str]:
        r = self.conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        for value in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.split(";", 1)[0].partition("=")
            if rest:
                self.cookies[name] = rest
            else:
                self.cookies.pop(name, None)
        return r.status, dict(r.headers), body

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        assert status == 200, page
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match.group(1)

    def login(self) -> None:
        token = self.token("/staff/login")
        form = f"username=officer&password={PASSWORD}&csrf_token={token}".encode()
        status, _, _ = self.request("POST", "/staff/login", form,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302

    def upload(self, files: list[tuple[str, bytes, bytes]]) -> tuple[int, dict[str, str], float]:
        """Stream a batch: (name, content, suffix) per file, the suffix making it distinct.

        Returns the status, the headers and the seconds from the first byte to the answer.
        """
        token = self.token("/staff/letters/upload")
        boundary = "----intake-upload-test"
        fields = (("csrf_token", token), ("source", "postal"), ("opened_at", "2026-03-09T08:30"),
                  ("note", "今日来信"))
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields)
        parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                  f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
                  content, suffix) for name, content, suffix in files]
        tail = f"--{boundary}--\r\n".encode()
        length = len(head) + len(tail) + sum(len(p) + len(c) + len(s) + 2 for p, c, s in parts)
        self.conn.putrequest("POST", "/staff/letters/upload")
        for name, value in (("Content-Type", f"multipart/form-data; boundary={boundary}"),
                            ("Content-Length", str(length)), ("Cookie", self.cookie)):
            self.conn.putheader(name, value)
        started = time.perf_counter()
        self.conn.endheaders(head)
        for preamble, content, suffix in parts:
            self.conn.send(preamble)
            for i in range(0, len(content), 256 * 1024):
                self.conn.send(content[i:i + 256 * 1024])
            self.conn.send(suffix + b"\r\n")
        self.conn.send(tail)
        status, headers, _ = self._response()
        return status, headers, time.perf_counter() - started


def photo(seed: int) -> bytes:
    """A phone photo of a page: a JPEG of about 800 KB (noise does not compress)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (820, 820, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def scanner_pdf(pages: int) -> bytes:
    out = io.BytesIO()
    images = [Image.open(io.BytesIO(photo(100 + i))) for i in range(pages)]
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue()


def count_rows(data: Path, batch_id: int) -> tuple[int, int, int, bool]:
    """(files, files with an error, pages, complete) of a batch, read-only from the database."""
    with sqlite3.connect(f"file:{data / 'intake.db'}?mode=ro", uri=True) as db:
        files, errors = db.execute(
            "SELECT count(*), sum(error != '') FROM scan_files WHERE batch_id = ?",
            (batch_id,)).fetchone()
        pages = db.execute("SELECT count(*) FROM scan_pages WHERE batch_id = ?",
                           (batch_id,)).fetchone()[0]
        complete = db.execute("SELECT complete FROM scan_batches WHERE id = ?",
                              (batch_id,)).fetchone()[0]
    return files, errors or 0, pages, bool(complete)


@pytest.fixture
def browser(server: Server) -> Iterator[Browser]:
    browser = Browser(server)
    yield browser
    browser.conn.close()


def test_a_200_page_batch_streams_through_in_bounded_memory(server: Server,
                                                           browser: Browser) -> None:
    browser.login()
    # Warm up: the first upload loads PDFium, PIL and the code paths; not part of the measure.
    status, _, _ = browser.upload([("warm.jpg", photo(0), b""),
                                   ("warm.pdf", scanner_pdf(2), b"")])
    assert status == 303

    page = photo(1)
    pdf = scanner_pdf(PDF_PAGES)
    files = [("信件扫描.pdf", pdf, b"")]
    files += [(f"IMG_{i:04d}.jpg", page, i.to_bytes(4, "big")) for i in range(PAGES - PDF_PAGES)]
    body = sum(len(c) + len(s) for _, c, s in files)
    assert body >= BODY_MIN, body

    before = peak_rss(server.proc.pid)
    status, headers, seconds = browser.upload(files)
    growth = peak_rss(server.proc.pid) - before

    assert status == 303, headers
    batch_id = int(headers["Location"].rsplit("/", 1)[1])
    assert count_rows(server.data, batch_id) == (len(files), 0, PAGES, True)
    print(f"\n{PAGES} pages, {body / MiB:.0f} MiB in {seconds:.1f} s: "
          f"{body / MiB / seconds:.0f} MiB/s, {PAGES / seconds:.0f} pages/s; "
          f"server peak RSS {before / MiB:.0f} MiB before, grew {growth / MiB:.1f} MiB "
          f"(bound {RSS_GROWTH_BOUND // MiB} MiB)")
    assert growth < RSS_GROWTH_BOUND, f"peak RSS grew by {growth / MiB:.1f} MiB"

    # The batch page lists every page, unread and waiting for OCR.
    status, _, html = browser.request("GET", f"/staff/letters/batches/{batch_id}")
    assert status == 200 and html.count('class="page pending"') == PAGES


# --- the pages in a real browser ------------------------------------------------------------


def _fixed_engine(text: str) -> Any:
    from intake.ocr import PageText

    class Fixed:
        def read_image(self, image: Image.Image) -> PageText:
            return PageText(text, 0.95, 0.01, 0, 0.0)

    return Fixed()


@pytest.mark.browser
def test_the_pages_work_from_the_keyboard_in_a_browser(
        new_context: Callable[..., Any], desk: Any, tmp_path: Path) -> None:
    """The upload form's script (progress, token in a header), then grouping by keys alone."""
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    from playwright.sync_api import expect

    from intake.ocrworker import run_pending
    from intake.staff import create_user
    from tests.channels.conftest import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    create_user(desk, "officer", "duty_officer", password=PASSWORD)
    with desk.sessions() as session:
        session.execute(text("UPDATE staff_users SET must_change_password = false"))
        session.commit()
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    page.goto("/staff/letters/upload")
    page.get_by_label("用户名").fill("officer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/staff/letters/upload$"))

    files = []
    for name, data in (("IMG_1.jpg", photo(1)), ("IMG_2.jpg", photo(2)),
                       ("scan.pdf", scanner_pdf(2))):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    page.get_by_label("开启的意见箱或邮政信箱").select_option(
        label="邮政信箱：青山镇邮政专用信箱 01 号")
    page.get_by_label("扫描件或照片").set_input_files(files)
    with page.expect_response(lambda r: r.url.endswith("/upload")
                              and r.request.method == "POST") as answer:
        page.get_by_role("button", name="上传").click()
    assert answer.value.headers["content-type"].startswith("application/json")
    assert "x-csrftoken" in answer.value.request.headers
    expect(page).to_have_url(re.compile(r"/staff/letters/batches/\d+$"))
    expect(page.locator(".notice")).to_contain_text("已收到 3 个文件，共 4 页")

    cards = page.locator("li.page")
    expect(cards).to_have_count(4)
    letters_ = page.locator("section.letter")
    expect(letters_).to_have_count(3)
    cards.nth(3).focus()  # the scan's second page
    page.keyboard.press("s")  # split: it becomes a letter of its own
    expect(letters_).to_have_count(4)
    expect(page.locator("li.page:focus")).to_contain_text("第 2 页")
    page.keyboard.press("m")  # and back: merge with the letter before
    expect(letters_).to_have_count(3)
    # Each key waits for the page its action reloaded to put the focus back.
    expect(page.locator("li.page:focus")).to_contain_text("附件3.pdf · 第 2 页")
    page.keyboard.press("k")  # up to the scan's first page
    expect(page.locator("li.page:focus")).to_contain_text("附件3.pdf · 第 1 页")
    page.keyboard.press("u")  # move it up: it joins the second photo's letter
    expect(letters_.nth(1).locator("li.page")).to_have_count(2)
    expect(page.locator("li.page:focus")).to_contain_text("附件3.pdf · 第 1 页")
    expect(page.locator("li.page:focus")).to_contain_text("附件3.pdf · 第 1 页")
    page.keyboard.press("d")  # and back down
    expect(letters_.nth(2).locator("li.page")).to_have_count(2)

    # The page polls OCR progress; once read it offers (or does) a reload.
    run_pending(desk, engine=_fixed_engine("尊敬的巡察组：\n反映情况。"))
    expect(page.locator("[data-count=done]")).to_have_text("4", timeout=15_000)
    page.reload()
    page.locator("li.page").first.focus()
    page.keyboard.press("Enter")  # review the letter
    expect(page).to_have_url(re.compile(r"/staff/letters/letters/\d+$"))
    expect(page.locator("#text")).to_have_value(re.compile("反映情况"))
    page.get_by_role("button", name=re.compile("保存并提交")).click()
    expect(page.locator(".notice")).to_contain_text("已提交，进入研判队列")
    assert problems == []
