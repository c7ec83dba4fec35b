"""Upload throughput of scanned-letter batches through `intake serve`, and the server's memory.

    .venv/bin/python bench/upload_throughput.py [--pages 200] [--pdf-pages 20] [--photo-kb 600]
                                                [--rounds 3]

Two servers run side by side, each in its own subprocess on 127.0.0.1 (a free port), both
served by cheroot as `make run` serves:

* service: the real thing, `python -m intake.cli serve` in a fresh temporary data folder, with
  `INTAKE_OCR_WORKERS=0` so that OCR does not share the CPU with the upload, and a duty officer
  account created beforehand. A batch goes to `POST /staff/letters/upload`: the multipart body
  parsed as it streams (python-multipart), each file sniffed, encrypted (AES-GCM) into the
  attachment store and fsynced, a PDF decrypted once to count its pages with PDFium, one
  SQLite transaction per file, then the redirect to the batch page.
* bare: a Flask app with one endpoint that copies `request.stream` to a file in 1 MiB chunks
  and answers 303: what any upload costs on this server stack before the service does anything.

A batch is `--pages` pages: one scanner PDF of `--pdf-pages` pages plus single JPEG photos of
about `--photo-kb` KB (noise, so they do not compress; each one distinct). The client is
http.client in this process, sending the body in 256 KiB writes. After one untimed warm-up
batch per server, `--rounds` batches are timed per server, alternating. It prints MiB/s and
pages/s (first byte sent to the answer) and the service's peak RSS (VmHWM, Linux /proc) after
the warm-up and after the timed batches. Only loopback traffic is sent.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import HOST, clean_env, free_port, log_tail, peak_rss, stop  # noqa: E402

MiB = 1024 * 1024
PASSWORD = "bench-officer-password"
CHUNK = 256 * 1024


# -- the batch -------------------------------------------------------------------------------


def photo(seed: int, kb: int) -> bytes:
    """A JPEG of about `kb` KB: random pixels, which JPEG cannot squeeze."""
    import numpy as np
    from PIL import Image

    side = max(64, int((kb * 1024 / 0.9) ** 0.5))  # ~0.9 bytes per pixel at quality 90
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def scanner_pdf(pages: int, kb: int) -> bytes:
    from PIL import Image

    images = [Image.open(io.BytesIO(photo(1000 + i, kb))) for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue()


@dataclass
class Batch:
    files: list[tuple[str, bytes, bytes]]  # name, content, distinguishing suffix
    pages: int

    @property
    def size(self) -> int:
        return sum(len(c) + len(s) for _, c, s in self.files)


def make_batch(pages: int, pdf_pages: int, kb: int) -> Batch:
    files: list[tuple[str, bytes, bytes]] = []
    if pdf_pages:
        files.append(("信件扫描.pdf", scanner_pdf(pdf_pages, kb), b""))
    content = photo(1, kb)
    files += [(f"IMG_{i:04d}.jpg", content, b"") for i in range(pages - pdf_pages)]
    return Batch(files, pages)


def distinct(batch: Batch, run: int) -> Batch:
    """The same batch with every file's bytes made unique to this run (the store dedups)."""
    tag = run.to_bytes(4, "big")
    return Batch([(n, c, tag + i.to_bytes(4, "big")) for i, (n, c, _) in
                  enumerate(batch.files)], batch.pages)


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]
    upload_path: str
    cookie: str = ""
    token: str = ""

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log, lines)

    def peak_rss(self) -> int | None:
        return peak_rss(self.proc.pid)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=600)


def serve_bare(port: int, folder: Path) -> None:
    from flask import Flask, redirect, request

    from handlers.httpserver import http_server
    from intake.settings import Settings

    app = Flask("bare")
    count = iter(range(1, 1 << 30))

    @app.get("/healthz")
    def ready() -> str:
        return "ok"

    @app.post("/upload")
    def upload() -> object:
        n = next(count)
        with (folder / f"body-{n}").open("wb") as out:
            while chunk := request.stream.read(MiB):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return redirect(f"/batches/{n}", 303)

    settings = Settings()
    http_server(app, HOST, port, threads=settings.http_threads,
                max_body=settings.scan_max_batch_bytes).start()


def create_officer(data_dir: Path) -> None:
    from sqlalchemy import text

    from intake.desk import open_desk
    from intake.settings import Settings
    from intake.staff import create_user

    desk = open_desk(Settings(data_dir=data_dir))
    try:
        create_user(desk, "officer", "duty_officer", password=PASSWORD)
        with desk.sessions() as session:
            session.execute(text("UPDATE staff_users SET must_change_password = false"))
            session.commit()
    finally:
        desk.close()


def start_service(base: Path) -> Server:
    data_dir = base / "service"
    create_officer(data_dir)
    port = free_port()
    env = clean_env() | {"INTAKE_DATA_DIR": str(data_dir), "INTAKE_HTTP_PORT": str(port),
                         "INTAKE_SMTP_PORT": str(free_port()), "INTAKE_OCR_WORKERS": "0"}
    log = base / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "serve"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Server("service", port, log, proc, "/staff/letters/upload")


def start_bare(base: Path) -> Server:
    folder = base / "bare"
    folder.mkdir()
    port = free_port()
    log = base / "bare.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", "--port", str(port),
           "--folder", str(folder)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    return Server("bare", port, log, proc, "/upload")


def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n"
                               f"{server.log_tail()}")
        conn = server.connect()
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


