"""Messages per second through the whole e-mail pipeline, against a bare counting SMTP server.

    .venv/bin/python bench/smtp_throughput.py [--messages 600] [--concurrency 8]
                                              [--warmup 40] [--rounds 4]
                                              [--emails /work/shared/data/emails] [--no-profile]

Two SMTP servers run side by side, each in its own subprocess on 127.0.0.1 (a free port):

* service: the real thing, started the way users start it, `python -m intake.cli smtp`, in a
  fresh temporary data folder, with `INTAKE_AUTOREPLY_RATE_LIMIT` raised so that every message
  the loop guards allow (ham without bulk/list/auto-submitted headers) queues its automatic
  reply, and `INTAKE_MAIL_RELAY_HOST/PORT` pointing at a sink, so the outbox really sends the
  replies. Each message runs the whole pipeline before the 250: parsing, spam scoring, the
  encrypted original, the Argon2id hash of query code + password, classification and routing,
  sealing the identity and envelope, composing and sealing the reply, one SQLite transaction,
  the commit; the outbox thread then delivers the reply to the relay.
* bare: a minimal aiosmtpd Controller whose handle_DATA only increments a counter and answers
  "250 OK" (any recipient accepted), with the same data_size_limit, line length limit and
  SMTPUTF8 setting as the service.
* sink (the relay): another counting aiosmtpd server, in a third subprocess, so receiving the
  replies costs neither the load generator nor the server under test.

Messages are the real Chinese e-mails in `--emails` (*.eml, bare LF line ends in the files,
converted to CRLF for the wire); without that folder, generated Chinese mails (GB2312 and
UTF-8, some with a small JPEG attachment). Each send gets its own envelope sender and a
`Received:` trace line on top, as a relay would add, so no two sends are byte-identical (the
service would otherwise link every repeat as a byte-for-byte duplicate). Both servers get the
same sequence of messages. The recipient is the example round's mailbox.

The load generator is a pool of threads in this process, each holding one smtplib connection.
After a warm-up, a fixed number of messages is timed per server, split into rounds that
alternate between the servers so that other load on the machine affects both alike. Every send
must be answered 250; failures are counted and shown. A service round's clock stops at the last
250; the bench then waits until the outbox has sent every queued reply (the drain, reported
separately) before the next round starts, and the service's CPU time is read after the drain,
so it includes sending the replies. It prints throughput, latency percentiles, the servers' CPU
time per message, the ratio service/bare and, measured in this process beforehand on one
thread, what the service's per-message work is made of. The load generator shares the
machine's cores with the server under test, equally for both. Only loopback traffic is sent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import signal
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import (  # noqa: E402
    HOST,
    clean_env,
    cpu_seconds,
    free_port,
    load_average,
    log_tail,
    percentile,
    stop,
)

from intake.protect import hash_secret, password_hasher  # noqa: E402
from intake.settings import Settings, load_settings  # noqa: E402

MAILBOX = "xcz1@intake.example.cn"  # config/round.example.yaml
EMAILS = Path("/work/shared/data/emails")
AUTOREPLY_LIMIT = "100000 per hour"
LINE_LENGTH_LIMIT = 1 << 20  # as handlers.smtp.LenientSMTP
STOP = threading.Event()  # set on the way out: load threads stop sending


# -- messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    name: str
    label: str  # "ham", "spam" or "?"
    data: bytes  # CRLF line ends


def to_crlf(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def load_mails(folder: Path) -> tuple[list[Mail], str]:
    """The real e-mails in `folder`, or generated ones when it has none."""
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    if not files:
        return generated_mails(), f"generated ({folder} not found)"
    labels: dict[str, str] = {}
    manifest = folder / "manifest.jsonl"
    if manifest.exists():
        for line in manifest.read_text("utf-8").splitlines():
            if line.strip():
                doc = json.loads(line)
                labels[doc["file"]] = doc.get("label", "?")
    mails = []
    for path in files:
        label = labels.get(path.name) or next(
            (w for w in ("ham", "spam") if f"_{w}" in path.name), "?")
        mails.append(Mail(path.name, label, to_crlf(path.read_bytes())))
    return mails, str(folder)


def generated_mails() -> list[Mail]:
    """Chinese complaint mails in GB2312 and UTF-8, every third with a small JPEG attachment."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from api_throughput import TEXTS  # realistic complaint texts

    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(2000)
    mails = []
    for i, text in enumerate(TEXTS * 2):
        charset = "gb2312" if i % 2 == 0 else "utf-8"
        try:
            text.encode(charset)
        except UnicodeEncodeError:
            charset = "gb18030"
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = f"群众{i} <reporter{i}@example.cn>"
        msg["To"] = MAILBOX
        msg["Subject"] = f"反映问题：{text[:16]}"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="example.cn")
        msg.set_content(text, charset=charset)
        if i % 3 == 0:
            msg.add_attachment(jpeg, maintype="image", subtype="jpeg", filename=f"现场照片{i}.jpg")
        mails.append(Mail(f"generated-{i}", "ham", to_crlf(msg.as_bytes())))
    return mails


