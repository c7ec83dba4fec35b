"""The triage queue's keyset paging (`intake.triage.db_queue_page`) at a million rows.

    .venv/bin/python bench/queue_paging.py [--rows 1000000] [--runs 20] [--analyze]

Opens a Desk on a fresh temporary data folder (SQLite, migrated to head by `open_desk`), then
bulk-loads N submissions with raw sqlite3 `executemany` in batches of 20,000: received over 40
days, channels cycling over web/email/hotline/letter/box, status mostly 'received', in_scope
True/False/None (None = never classified), needs_review mixed. Every classified item has its
current classification row (so the page's `selectinload` of it does real work) and its
`submission_labels`: routes for every classified item, disciplines for ~30% of all items with
a skewed mix (integrity common, political rare). It prints the load time and the file size.

Then it times `db_queue_page` (limit 50, a new session per call, as a request would) for the
first page and for a page in the middle of the queue (cursor of the middle row: walking there
50 rows at a time would take 10,000 pages), unfiltered, for each filter alone and for some
combinations. Each query runs once untimed ("cold") and then up to --runs times (fewer if a
query is slow), and the median and p95 in milliseconds are printed. It prints the EXPLAIN QUERY
PLAN of the SQL the function actually issued for the unfiltered and the discipline-filtered
query, and for any query whose plan scans a table or sorts in a temporary B-tree. The schema is
used as migrated and, like the service, without ANALYZE (--analyze runs it after the load to
compare).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select  # noqa: E402

from intake import scope  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.items import overdue_cuts  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.store import models as m  # noqa: E402
from intake.triage import PAGE_SIZE, QueueFilters, db_queue_page, encode_cursor  # noqa: E402

BATCH = 20_000
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=40)
CHANNELS = ("web", "email", "hotline", "letter", "box")
STATUSES = (("received", 70), ("triaged", 12), ("accepted", 8), ("transferred", 5),
            ("closed", 3), ("spam", 2))
SCOPES: tuple[tuple[bool | None, int], ...] = ((True, 30), (False, 55), (None, 15))
DISCIPLINES = (("integrity", 40), ("mass", 22), ("work", 16), ("organizational", 12),
               ("life", 7), ("political", 3))
ROUTES = (("discipline_commission", 30), ("hotline_12345", 20), ("inspected_unit", 12),
          ("human_resources", 8), ("natural_resources", 6), ("housing", 5),
          ("agriculture_rural", 5), ("petition_bureau", 4), ("political_legal", 3),
          ("public_security", 2), ("education", 2), ("health", 1), ("none", 2))
ROLES = ("leadership", "subordinate_head", "key_post", "staff", "outside_official",
         "non_official", "unknown")
DISCIPLINE_SHARE = 0.30  # of all items
SECRET_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNoYmVuY2hoYXNo"

CASES: tuple[tuple[str, QueueFilters], ...] = (
    ("unfiltered", QueueFilters()),
    ("channel=hotline", QueueFilters(channel="hotline")),
    ("status=received (common)", QueueFilters(status="received")),
    ("status=closed (rare)", QueueFilters(status="closed")),
    ("scope=in", QueueFilters(scope="in")),
    ("scope=out", QueueFilters(scope="out")),
    ("scope=unknown", QueueFilters(scope="unknown")),
    ("needs_review=yes", QueueFilters(needs_review=True)),
    ("needs_review=no", QueueFilters(needs_review=False)),
    ("discipline=integrity (common)", QueueFilters(discipline="integrity")),
    ("discipline=political (rare)", QueueFilters(discipline="political")),
    ("route=discipline_commission", QueueFilters(route="discipline_commission")),
    ("route=health (rare)", QueueFilters(route="health")),
    ("letter+in+needs_review", QueueFilters(channel="letter", scope="in", needs_review=True)),
    ("integrity+hotline+received",
     QueueFilters(discipline="integrity", channel="hotline", status="received")),
    ("political+closed (rare+rare)", QueueFilters(discipline="political", status="closed")),
    ("mass+route=accept", QueueFilters(discipline="mass", route="accept")),
    ("hotline+closed", QueueFilters(channel="hotline", status="closed")),
    ("status=spam+scope=in", QueueFilters(status="spam", scope="in")),
    ("integrity+unknown (no match)", QueueFilters(discipline="integrity", scope="unknown")),
    ("route=accept+scope=out (none)", QueueFilters(route="accept", scope="out")),
    ("channel=visit (no match)", QueueFilters(channel="visit")),
)
EXPLAIN_ALWAYS = ("unfiltered", "discipline=political (rare)", "discipline=integrity (common)")


def ts(value: datetime) -> str:
    """How SQLAlchemy's UTCDateTime stores a datetime in SQLite (naive UTC, microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def pick(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def generate(
    rows: int, round_id: int, seed: int = 20260302
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (submission rows, classification rows, label rows)."""
    rng = random.Random(seed)
    step_us = SPAN // timedelta(microseconds=1) // rows
    recorded = ts(START + SPAN)
    discipline_given_classified = DISCIPLINE_SHARE / (1 - dict(SCOPES)[None] / 100)
    subs: list[tuple[Any, ...]] = []
    clss: list[tuple[Any, ...]] = []
    labels: list[tuple[Any, ...]] = []
    for i in range(rows):
        item_id = i + 1
        received = ts(START + timedelta(microseconds=i * step_us + rng.randrange(step_us)))
        status = pick(rng, STATUSES)
        in_scope = pick(rng, SCOPES)
        role = rng.choice(ROLES) if in_scope is not None else None
        routes: list[str] = []
        disciplines: list[str] = []
        if in_scope is not None:
            routes = ["accept"] if in_scope else [pick(rng, ROUTES)]
            if rng.random() < 0.25:
                extra = pick(rng, ROUTES)
                if extra not in routes and extra != "none":
                    routes.append(extra)
            if rng.random() < discipline_given_classified:
                disciplines = sorted({pick(rng, DISCIPLINES)
                                      for _ in range(1 if rng.random() < 0.8 else 2)})
        needs_review = True if in_scope is None else rng.random() < 0.2
        first_route = next((r for r in routes if r != "accept"), None)
        subs.append((
            item_id, round_id, CHANNELS[i % len(CHANNELS)], received, recorded, "",
            f"测试反映事项第{item_id}号：反映有关干部作风问题。", "", "", "", "", 1, 0,
            int(status == "spam"), status, f"{item_id:016x}", SECRET_HASH,
            item_id if in_scope is not None else None,
            None if in_scope is None else int(in_scope), int(needs_review), role, first_route,
        ))
        if in_scope is not None:
            clss.append((
                item_id, item_id, 1, "service", "bench", int(in_scope), role, "[]", "[]",
                json.dumps(disciplines), json.dumps(routes),
                "[]", 0.7, int(needs_review), recorded,
            ))
            labels.extend((item_id, "discipline", d, received) for d in disciplines)
            labels.extend((item_id, "route", r, received) for r in routes)
        if len(subs) == BATCH:
            yield subs, clss, labels
            subs, clss, labels = [], [], []
    if subs:
        yield subs, clss, labels


SUB_SQL = (
    "INSERT INTO submissions (id, round_id, channel, received_at, recorded_at, title, text,"
    " subject_name, subject_unit, subject_post, category, anonymous, late, spam, status,"
    " code_lookup, secret_hash, current_classification_id, in_scope, needs_review,"
    " subject_role, first_route, via) VALUES (" + ", ".join("?" * 22) + ", '')"
)
CLS_SQL = (
    "INSERT INTO classifications (id, submission_id, version, source, model_version, in_scope,"
    " subject_role, subjects, candidates, disciplines, routes, evidence, confidence,"
    " needs_review, created_at) VALUES (" + ", ".join("?" * 15) + ")"
)
LABEL_SQL = ("INSERT INTO submission_labels (submission_id, kind, value, received_at)"
             " VALUES (?, ?, ?, ?)")


def bulk_load(db: Path, rows: int, round_id: int) -> tuple[float, float, int]:
    """Load `rows` items; return (seconds generating, seconds inserting, label rows)."""
    gen_s = ins_s = 0.0
    n_labels = 0
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        batches = generate(rows, round_id)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            t1 = time.perf_counter()
            gen_s += t1 - t0
            if batch is None:
                break
            subs, clss, labels = batch
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(SUB_SQL, subs)
            conn.executemany(CLS_SQL, clss)
            conn.executemany(LABEL_SQL, labels)
            conn.execute("COMMIT")
            n_labels += len(labels)
            ins_s += time.perf_counter() - t1
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return gen_s, ins_s, n_labels


# -- timing ---------------------------------------------------------------------------------


@dataclass
class Timing:
    cold_ms: float
    runs_ms: list[float]
    rows: int
    has_next: bool

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.runs_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_page(desk: Desk, filters: QueueFilters, cursor: str | None, runs: int,
              budget_s: float) -> Timing:
    def once() -> tuple[float, int, bool]:
        start = time.perf_counter()
        with desk.sessions() as session:
            page = db_queue_page(session, filters, cursor, limit=PAGE_SIZE)
            n = len(page.rows)
            more = page.next_cursor is not None
        return (time.perf_counter() - start) * 1000, n, more

    cold, n, more = once()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < runs and (len(samples) < 3 or time.perf_counter() < deadline):
        samples.append(once()[0])
    return Timing(cold, samples, n, more)


@contextmanager
def captured_sql(desk: Desk) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) sent to the database inside the block."""
    seen: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                 _executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(desk.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(desk.engine, "before_cursor_execute", listener)


def query_plans(desk: Desk, filters: QueueFilters, cursor: str | None) -> list[list[str]]:
    """EXPLAIN QUERY PLAN of each SELECT that db_queue_page issues for these arguments."""
    with captured_sql(desk) as seen, desk.sessions() as session:
        db_queue_page(session, filters, cursor)
    plans = []
    with desk.engine.connect() as conn:
        for statement, parameters in seen:
            result = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append([f"{row[3]}" for row in result])
        conn.rollback()
    return plans


def suspicious(plans: list[list[str]]) -> bool:
    lines = [line for plan in plans[:1] for line in plan]
    return any("TEMP B-TREE" in line or (line.startswith("SCAN") and "INDEX" not in line)
               for line in lines)


def print_plan(title: str, statement_plans: list[list[str]]) -> None:
    print(f"  {title}")
    names = ("queue query", "selectinload of current classification")
    for i, plan in enumerate(statement_plans):
        print(f"    [{names[min(i, 1)]}]")
        for line in plan:
            print(f"      {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="submissions to load")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per query")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds per query after which fewer runs are taken (min 3)")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after the load")
    parser.add_argument("--as-team", action="store_true",
                        help="run as a triager of the round's team: every query under the "
                             "team scope (intake/scope.py), as the staff pages run")
    args = parser.parse_args(argv)
    if args.rows < 2 * PAGE_SIZE or args.runs < 1:
        parser.error(f"--rows must be at least {2 * PAGE_SIZE}, --runs at least 1")

    print(f"Triage queue paging: db_queue_page, {args.rows:,} submissions, page size {PAGE_SIZE}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"CPU cores {os.cpu_count()}, load average {load}")
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        desk = open_desk(settings)
        try:
            db = settings.data_dir / "intake.db"
            gen_s, ins_s, n_labels = bulk_load(db, args.rows, desk.round_id)
            size = db.stat().st_size
            print(f"  load: {args.rows:,} submissions + classifications, {n_labels:,} labels; "
                  f"generate {gen_s:.1f} s, insert {ins_s:.1f} s "
                  f"({args.rows / ins_s:,.0f} submissions/s inserted)")
            print(f"  database file: {size / 1024 / 1024:,.1f} MiB")
            if args.analyze:
                t0 = time.perf_counter()
                with sqlite3.connect(db) as conn:
                    conn.execute("ANALYZE")
                print(f"  ANALYZE: {time.perf_counter() - t0:.1f} s")
            entry = desk.default_round()
            viewer = scope.Viewer(0, "triager", frozenset({entry.team_id}),
                                  frozenset({entry.id}))
            with scope.scoped(viewer) if args.as_team else contextlib.nullcontext():
                how = "as a team member (scoped)" if args.as_team else "unscoped"
                print(f"  queries run {how}")
                run_cases(desk, args.rows, args.runs, args.budget)
        finally:
            desk.close()
    return 0


def run_cases(desk: Desk, rows: int, runs: int, budget: float) -> None:
    with desk.sessions() as session:
        counts = dict(session.execute(
            select(m.Submission.status, func.count()).group_by(m.Submission.status)).all())
        mid = session.get(m.Submission, rows // 2)
        assert mid is not None
        mid_cursor = encode_cursor(mid.received_at, mid.id)
    print(f"  status counts: {counts}")
    print(f"  middle cursor: row {mid.id}, received {mid.received_at:%Y-%m-%d %H:%M:%S} UTC")
    print()
    header = (f"  {'query':<32}{'page':>6}{'rows':>6}{'cold ms':>9}{'median ms':>11}"
              f"{'p95 ms':>9}{'runs':>6}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    flagged: list[str] = []
    # After triage: the overdue list (every clock: triage, a named reporter told, closing,
    # transfers) as of 20 days after the last receipt, and a keeper's leads.
    late = overdue_cuts([desk.default_round()], START + SPAN + timedelta(days=20))
    cases = (*CASES, ("overdue (every clock)", QueueFilters(overdue=late)),
             ("keeper=wang (no such user)", QueueFilters(keeper="wang")))
    for name, filters in cases:
        for label, cursor in (("first", None), ("mid", mid_cursor)):
            t = time_page(desk, filters, cursor, runs, budget)
            more = "" if t.has_next else " (last page)"
            print(f"  {name:<32}{label:>6}{t.rows:>6}{t.cold_ms:>9.1f}{t.median:>11.2f}"
                  f"{t.p95:>9.2f}{len(t.runs_ms):>6}{more}", flush=True)
        if name not in EXPLAIN_ALWAYS and suspicious(query_plans(desk, filters, mid_cursor)):
            flagged.append(name)

    print()
    walk(desk, QueueFilters(), "unfiltered")
    walk(desk, QueueFilters(discipline="political"), "discipline=political")
    print()
    print("EXPLAIN QUERY PLAN (the SQL db_queue_page issued, mid-queue cursor)")
    for name, filters in cases:
        if name in EXPLAIN_ALWAYS or name in flagged:
            note = "" if name in EXPLAIN_ALWAYS else "  <- scans a table or sorts"
            print_plan(f"{name}{note}", query_plans(desk, filters, mid_cursor))
    if not flagged:
        print("  (no other case's queue query scans a table or sorts in a temp B-tree)")


def walk(desk: Desk, filters: QueueFilters, name: str, pages: int = 100) -> None:
    """Follow the cursor from the first page on, to show that page n costs what page 1 costs."""
    cursor: str | None = None
    times: list[float] = []
    for _ in range(pages):
        start = time.perf_counter()
        with desk.sessions() as session:
            page = db_queue_page(session, filters, cursor)
        times.append((time.perf_counter() - start) * 1000)
        cursor = page.next_cursor
        if cursor is None:
            break
    print(f"  walk {name:<22} {len(times)} pages by cursor: page 1 {times[0]:.2f} ms, "
          f"median {statistics.median(times):.2f} ms, last {times[-1]:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