@contextmanager
def running(base: Path) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        servers.append(start_service(base))
        servers.append(start_bare(base))
        for server in servers:
            wait_ready(server)
        login(servers[0])
        yield servers
    finally:
        for server in servers:
            stop(server.proc)


# -- the client ------------------------------------------------------------------------------


def request(server: Server, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = server.connect()
    try:
        conn.request(method, path, body=body,
                     headers={**(headers or {}), "Cookie": server.cookie})
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        for value in r.headers.get_all("Set-Cookie") or []:
            server.cookie = value.split(";", 1)[0]
        return r.status, text
    finally:
        conn.close()


def csrf_token(server: Server, path: str) -> str:
    status, page = request(server, "GET", path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if status != 200 or not match:
        raise RuntimeError(f"no CSRF token on {path} ({status})")
    return match.group(1)


def login(server: Server) -> None:
    token = csrf_token(server, "/staff/login")
    status, _ = request(server, "POST", "/staff/login",
                        f"username=officer&password={PASSWORD}&csrf_token={token}".encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 302:
        raise RuntimeError(f"login failed ({status})")
    server.token = csrf_token(server, "/staff/letters/upload")


def upload(server: Server, batch: Batch) -> float:
    """Stream one batch; return the seconds from the first byte to the answer."""
    boundary = "----bench-upload"
    fields = (("csrf_token", server.token), ("source", "postal"),
              ("opened_at", "2026-03-09T08:30"), ("note", "基准测试"))
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                    f"{v}\r\n".encode() for k, v in fields)
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
              f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
              content, suffix) for name, content, suffix in batch.files]
    tail = f"--{boundary}--\r\n".encode()
    length = len(head) + len(tail) + sum(len(p) + len(c) + len(s) + 2 for p, c, s in parts)
    conn = server.connect()
    try:
        conn.putrequest("POST", server.upload_path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(length))
        conn.putheader("Cookie", server.cookie)
        started = time.perf_counter()
        conn.endheaders(head)
        for preamble, content, suffix in parts:
            conn.send(preamble)
            for i in range(0, len(content), CHUNK):
                conn.send(content[i:i + CHUNK])
            conn.send(suffix + b"\r\n")
        conn.send(tail)
        r = conn.getresponse()
        r.read()
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    if r.status != 303:
        raise RuntimeError(f"{server.name}: upload answered {r.status}:\n{server.log_tail()}")
    return seconds


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)


def report(t: Timing, batch: Batch) -> None:
    mib = batch.size / MiB
    rates = [mib / s for s in t.seconds]
    median = statistics.median(t.seconds)
    print(f"  {t.name:8} {mib / median:7.1f} MiB/s  {batch.pages / median:7.1f} pages/s  "
          f"(median of {len(t.seconds)}: {median:.2f} s per batch; "
          f"MiB/s min {min(rates):.1f}, max {max(rates):.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200, help="pages per batch")
    parser.add_argument("--pdf-pages", type=int, default=20,
                        help="of which in one scanner PDF (0: photos only)")
    parser.add_argument("--photo-kb", type=int, default=600, help="size of one page's JPEG")
    parser.add_argument("--rounds", type=int, default=3, help="timed batches per server")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.port, args.folder)
        return 0
    if args.pages < 1 or args.rounds < 1 or not 0 <= args.pdf_pages <= args.pages:
        parser.error("--pages and --rounds must be positive, --pdf-pages at most --pages")

    from intake.settings import Settings

    settings = Settings()
    batch = make_batch(args.pages, args.pdf_pages, args.photo_kb)
    print("Upload throughput: scanned-letter batches through `intake serve` vs a bare "
          "stream-to-file endpoint")
    print(f"  batch: {batch.pages} pages in {len(batch.files)} files "
          f"({args.pdf_pages}-page PDF + photos of {len(batch.files[-1][1]) // 1024} KB), "
          f"{batch.size / MiB:.1f} MiB")
    print(f"  CPU cores {os.cpu_count()}, http_threads {settings.http_threads}, OCR off, "
          f"Python {sys.version.split()[0]}; {args.rounds} timed batches per server")
    limit = settings.scan_max_batch_bytes  # a signed-in officer's batch limit
    if batch.size > limit:
        print(f"  note: above the scan batch limit ({limit / MiB:.0f} MiB) "
              "the service answers 413")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp, \
                running(Path(tmp)) as servers:
            timings = {s.name: Timing(s.name) for s in servers}
            for server in servers:
                upload(server, distinct(batch, 0))  # warm-up
            service = servers[0]
            warm_peak = service.peak_rss()
            for run in range(1, args.rounds + 1):
                for server in servers if run % 2 else servers[::-1]:
                    timings[server.name].seconds.append(upload(server, distinct(batch, run)))
            peak = service.peak_rss()
            for timing in timings.values():
                report(timing, batch)
            ratio = (statistics.median(timings["service"].seconds)
                     / statistics.median(timings["bare"].seconds))
            print(f"  service takes {ratio:.2f}x the bare endpoint's time per batch")
            if warm_peak is not None and peak is not None:
                print(f"  service peak RSS: {warm_peak / MiB:.1f} MiB after the warm-up, "
                      f"{peak / MiB:.1f} MiB after the timed batches "
                      f"(growth {(peak - warm_peak) / MiB:.1f} MiB for "
                      f"{args.rounds} x {batch.size / MiB:.0f} MiB)")
    except KeyboardInterrupt:
        print("\n  interrupted; servers stopped, temporary folders removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