def envelope_sender(k: int) -> str:
    return f"reporter{k}@mail{k % 17}.example.cn"


def wire_message(mails: list[Mail], k: int) -> bytes:
    """The k-th send: the corpus in order, with its own trace line on top."""
    trace = (f"Received: from client{k % 8}.example.cn (localhost [127.0.0.1])\r\n"
             f"\tby relay.example.cn with ESMTP id B{k:08X}; {formatdate(localtime=True)}\r\n")
    return trace.encode("ascii") + mails[k % len(mails)].data


# -- the bare server (also the relay sink) ---------------------------------------------------


def serve_bare(port: int, data_size_limit: int, ident: str) -> None:
    """A counting SMTP server; `NOOP count` answers with the number of messages taken."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class Counting:
        count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            self.count += 1
            return "250 OK"

        async def handle_NOOP(self, server: object, session: object, envelope: object,
                              arg: str) -> str:
            return f"250 {self.count}" if (arg or "").strip().lower() == "count" else "250 OK"

    class LongLines(SMTP):
        line_length_limit = LINE_LENGTH_LIMIT

    class Ctl(Controller):
        def factory(self) -> SMTP:
            return LongLines(self.handler, **self.SMTP_kwargs)

    handler = Counting()
    controller = Ctl(handler, hostname=HOST, port=port, server_hostname="bare.example.cn",
                     ident=ident, data_size_limit=data_size_limit, enable_SMTPUTF8=True,
                     timeout=120)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    print(f"{ident} on smtp://{HOST}:{port}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
        print(f"{ident} received {handler.count} messages", flush=True)


# -- server processes ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]
    db_file: Path | None = None  # the service's database

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log, lines)

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def counted(self) -> int:
        """Messages a counting server (bare, sink) has taken so far."""
        with smtplib.SMTP(HOST, self.port, timeout=10) as smtp:
            code, text = smtp.docmd("NOOP", "count")
        if code != 250:
            raise RuntimeError(f"{self.name}: NOOP count answered {code} {text!r}")
        return int(text)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        assert self.db_file is not None
        conn = sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(sql))
        finally:
            conn.close()

    def queued_replies(self) -> int:
        return int(self.query("SELECT count(*) FROM outbox WHERE status = 'queued'")[0][0])


def start_counting(base: Path, name: str, size_limit: int) -> Server:
    port = free_port()
    log = base / f"{name}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", "--port", str(port),
           "--size-limit", str(size_limit), "--ident", name]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    return Server(name, port, log, proc)


def start_service(base: Path, relay_port: int) -> Server:
    data_dir = base / "service"
    port = free_port()
    env = clean_env() | {
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_SMTP_PORT": str(port),
        "INTAKE_AUTOREPLY_RATE_LIMIT": AUTOREPLY_LIMIT,
        "INTAKE_RATELIMIT_STORAGE_URI": "memory://",
        "INTAKE_MAIL_RELAY_HOST": HOST,
        "INTAKE_MAIL_RELAY_PORT": str(relay_port),
    }
    log = base / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "intake.cli", "smtp"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Server("service", port, log, proc, data_dir / "intake.db")


def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n"
                               f"{server.log_tail()}")
        try:
            with smtplib.SMTP(HOST, server.port, timeout=2) as smtp:
                if smtp.noop()[0] == 250:
                    return
        except (OSError, smtplib.SMTPException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


@contextmanager
def running(base: Path, size_limit: int) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        servers["sink"] = start_counting(base, "sink", size_limit)
        servers["service"] = start_service(base, servers["sink"].port)
        servers["bare"] = start_counting(base, "bare", size_limit)
        for server in servers.values():
            wait_ready(server)
        yield servers
    finally:
        STOP.set()
        for name in ("service", "bare", "sink"):  # the relay last: the outbox may still send
            if name in servers:
                stop(servers[name].proc)


# -- load generator --------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    messages: int
    concurrency: int
    seconds: float = 0.0  # first send to last 250
    drain_seconds: float = 0.0  # last 250 to the outbox empty (service only)
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    server_cpu: float | None = None

    def add(self, other: RunResult) -> None:
        """Fold another timed batch against the same server into this one."""
        self.messages += other.messages
        self.seconds += other.seconds
        self.drain_seconds += other.drain_seconds
        self.latencies += other.latencies
        self.ok += other.ok
        self.failures += other.failures
        if other.server_cpu is not None:
            self.server_cpu = (self.server_cpu or 0.0) + other.server_cpu

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def connect(port: int) -> smtplib.SMTP:
    smtp = smtplib.SMTP(HOST, port, local_hostname="client.example.cn", timeout=120)
    smtp.ehlo()
    return smtp


def load(server: Server, mails: list[Mail], first: int, total: int, concurrency: int,
         drain_timeout: float) -> RunResult:
    """Send messages first..first+total over `concurrency` connections; time the batch."""
    result = RunResult(server.name, total, concurrency)
    counter = itertools.count()
    lock = threading.Lock()

    def worker() -> None:
        smtp: smtplib.SMTP | None = None
        try:
            while not STOP.is_set():
                with lock:
                    i = next(counter)
                if i >= total:
                    return
                k = first + i
                raw = wire_message(mails, k)
                problem = ""
                start = time.perf_counter()
                try:
                    if smtp is None:
                        smtp = connect(server.port)
                    smtp.sendmail(envelope_sender(k), [MAILBOX], raw)
                except smtplib.SMTPRecipientsRefused as exc:
                    problem = f"recipient refused {list(exc.recipients.values())}"
                except smtplib.SMTPResponseException as exc:
                    problem = f"{exc.smtp_code} {exc.smtp_error[:120]!r}"
                except (OSError, smtplib.SMTPException) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - start
                if problem:
                    problem = f"{mails[k % len(mails)].name}: {problem}"
                    if smtp is not None:
                        try:
                            smtp.rset()
                        except (OSError, smtplib.SMTPException):
                            smtp.close()
                            smtp = None
                with lock:
                    result.latencies.append(elapsed)
                    if problem:
                        result.failures.append(problem)
                    else:
                        result.ok += 1
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    smtp.close()

    cpu_before = server.cpu_seconds()
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, name=f"load-{n}", daemon=True)
               for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    if server.db_file is not None:  # the service: let the outbox send what this batch queued
        drained = time.perf_counter()
        deadline = time.monotonic() + drain_timeout
        while server.queued_replies() and time.monotonic() < deadline:
            time.sleep(0.02)
        result.drain_seconds = time.perf_counter() - drained
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu = cpu_after - cpu_before
    return result


# -- what the service's per-message work is made of -------------------------------------------


def profile_components(mails: list[Mail], base: Path) -> dict[str, float]:
    """Milliseconds per message on one thread in this process: the parts, then take_in whole."""
    from intake.desk import open_desk
    from intake.mail import Envelope, take_in
    from intake.mailparse import parse_mail
    from intake.mailspam import score_spam

    settings = load_settings(env={"INTAKE_DATA_DIR": str(base / "profile")})
    desk = open_desk(settings)
    try:
        raws = [wire_message(mails, k) for k in range(len(mails))]
        start = time.perf_counter()
        parsed = [parse_mail(raw) for raw in raws]
        for mail in parsed:
            score_spam(mail, threshold=settings.spam_threshold)
        parse_ms = (time.perf_counter() - start) / len(raws) * 1000

        start = time.perf_counter()
        for mail in parsed:
            desk.classifier.classify(mail.text, channel="email")
        classify_ms = (time.perf_counter() - start) / len(parsed) * 1000

        n = min(len(raws), 30)
        start = time.perf_counter()
        for i in range(n):
            hash_secret(f"{i:016d}", secrets.token_hex(5))
        argon2_ms = (time.perf_counter() - start) / n * 1000

        for k in range(3):  # warm caches, the first transaction
            take_in(desk, raws[k], Envelope(HOST, "client", envelope_sender(k), (MAILBOX,)))
        start = time.perf_counter()
        for k, raw in enumerate(raws):
            take_in(desk, raw, Envelope(HOST, "client", envelope_sender(k), (MAILBOX,)))
        take_in_ms = (time.perf_counter() - start) / len(raws) * 1000
    finally:
        desk.close()
    return {"parse + spam score": parse_ms, "classification": classify_ms,
            "Argon2id code+password": argon2_ms, "take_in (whole)": take_in_ms}


# -- report ----------------------------------------------------------------------------------


def report(r: RunResult) -> None:
    cpu = (f"{r.server_cpu / r.messages * 1000:.1f} ms/message ({r.server_cpu:.1f} s)"
           if r.server_cpu is not None else "n/a")
    print(f"  {r.name}")
    print(f"    messages     {r.messages} (250: {r.ok}, failed: {len(r.failures)})")
    print(f"    concurrency  {r.concurrency}")
    print(f"    seconds      {r.seconds:.2f}")
    print(f"    msgs/s       {r.per_second:.1f}")
    if r.drain_seconds:
        with_drain = r.messages / (r.seconds + r.drain_seconds)
        print(f"    reply drain  {r.drain_seconds:.2f} s after the last 250s "
              f"({with_drain:.1f} msgs/s counting it)")
    print(f"    latency ms   p50 {percentile(r.latencies, 0.50) * 1000:.1f}   "
          f"p95 {percentile(r.latencies, 0.95) * 1000:.1f}   "
          f"p99 {percentile(r.latencies, 0.99) * 1000:.1f}   "
          f"max {max(r.latencies, default=0) * 1000:.1f}")
    print(f"    server CPU   {cpu}")
    for text, n in Counter(r.failures).most_common(5):
        print(f"    failure x{n}: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=600, help="timed messages per server")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel SMTP connections")
    parser.add_argument("--warmup", type=int, default=40, help="untimed messages per server")
    parser.add_argument("--rounds", type=int, default=4,
                        help="split the timed messages into this many alternating rounds")
    parser.add_argument("--emails", type=Path, default=EMAILS,
                        help="folder of *.eml files (default %(default)s; generated if absent)")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="seconds to wait for the outbox after a service round")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the one-thread breakdown of the service's per-message work")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size-limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ident", default="bare", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.port, args.size_limit, args.ident)
        return 0
    if min(args.messages, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--messages, --concurrency and --rounds must be positive")
    args.rounds = min(args.rounds, args.messages)

    settings = Settings()
    mails, source = load_mails(args.emails)
    labels = Counter(mail.label for mail in mails)
    sizes = [len(mail.data) for mail in mails]
    print("SMTP throughput: `intake smtp` (whole e-mail pipeline) vs a bare counting aiosmtpd")
    print(f"  messages: {len(mails)} from {source} "
          f"({', '.join(f'{n} {label}' for label, n in sorted(labels.items()))}; "
          f"{min(sizes)}–{max(sizes)} bytes, median {statistics.median(sizes):.0f})")
    print(f"  CPU cores {os.cpu_count()}, service smtp_workers {settings.smtp_workers}, "
          f"concurrency {args.concurrency}, warm-up {args.warmup}, "
          f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    ph = password_hasher()
    print(f"  Argon2id t={ph.time_cost} m={ph.memory_cost} KiB p={ph.parallelism}")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill` cleans up like Ctrl-C does
    failed = False
    try:
        with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
            base = Path(tmp)
            parts: dict[str, float] = {}
            if not args.no_profile:
                parts = profile_components(mails, base)
                print("  one thread, in this process, per message (ms): " + ", ".join(
                    f"{name} {ms:.1f}" for name, ms in parts.items()))
            print(f"  timed in {args.rounds} rounds per server, alternating service and bare")
            print(f"  load average before: {load_average()}")
            with running(base, settings.smtp_max_message_bytes) as servers:
                failed = run(args, mails, servers, parts)
    except KeyboardInterrupt:
        print("\n  interrupted; servers stopped, temporary folders removed", file=sys.stderr)
        return 130
    return 1 if failed else 0


def run(args: argparse.Namespace, mails: list[Mail], servers: dict[str, Server],
        parts: dict[str, float]) -> bool:
    order = [servers["service"], servers["bare"]]
    sink = servers["sink"]
    for server in order:
        if args.warmup:
            warm = load(server, mails, 0, args.warmup, args.concurrency, args.drain_timeout)
            if warm.failures:
                print(f"  {server.name} warm-up failures: {Counter(warm.failures)}")
    results = {s.name: RunResult(s.name, 0, args.concurrency) for s in order}
    sent = args.warmup
    for i in range(args.rounds):
        share = args.messages // args.rounds + (i < args.messages % args.rounds)
        for server in order if i % 2 == 0 else order[::-1]:
            results[server.name].add(
                load(server, mails, sent, share, args.concurrency, args.drain_timeout))
        sent += share
    print(f"  load average after: {load_average()}")

    service, bare = results["service"], results["bare"]
    svc = servers["service"]
    failed = bool(service.failures or bare.failures)
    expected = args.warmup + args.messages
    stored = int(svc.query("SELECT count(*) FROM inbound_mails")[0][0])
    outcomes = dict(svc.query("SELECT autoreply, count(*) FROM inbound_mails GROUP BY 1"))
    outbox = dict(svc.query("SELECT status, count(*) FROM outbox GROUP BY 1"))
    spam = int(svc.query("SELECT count(*) FROM submissions WHERE spam")[0][0])
    bare_count, sink_count = servers["bare"].counted(), sink.counted()
    print()
    report(service)
    print(f"    stored       {stored} messages (expected {expected}), {spam} marked spam")
    print(f"    auto-reply   {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}")
    print(f"    outbox       {', '.join(f'{k} {v}' for k, v in sorted(outbox.items()))}; "
          f"the relay sink received {sink_count} replies")
    report(bare)
    print(f"    counted      {bare_count} messages (expected {expected})")
    if stored != expected or bare_count != expected:
        failed = True
    if outbox.get("queued") or outbox.get("failed") or sink_count != outbox.get("sent", 0):
        failed = True

    print()
    p50_ratio = statistics.median(service.latencies) / statistics.median(bare.latencies)
    print(f"  ratio service/bare  msgs/s {service.per_second / bare.per_second:.3f}   "
          f"p50 latency {p50_ratio:.1f}x")
    if service.server_cpu is not None and bare.server_cpu is not None:
        svc_ms = service.server_cpu / service.messages * 1000
        bare_ms = bare.server_cpu / bare.messages * 1000
        print(f"  server CPU per message  service {svc_ms:.1f} ms, bare {bare_ms:.2f} ms "
              f"({svc_ms / bare_ms:.0f}x); cores kept busy by the service: "
              f"{service.server_cpu / (service.seconds + service.drain_seconds):.2f}")
        if parts:
            whole = parts["take_in (whole)"]
            rest = whole - sum(v for k, v in parts.items() if k != "take_in (whole)")
            shares = [(k, v) for k, v in parts.items() if k != "take_in (whole)"]
            shares.append(("rest: sealing, files, SQL, reply", rest))
            print(f"  take_in on one thread {whole:.1f} ms/message: " + ", ".join(
                f"{k} {v:.1f} ms ({v / whole:.0%})" for k, v in shares))
            top = max(shares, key=lambda kv: kv[1])
            print(f"  dominant cost: {top[0]} ({top[1]:.1f} of {whole:.1f} ms); "
                  f"the server process spends {svc_ms:.1f} ms CPU per message in all")
    if failed:
        print("  SOME MESSAGES FAILED OR WENT MISSING (see above)")
        print("  service log tail:\n" + svc.log_tail(10))
    return failed


if __name__ == "__main__":
    sys.exit(main())
