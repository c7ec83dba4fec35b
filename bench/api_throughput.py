"""Reports per second through the public API, against a bare endpoint doing only the must-do work.

    .venv/bin/python bench/api_throughput.py [--requests 600] [--concurrency 8]
                                             [--warmup 40] [--rounds 4]

Two servers run side by side, each in its own subprocess, served the way `make run` serves:
cheroot on 127.0.0.1 (a free port) with `Settings().http_threads` threads, in a fresh
temporary data folder.

* service: the real thing, started through `intake serve` (`intake.cli.main`), with
  `INTAKE_POW_THRESHOLD` raised so that no proof of work is asked. `POST /api/v1/reports`
  runs the whole pipeline: parsing and validation, the Argon2id hash of query code + password,
  classification and routing, one SQLite transaction, the commit.
* bare: a Flask app with one endpoint that does only the unavoidable work: parse the JSON,
  compute one hash with `intake.protect.password_hasher()` (the same KDF settings), insert one
  row into SQLite (WAL, synchronous=NORMAL, as the service's engine) and answer 201 JSON.

The load generator is a pool of threads in this process, each holding one keep-alive
`http.client` connection, sending JSON reports with realistic Chinese complaint texts. After a
warm-up, a fixed number of requests is timed per server, split into rounds that alternate
between the two servers so that other load on the machine affects both alike. Every response
must be 201; failures are counted and shown. It prints throughput, latency percentiles, the
servers' CPU time per request, and the ratio service/bare. The load generator shares the
machine's cores with the server under test, equally for both. Only loopback traffic is sent.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

from intake.protect import password_hasher  # noqa: E402
from intake.settings import Settings  # noqa: E402

SERVICE_PATH = "/api/v1/reports"
BARE_PATH = "/reports"
POW_THRESHOLD = "1000000000"  # one address sends everything: never ask it for work

# Realistic reports (names, posts and places from config/round.example.yaml), 200–400 chars.
TEXTS = (
    "我是东岭村村民，反映东岭村党支部书记、村委会主任刘德福在2025年低保评定中优亲厚友的问题。"
    "他把自己的弟媳和堂兄两家都评上了低保，这两家有楼房、有小车，儿子在县城开店，条件比一般"
    "村民好得多；而村里的独居老人张某某患病多年、无劳动能力，多次申请都没有批。村务公开栏"
    "只贴了名单，没有公示评议过程，村民代表会议也没有开。村民私下议论很多，但都怕得罪他，"
    "不敢公开提。恳请巡察组核实低保户名单，看看有没有违规享受的情况，还困难群众一个公道。"
    "另外，村里2023年修建的文化广场，工程由刘德福的外甥承包，验收时地砖已经开裂，村民质疑工程款结算有问题，"
    "账目至今没有向村民公开，也请一并核查。",

    "反映镇财政所所长郑国平利用职务便利收受好处的问题。据我了解，去年镇里几个道路硬化和"
    "水渠修缮工程的款项拨付，施工方要想按时拿到钱，都要先给郑国平送购物卡或者请他吃饭，"
    "不送的就一拖再拖，说是手续不全。有一个包工头跟我说过，他为了结一笔十几万元的尾款，"
    "逢年过节都要去郑家“走动”。另外郑国平的妻弟在镇上开了一家建材店，镇里不少工程的材料"
    "都指定从那里采购，价格比市场价高。希望巡察组调查工程款拨付和材料采购的情况。",

    "副镇长周伟长期公车私用，周末经常开着镇政府的公务车接送孩子上补习班，还开车回老家。"
    "今年五月他儿子结婚，在县城酒店摆了四十多桌，镇里各站所、各村的干部基本都去了，每人"
    "随礼少则五百多则两千，有的村干部还是用村集体的钱报销的。婚礼当天有好几辆车挂着公务"
    "车牌在酒店门口停着。这种大操大办、借机敛财的行为影响很坏，群众意见很大，请巡察组认真"
    "查一查，看看违反中央八项规定精神的问题到底有没有人管。"
    "还有，镇政府食堂经常在晚上以接待名义安排宴请，菜单上写的是工作餐，实际上有高档烟酒，费用拆分成"
    "多张发票在办公经费里报销。周伟分管后勤，这些事他都清楚。镇机关的同志私下都说，上面检查来了就"
    "收一收，检查一走又照旧。请巡察组调取公务用车的行车记录和食堂接待的报销凭证核实。",

    "我们是南河村三组的村民，反映南河村征地补偿款被截留的问题。2024年县里修产业园征用了我们"
    "组七十多亩地，按文件每亩补偿标准是四万八，可是发到我们手上的每亩只有三万出头，剩下的钱"
    "说是留作集体发展资金，但从来没有公布过去向。村民小组长何建军和村党总支书记马德才说是"
    "镇里定的，镇里又说是村里定的，互相推脱。我们去镇里问过三次都没有结果。请巡察组帮我们"
    "查清楚征地补偿款的账目，钱到底去了哪里，有没有人贪污挪用。"
    "我们还听说，组里有几户根本没有被征地的人家也领到了补偿款，其中一户是马德才的亲家。村民多次要求公开"
    "每户的补偿明细，村里一直以涉及隐私为由拒绝。我们不是无理取闹，只想知道属于大家的钱去了哪里。"
    "如有需要，我们可以提供当时签字的协议复印件和收款记录。",

    "北山社区党委书记、居委会主任胡志刚搞形式主义、官僚主义，社区里的事情都靠开会和拍照"
    "应付检查。老旧小区改造说了两年，材料报了一堆，实际什么都没干，雨季楼道照样漏水，"
    "居民找到社区，他总说等上级批复。可社区每次迎检都要求我们志愿者摆拍，做台账做到半夜。"
    "有居民在业主群里提意见，他让网格员私下打招呼，叫人家把话撤回来。我们希望巡察组听听"
    "居民的真实声音，看看社区的钱和精力到底用在了什么地方。",

    "反映镇党委书记李建国在干部选拔任用中搞“一言堂”的问题。今年镇里调整了一批中层干部和"
    "村干部，事先没有民主推荐，也没有在党委会上充分讨论，基本是他一个人说了算。被提拔的"
    "几个人里，有一个是他的老同学的儿子，参加工作才两年，就当上了站所负责人。还有人反映，"
    "想进步的干部逢年过节要到他家里“汇报思想”。镇里干部对此议论纷纷，但没人敢说。请巡察组"
    "调阅这次干部调整的会议记录和推荐材料，核实是否违反了选人用人的规定。",

    "西坡村村委会主任杨秀英在宅基地审批中吃拿卡要。村民申请建房，材料交上去以后迟迟不给"
    "签字，私下要求每户交两千到五千元不等的“协调费”，交了钱的很快就批下来，不交的拖了一年"
    "多还没有结果。去年有一户超占了两百多平方米的耕地建房，因为是她的亲戚，村里没有上报也"
    "没有制止。村党支部书记黄春生知道这些情况，但一直不管。希望巡察组到村里走访，核实宅基地"
    "审批和收费情况，纠正这种损害群众利益的行为。"
    "我本人不方便留名，怕以后在村里办事被刁难，但所说情况村里很多人都清楚，可以找三组、五组的村民了解。",
)


@dataclass
class RunResult:
    name: str
    requests: int
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    server_cpu: float | None = None

    def add(self, other: RunResult) -> None:
        """Fold another timed batch against the same server into this one."""
        self.requests += other.requests
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.statuses += other.statuses
        self.failures += other.failures
        if other.server_cpu is not None:
            self.server_cpu = (self.server_cpu or 0.0) + other.server_cpu

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- the bare server -----------------------------------------------------------------------


def serve_bare(port: int, data_dir: Path, threads: int) -> None:
    """The bare endpoint: one hash with the service's KDF settings, one row, 201 JSON."""
    from flask import Flask, jsonify, request

    from handlers.httpserver import http_server

    path = data_dir / "bare.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute(
            "CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,"
            " text TEXT NOT NULL, secret_hash TEXT NOT NULL)"
        )
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            local.conn = conn
        return conn

    hasher = password_hasher()
    app = Flask("bare")

    @app.get("/ready")
    def ready() -> Any:
        return {"status": "ok"}

    @app.post(BARE_PATH)
    def create_report() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return jsonify(error="invalid"), 400
        code = f"{secrets.randbelow(10**16):016d}"
        secret_hash = hasher.hash(f"{code}\x00{body.get('password', '')}")
        received_at = datetime.now(UTC)
        conn = connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO reports (received_at, text, secret_hash) VALUES (?, ?, ?)",
                (received_at.isoformat(), body["text"], secret_hash),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return jsonify(code=code, received_at=received_at.isoformat()), 201

    print(f"bare endpoint on http://{HOST}:{port}{BARE_PATH}", flush=True)
    http_server(app, HOST, port, threads=threads, max_body=1024 * 1024).start()


