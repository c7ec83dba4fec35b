"""The round's ledger (台账) at a round's real size: reading it and writing the workbook.

    .venv/bin/python bench/ledger.py [--items 5000] [--leads 0.1] [--transfers 0.3]

Opens a Desk on a fresh temporary data folder (SQLite), bulk-loads N items into the example
round (bench/queue_paging.py's loader: classified, labelled, over 40 days), then makes a share
of them leads (`intake.leads.accept`, one keeper) and transfers (`intake.leads.transfer`, some
answered), as a team would through the pages, and times:

- `db_ledger` (the rows with numbers, keepers, deadlines and a signed history, in a fixed number
  of queries), run inside a team member's scope as the page and the API run it;
- `ledger_workbook` (openpyxl: two sheets, styles, print setup);
- the queue's overdue list, first page (every clock, `overdue_cuts`).

Each is run once cold and then --runs times; the median and the largest are printed, with the
workbook's size, the memory Python allocated at most while one workbook was written
(tracemalloc, in a run of its own: tracing slows it), the process's peak RSS before and after
the workbooks, and at the end.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queue_paging import SPAN, START, bulk_load  # noqa: E402
from intake import leads, scope  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.items import overdue_cuts  # noqa: E402
from intake.ledgerdata import db_ledger, ledger_workbook  # noqa: E402
from intake.rounds import RoundEntry  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.staff import create_user  # noqa: E402
from intake.store.models import StaffUser  # noqa: E402
from intake.triage import Actor, QueueFilters, db_queue_page  # noqa: E402

DEPARTMENTS = ("human_resources", "civil_affairs", "housing", "natural_resources",
               "agriculture_rural", "market_regulation")


def timed(runs: int, work: Callable[[], Any]) -> tuple[float, list[float], Any]:
    start = time.perf_counter()
    result = work()
    cold = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return cold, times, result


def arguments(description: str) -> argparse.ArgumentParser:
    """The options of a benchmark on a worked round (this one and bench/reports.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--leads", type=float, default=0.1, help="share made leads")
    parser.add_argument("--transfers", type=float, default=0.3, help="share transferred")
    parser.add_argument("--runs", type=int, default=3)
    return parser


def worked_round(desk: Desk, db_path: Path, args: argparse.Namespace
                 ) -> tuple[RoundEntry, StaffUser]:
    """Bulk-load the example round with --items items, then make a share of them leads and
    transfers (half of those accepted by their body) through intake.leads, as staff would;
    prints what was made. Returns the round and the keeper (a triager of its team)."""
    rng = random.Random(20261206)
    entry = desk.default_round()
    bulk_load(db_path, args.items, entry.id)
    desk.rounds.refresh(force=True)
    user, _ = create_user(desk, "keeper", "triager", password="bench-password-1",
                          teams=[entry.team])
    actor = Actor(user.id, "keeper", "triager")
    ids = list(range(1, args.items + 1))
    rng.shuffle(ids)
    n_leads = int(args.items * args.leads)
    n_transfers = int(args.items * args.transfers)
    start = time.perf_counter()
    made = {"leads": 0, "transfers": 0, "answered": 0}
    for item_id in ids[:n_leads]:
        try:
            leads.accept(desk, actor, item_id, keeper="keeper")
            made["leads"] += 1
        except leads.LeadError:
            pass  # spam or closed in the generated mix
    for item_id in ids[n_leads:n_leads + n_transfers]:
        try:
            tid = leads.transfer(desk, actor, item_id, department=rng.choice(DEPARTMENTS))
        except leads.LeadError:
            continue
        made["transfers"] += 1
        if rng.random() < 0.5:
            leads.add_reply(desk, actor, tid, kind="accepted")
            made["answered"] += 1
    steps_s = time.perf_counter() - start
    print(f"  made {made['leads']:,} leads and {made['transfers']:,} transfers "
          f"({made['answered']:,} accepted) through intake.leads in {steps_s:.1f} s "
          f"({(made['leads'] + made['transfers']) / steps_s:,.0f} steps/s)")
    return entry, user


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0]).parse_args(argv)
    print(f"Ledger: {args.items:,} items, {args.leads:.0%} leads, "
          f"{args.transfers:.0%} transferred; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        desk = open_desk(Settings(data_dir=Path(tmp)))
        try:
            entry, user = worked_round(desk, Path(tmp) / "intake.db", args)
            viewer = scope.Viewer(user.id, "triager", frozenset({entry.team_id}),
                                  frozenset({entry.id}))
            now = START + SPAN + timedelta(days=20)
            with scope.scoped(viewer):
                def read() -> Any:
                    with desk.sessions() as session:
                        return db_ledger(session, entry, now)

                cold, times, ledger = timed(args.runs, read)
                print(f"  db_ledger: {len(ledger.rows):,} rows, {len(ledger.transfers):,} "
                      f"transfers; cold {cold:.2f} s, median {statistics.median(times):.2f} s, "
                      f"max {max(times):.2f} s")
                before = peak_rss()
                cold, times, content = timed(args.runs, lambda: ledger_workbook(ledger, now))
                print(f"  ledger_workbook: {len(content) / 1024:,.0f} KiB; cold {cold:.2f} s, "
                      f"median {statistics.median(times):.2f} s, max {max(times):.2f} s")
                print(f"    peak RSS {before:,.0f} MiB before the workbooks, {peak_rss():,.0f} MiB "
                      "after")
                del content
                tracemalloc.start()
                ledger_workbook(ledger, now)
                _, traced = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(f"    tracemalloc: at most {traced / 2**20:,.1f} MiB allocated while "
                      "writing one workbook")
                cuts = overdue_cuts([entry], now)

                def overdue() -> Any:
                    with desk.sessions() as session:
                        return db_queue_page(session, QueueFilters(overdue=cuts))

                cold, times, page = timed(args.runs * 5, overdue)
                print(f"  overdue list, first page ({len(page.rows)} rows): cold "
                      f"{cold * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms")
        finally:
            desk.close()
    print(f"  peak memory (RSS): {peak_rss():,.0f} MiB")
    return 0


def peak_rss() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
