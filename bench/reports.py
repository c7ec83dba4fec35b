"""The weekly report (周报) and the round's closing appendices at a round's real size.

    .venv/bin/python bench/reports.py [--items 5000] [--leads 0.1] [--transfers 0.3]

Opens a Desk on a fresh temporary data folder (SQLite), bulk-loads N items into the example
round (bench/queue_paging.py's loader: classified, labelled, over 40 days), makes a share of
them leads and transfers through intake.leads (as bench/ledger.py does), and times, inside a
team member's scope as the pages and the API run them:

- `weekly_docx` for the round's busiest week (counts, the ledger's rows, the DOCX);
- each closing appendix (`db_ledger` once, then `db_appendix`: statistics, leads, transfers).

Each is run once cold and then --runs times; the median and the largest are printed with the
documents' sizes and the process's peak memory.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ledger import arguments, timed, worked_round  # noqa: E402
from bench.queue_paging import SPAN, START  # noqa: E402
from intake import scope  # noqa: E402
from intake.desk import open_desk  # noqa: E402
from intake.ledgerdata import db_ledger  # noqa: E402
from intake.reports import APPENDICES, db_appendix, week_of, weekly_docx  # noqa: E402
from intake.settings import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0]).parse_args(argv)
    print(f"Reports: {args.items:,} items, {args.leads:.0%} leads, "
          f"{args.transfers:.0%} transferred; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        desk = open_desk(Settings(data_dir=Path(tmp)))
        try:
            entry, user = worked_round(desk, Path(tmp) / "intake.db", args)
            viewer = scope.Viewer(user.id, "triager", frozenset({entry.team_id}),
                                  frozenset({entry.id}))
            now = START + SPAN + timedelta(days=20)
            week = week_of((START + SPAN / 2).date())
            with scope.scoped(viewer):
                def weekly() -> Any:
                    with desk.sessions() as session:
                        return weekly_docx(session, viewer, entry, week, now)

                cold, times, (_, content) = timed(args.runs, weekly)
                print(f"  weekly report {week.label}: {len(content) / 1024:,.0f} KiB; cold "
                      f"{cold:.2f} s, median {statistics.median(times):.2f} s, "
                      f"max {max(times):.2f} s")
                with desk.sessions() as session:
                    start = time.perf_counter()
                    ledger = db_ledger(session, entry, now)
                    print(f"  db_ledger (once for the three): {time.perf_counter() - start:.2f} s")
                    for kind in APPENDICES:
                        cold, times, content = timed(
                            args.runs, lambda k=kind: db_appendix(session, ledger, k, now))
                        print(f"  appendix {kind}: {len(content) / 1024:,.0f} KiB; cold "
                              f"{cold:.2f} s, median {statistics.median(times):.2f} s, "
                              f"max {max(times):.2f} s")
        finally:
            desk.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory (RSS): {peak:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