# -- server processes ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    path: str
    ready_path: str
    data_dir: Path
    db_file: Path
    table: str
    log: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log, lines)

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def stored_rows(self) -> int:
        with sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])


def start_service(base: Path, threads: int) -> Server:
    data_dir = base / "service"
    data_dir.mkdir()
    port = free_port()
    env = clean_env() | {
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_HTTP_THREADS": str(threads),
        "INTAKE_POW_THRESHOLD": POW_THRESHOLD,
        "INTAKE_RATELIMIT_STORAGE_URI": "memory://",
    }
    log = base / "service.log"
    cmd = [sys.executable, "-c", "import sys; from intake.cli import main; sys.exit(main())",
           "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server("service", port, SERVICE_PATH, "/healthz", data_dir, data_dir / "intake.db",
                  "submissions", log, proc)


def start_bare(base: Path, threads: int) -> Server:
    data_dir = base / "bare"
    data_dir.mkdir()
    port = free_port()
    log = base / "bare.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", "--port", str(port),
           "--data-dir", str(data_dir), "--threads", str(threads)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    return Server("bare", port, BARE_PATH, "/ready", data_dir, data_dir / "bare.db", "reports",
                  log, proc)


def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n"
                               f"{server.log_tail()}")
        conn = http.client.HTTPConnection(HOST, server.port, timeout=2)
        try:
            conn.request("GET", server.ready_path)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log_tail()}")


