"""The statistics (`GET /api/v1/staff/stats`, intake.stats) at a round's and an office's size.

    .venv/bin/python bench/stats.py [--round-items 5000] [--office-items 1000000]
                                    [--teams 40] [--rounds-per-team 5] [--runs 5]
    INTAKE_DATABASE_URL=postgresql://… .venv/bin/python bench/stats.py --pg   # an empty database

Two databases, each on a fresh temporary data folder (SQLite, migrated to head by `open_desk`;
with --pg the URL's database, which must be empty):

1. one round of --round-items items (the example round, bench/queue_paging.py's loader:
   classified, labelled, over 40 days), counted by its team leader;
2. an office of --office-items items spread evenly over --teams × --rounds-per-team rounds
   (one round file each, as `intake rounds load` stores them), counted by the office across
   all teams, by the office for one team, and by one team's leader (a round of the size of
   case 1 among a million items).

60 % of the classified items name a person of the round's roster as their first subject, so
the count by place (`by_unit`) resolves real names; every item is overdue-eligible (received
in March; today is later). Each count is timed through the API with the Flask test client
(token, scope, JSON: what a caller waits for) and as the bare `db_viewer_counts`: once cold,
then --runs times; the median and the largest are printed in milliseconds. Goal: ≤ 500 ms.
The charts and the workbook are timed once on the office's counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.queue_paging import CLS_SQL, LABEL_SQL, SUB_SQL, generate  # noqa: E402
from handlers.web import create_app  # noqa: E402
from intake import charts, scope, stats  # noqa: E402
from intake.auth.apitokens import create_token  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.items import Period  # noqa: E402
from intake.rounds import load_files  # noqa: E402
from intake.settings import EXAMPLE_ROUND, Settings  # noqa: E402
from intake.staff import create_user  # noqa: E402
from intake.statsbook import stats_xlsx  # noqa: E402
from intake.store import models as m  # noqa: E402
from intake.store.models import utcnow  # noqa: E402
from intake.workdays import CHINA  # noqa: E402

ROSTER = (("刘德福", "东岭村党支部书记、村委会主任", "subordinate_head"),
          ("黄春生", "西坡村党支部书记", "subordinate_head"),
          ("马德才", "南河村党总支书记", "subordinate_head"),
          ("李建国", "镇党委书记", "leadership"), ("郑国平", "镇财政所所长", "key_post"))
PASSWORD = "bench-password-1"


def round_file(folder: Path, n: int, team: str) -> Path:
    """The example round as round n of `team`: its own slug, name and mailbox."""
    source = EXAMPLE_ROUND.read_text(encoding="utf-8")
    source = source.replace("县委第一巡察组", team).replace("xcz1@", f"bench{n}@")
    source = source.replace("round:\n", f"round:\n  slug: bench-{n}\n", 1)
    source = source.replace("2026年第二轮常规巡察", f"第{n}轮常规巡察")
    path = folder / f"round-{n}.yaml"
    path.write_text(source, encoding="utf-8")
    return path


def load(url: str, rows: int, round_ids: list[int]) -> float:
    """Bulk-load `rows` items spread over `round_ids` (SQLite or PostgreSQL); seconds."""
    start = time.perf_counter()
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        begin, commit, fix = "BEGIN IMMEDIATE", "COMMIT", (lambda sql: sql)
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                               autocommit=True)
        begin, commit = "BEGIN", "COMMIT"

        def fix(sql: str) -> str:
            return sql.replace("?", "%s")
    try:
        cursor = conn.cursor()
        if not url.startswith("sqlite"):  # items and classifications refer to each other
            cursor.execute("SET session_replication_role = replica")
        for subs, clss, labels in generate(rows, round_ids[0]):
            subs = [(s[0], round_ids[s[0] % len(round_ids)], *s[2:]) for s in subs]
            clss = [(*c[:7], _subjects(c[0]), *c[8:]) for c in clss]
            if not url.startswith("sqlite"):  # booleans are booleans there
                subs = [(*s[:11], bool(s[11]), bool(s[12]), bool(s[13]), *s[14:18],
                         None if s[18] is None else bool(s[18]), bool(s[19]), *s[20:])
                        for s in subs]
                clss = [(*c[:5], bool(c[5]), *c[6:13], bool(c[13]), c[14]) for c in clss]
            cursor.execute(begin)
            cursor.executemany(fix(SUB_SQL), subs)
            cursor.executemany(fix(CLS_SQL), clss)
            cursor.executemany(fix(LABEL_SQL), labels)
            cursor.execute(commit)
        if url.startswith("sqlite"):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            cursor.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - start


def _subjects(item_id: int) -> str:
    if item_id % 10 >= 6:
        return "[]"
    name, post, role = ROSTER[item_id % len(ROSTER)]
    return json.dumps([{"mention": name, "name": name, "post": post, "role": role,
                        "score": 0.9}], ensure_ascii=False)


def timed(runs: int, work: Callable[[], Any]) -> tuple[float, list[float], Any]:
    start = time.perf_counter()
    result = work()
    cold = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return cold, times, result


def report(label: str, cold: float, times: list[float]) -> None:
    print(f"  {label:<52} cold {cold:8.1f}  median {statistics.median(times):8.1f}  "
          f"max {max(times):8.1f} ms")


def case(desk: Desk, label: str, username: str, query: str, runs: int) -> dict[str, Any]:
    """Time the API's answer and the bare counts for one member and query."""
    app = create_app(desk.settings, desk=desk)
    token = create_token(desk, username, label="bench", actor_label="bench")
    client = app.test_client()

    def api() -> dict[str, Any]:
        response = client.get(f"/api/v1/staff/stats{query}",
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    cold, times, found = timed(runs, api)
    report(f"{label}: API", cold, times)
    with desk.sessions() as db:
        user_id, role = db.execute(select(m.StaffUser.id, m.StaffUser.role).where(
            m.StaffUser.username == username)).one()
        viewer = scope.db_viewer(db, user_id, role)
    args = dict(part.split("=", 1) for part in query.lstrip("?").split("&") if part)

    def bare() -> dict[str, Any]:
        token_ = scope.enter(viewer)
        try:
            with desk.sessions() as db:
                ids = stats.db_pick_rounds(db, desk.rounds, args)
                return stats.db_viewer_counts(db, viewer, ids, Period(), rounds=desk.rounds,
                                              now=utcnow())
        finally:
            scope.leave(token_)

    cold, times, _ = timed(runs, bare)
    report(f"{label}: db_viewer_counts", cold, times)
    print(f"    total {found['total']:,}, overdue {found['overdue']:,}, "
          f"places {len(found['by_unit'])}, rounds {len(found['by_round'])}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-items", type=int, default=5000)
    parser.add_argument("--office-items", type=int, default=1_000_000)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--rounds-per-team", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", action="store_true",
                        help="the office case on INTAKE_DATABASE_URL (PostgreSQL, empty)")
    args = parser.parse_args(argv)
    print(f"Statistics; Python {sys.version.split()[0]}")
    if not args.pg:
        with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
            desk = open_desk(Settings(data_dir=Path(tmp)))
            try:
                entry = desk.default_round()
                seconds = load(desk.settings.effective_database_url, args.round_items,
                               [entry.id])
                print(f"1. one round of {args.round_items:,} items (SQLite): loaded in "
                      f"{seconds:.1f} s")
                create_user(desk, "leader", "team_leader", password=PASSWORD, teams=[entry.team])
                case(desk, "team leader, the round", "leader", "", args.runs)
            finally:
                desk.close()
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        url = os.environ.get("INTAKE_DATABASE_URL", "") if args.pg else ""
        desk = open_desk(Settings(data_dir=Path(tmp), **({"database_url": url} if url else {})))
        try:
            office(desk, Path(tmp), args)
        finally:
            desk.close()
    return 0


