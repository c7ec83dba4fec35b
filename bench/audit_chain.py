"""What the audit chain costs per event, against the unchained insert it replaced.

    .venv/bin/python bench/audit_chain.py [--events 2000] [--batch 20000] [--threads 8]

Opens a Desk on a fresh temporary data folder: SQLite in it, and also PostgreSQL when
TEST_DATABASE_URL is set (a fresh database created and dropped there). For each backend:

- one event per transaction (begin, record, commit: what a request does), chained with
  `db_record` and unchained (the same ORM insert, with no head update and no HMAC);
- `--batch` events in one transaction, chained and unchained (the chain's own cost without
  the commit);
- on PostgreSQL, `--threads` threads appending at once (the head's row lock serialises them);
- `db_verify` over everything written, in events per second.

Prints microseconds per event and events per second for each.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from intake.audit import db_record  # noqa: E402
from intake.audit.chain import db_verify  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.store import models as m  # noqa: E402
from intake.store.db import begin_write, make_engine, normalise_url  # noqa: E402

# Far above the head: never meets the chain's numbers, and verification stops at the head.
UNCHAINED_FROM = 10**12
_unchained_seq = iter(range(UNCHAINED_FROM, UNCHAINED_FROM + 10**9))


def chained(session: Session, i: int) -> None:
    db_record(session, "item.view", actor_id=None, actor_label="bench", submission_id=None,
              n=i)


def unchained(session: Session, i: int) -> None:
    # What db_record did before the chain: one ORM insert (the new columns filled with
    # constants, since they are NOT NULL now).
    session.add(m.AuditEvent(seq=next(_unchained_seq), actor_label="bench", action="item.view",
                             reason="", detail={"n": i}, prev_hash="", hash=""))


def per_transaction(desk: Desk, record: Callable[[Session, int], None], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        with desk.sessions() as s:
            begin_write(s)
            record(s, i)
            s.commit()
    return time.perf_counter() - start


def one_transaction(desk: Desk, record: Callable[[Session, int], None], n: int) -> float:
    start = time.perf_counter()
    with desk.sessions() as s:
        begin_write(s)
        for i in range(n):
            record(s, i)
            if i % 1000 == 999:
                s.flush()
        s.commit()
    return time.perf_counter() - start


def threaded(desk: Desk, threads: int, n: int) -> float:
    def work() -> None:
        per_transaction(desk, chained, n)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def line(label: str, seconds: float, n: int) -> None:
    print(f"  {label:<44} {seconds / n * 1e6:9.1f} µs/event {n / seconds:10.0f} events/s")


def run(desk: Desk, args: argparse.Namespace, name: str) -> None:
    print(f"{name}:")
    per_transaction(desk, chained, 50)  # warm-up: connections, statement caches
    per_transaction(desk, unchained, 50)
    n = args.events
    line("one per transaction, unchained insert", per_transaction(desk, unchained, n), n)
    line("one per transaction, chained (db_record)", per_transaction(desk, chained, n), n)
    b = args.batch
    line(f"{b} in one transaction, unchained", one_transaction(desk, unchained, b), b)
    line(f"{b} in one transaction, chained", one_transaction(desk, chained, b), b)
    if desk.engine.dialect.name == "postgresql" and args.threads > 1:
        t = args.threads
        line(f"{t} threads at once, chained", threaded(desk, t, n // t), (n // t) * t)
    with desk.sessions() as s:
        total = s.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.seq < UNCHAINED_FROM))
        start = time.perf_counter()
        result = db_verify(s, desk.keyring.audit_key)
        seconds = time.perf_counter() - start
    assert result.broken is None and result.count == total, result
    line(f"verify ({total} events)", seconds, total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        desk = open_desk(Settings(data_dir=Path(tmp) / "sqlite"))
        try:
            run(desk, args, "SQLite (WAL, synchronous=NORMAL)")
        finally:
            desk.close()
        pg = os.environ.get("TEST_DATABASE_URL", "")
        if not pg:
            print("PostgreSQL: skipped (set TEST_DATABASE_URL)")
            return 0
        name = f"intake_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(pg).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = re.sub(r"/[^/]*$", f"/{name}", normalise_url(pg))
            desk = open_desk(Settings(data_dir=Path(tmp) / "pg", database_url=url))
            try:
                run(desk, args, "PostgreSQL")
            finally:
                desk.close()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