@contextmanager
def running(base: Path, threads: int) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        servers.append(start_service(base, threads))
        servers.append(start_bare(base, threads))
        for server in servers:
            wait_ready(server)
        yield servers
    finally:
        for server in servers:
            stop(server.proc)


# -- load generator -------------------------------------------------------------------------


def make_bodies() -> list[bytes]:
    """JSON bodies: every text, with and without a named subject, each with its own password."""
    bodies = []
    for i, text in enumerate(TEXTS):
        for with_subject in (False, True):
            doc: dict[str, Any] = {"text": text, "password": f"xc{i}-{secrets.token_hex(4)}",
                                   "anonymous": True}
            if with_subject:
                doc |= {"title": text[:20], "subject_unit": "中共青山镇委员会"}
            bodies.append(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    return bodies


def load(server: Server, bodies: list[bytes], total: int, concurrency: int) -> RunResult:
    """Send `total` POSTs over `concurrency` keep-alive connections; time the whole batch."""
    result = RunResult(server.name, total, concurrency, 0.0)
    counter = itertools.count()
    lock = threading.Lock()
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=120)
        try:
            while True:
                with lock:
                    i = next(counter)
                if i >= total:
                    return
                start = time.perf_counter()
                try:
                    conn.request("POST", server.path, body=bodies[i % len(bodies)],
                                 headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, problem = resp.status, ""
                    if status != 201:
                        problem = data[:200].decode("utf-8", "replace")
                    elif "code" not in json.loads(data):
                        problem = "201 without a query code"
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, server.port, timeout=120)
                    status, problem = 0, f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - start
                with lock:
                    result.latencies.append(elapsed)
                    result.statuses[status] += 1
                    if problem:
                        result.failures.append(f"HTTP {status}: {problem}")
        finally:
            conn.close()

    cpu_before = server.cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    result.seconds = time.perf_counter() - start
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu = cpu_after - cpu_before
    return result