def office(desk: Desk, folder: Path, args: argparse.Namespace) -> None:
    n_rounds = args.teams * args.rounds_per_team
    start = time.perf_counter()
    files = [round_file(folder, i + 1, f"巡察组{i // args.rounds_per_team + 1:03d}")
             for i in range(n_rounds)]
    load_files(desk.sessions, files)
    desk.rounds.refresh(force=True)
    ids = [e.id for e in desk.rounds.all() if e.slug.startswith("bench-")]
    kind = desk.engine.dialect.name
    print(f"2. an office: {args.office_items:,} items in {len(ids)} rounds of {args.teams} "
          f"teams ({kind}): rounds loaded in {time.perf_counter() - start:.1f} s, items in "
          f"{load(desk.settings.effective_database_url, args.office_items, ids):.1f} s")
    create_user(desk, "office", "office", password=PASSWORD)
    first_team = desk.rounds.get(ids[0])
    assert first_team is not None
    create_user(desk, "leader", "team_leader", password=PASSWORD, teams=[first_team.team])
    found = case(desk, "office, all teams", "office", "", args.runs)
    case(desk, "office, one team", "office", f"?team={first_team.team}", args.runs)
    case(desk, "team leader, one round among them", "leader", f"?round={first_team.slug}",
         args.runs)
    case(desk, "office, one week", "office", "?since=2026-03-09&until=2026-03-15", args.runs)
    sections = stats.sections(desk.rules.departments)
    cold, times, _ = timed(args.runs, lambda: [
        charts.bar_chart(s.title, s.rows(found), "svg") for s in sections[1:]])
    report(f"{len(sections) - 1} bar charts, SVG", cold, times)
    cold, times, _ = timed(args.runs, lambda: charts.day_chart("按收到日期", found["by_day"],
                                                               "png"))
    report("the day chart, PNG", cold, times)
    cold, times, book = timed(args.runs, lambda: stats_xlsx(
        found, sections, heading="全部巡察组", period="全部", generated_at=utcnow(),
        zone=CHINA))
    report(f"the workbook ({len(book):,} bytes)", cold, times)


if __name__ == "__main__":
    sys.exit(main())