def report(r: RunResult) -> None:
    ok = r.statuses.get(201, 0)
    cpu = (f"{r.server_cpu / r.requests * 1000:.1f} ms/request ({r.server_cpu:.1f} s)"
           if r.server_cpu is not None else "n/a")
    print(f"  {r.name}")
    print(f"    requests     {r.requests} (201: {ok}, failed: {r.requests - ok})")
    print(f"    concurrency  {r.concurrency}")
    print(f"    seconds      {r.seconds:.2f}")
    print(f"    reports/s    {r.per_second:.1f}")
    print(f"    latency ms   p50 {percentile(r.latencies, 0.50) * 1000:.1f}   "
          f"p95 {percentile(r.latencies, 0.95) * 1000:.1f}   "
          f"p99 {percentile(r.latencies, 0.99) * 1000:.1f}   "
          f"max {max(r.latencies, default=0) * 1000:.1f}")
    print(f"    server CPU   {cpu}")
    if r.failures:
        print(f"    statuses     {dict(sorted(r.statuses.items()))}")
        for text, n in Counter(r.failures).most_common(5):
            print(f"    failure x{n}: {text}")


def argon2_single_ms(rounds: int = 10) -> float:
    hasher = password_hasher()
    start = time.perf_counter()
    for i in range(rounds):
        hasher.hash(f"{i:016d}\x00password")
    return (time.perf_counter() - start) / rounds * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="timed requests per server")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel connections")
    parser.add_argument("--warmup", type=int, default=40, help="untimed requests per server")
    parser.add_argument("--rounds", type=int, default=4,
                        help="split the timed requests into this many alternating rounds")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.port, Path(args.data_dir), args.threads)
        return 0
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --rounds must be positive")
    args.rounds = min(args.rounds, args.requests)

    threads = Settings().http_threads
    bodies = make_bodies()
    lengths = [len(t) for t in TEXTS]
    print("API throughput: POST /api/v1/reports (whole pipeline) vs a bare hash+insert endpoint")
    print(f"  CPU cores {os.cpu_count()}, cheroot threads {threads}, "
          f"texts {len(TEXTS)} ({min(lengths)}–{max(lengths)} chars), "
          f"warm-up {args.warmup}, Python {sys.version.split()[0]}, "
          f"SQLite {sqlite3.sqlite_version}")
    ph = password_hasher()
    print(f"  Argon2id t={ph.time_cost} m={ph.memory_cost} KiB p={ph.parallelism}: "
          f"{argon2_single_ms():.1f} ms per hash, one thread in this process")

    print(f"  timed in {args.rounds} rounds per server, alternating service and bare")
    print(f"  load average before: {load_average()}")

    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, \
            running(Path(tmp), threads) as servers:
        for server in servers:
            if args.warmup:
                warm = load(server, bodies, args.warmup, args.concurrency)
                if warm.failures:
                    print(f"  {server.name} warm-up failures: {Counter(warm.failures)}")
        results = {server.name: RunResult(server.name, 0, args.concurrency, 0.0)
                   for server in servers}
        for i in range(args.rounds):
            share = args.requests // args.rounds + (i < args.requests % args.rounds)
            for server in servers if i % 2 == 0 else servers[::-1]:
                results[server.name].add(load(server, bodies, share, args.concurrency))
        print(f"  load average after: {load_average()}")
        for server in servers:
            stored = server.stored_rows()
            expected = args.warmup + args.requests
            if stored != expected:
                print(f"  {server.name}: {stored} rows stored, expected {expected}")
                failed = True
        print()
        for r in results.values():
            report(r)
            failed = failed or bool(r.failures)
        service, bare = results["service"], results["bare"]
        print()
        p50_ratio = statistics.median(service.latencies) / statistics.median(bare.latencies)
        print(f"  ratio service/bare  reports/s {service.per_second / bare.per_second:.2f}   "
              f"p50 latency {p50_ratio:.2f}x")
        if service.server_cpu and bare.server_cpu:
            extra = (service.server_cpu - bare.server_cpu) / args.requests * 1000
            print(f"  service CPU beyond the bare work: {extra:.1f} ms/request")
        if failed:
            print("  SOME REQUESTS FAILED (see above)")
            print("  service log tail:\n" + servers[0].log_tail(10))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
