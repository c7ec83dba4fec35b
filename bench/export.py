"""`intake export` at size: time and peak memory of each format, as a user runs it.

    .venv/bin/python bench/export.py [--items 100000] [--formats jsonl,csv,xlsx]

Opens a Desk on a fresh temporary data folder (SQLite), bulk-loads N items into the example
round (bench/queue_paging.py's loader: classified, labelled, over 40 days), then runs
`intake export --format F --out FILE` for each format in a subprocess of its own, as the
command line does, and prints its wall time, items per second, the file's size and the
subprocess's peak resident memory (ru_maxrss of the child: Python, SQLAlchemy and openpyxl
included). Memory that stays flat as N grows is the point: run it at 10,000 and 100,000 and
compare.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queue_paging import bulk_load  # noqa: E402
from intake.desk import open_desk  # noqa: E402
from intake.settings import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--formats", default="jsonl,csv,xlsx")
    args = parser.parse_args(argv)
    print(f"Export: {args.items:,} items; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        data = Path(tmp) / "data"
        desk = open_desk(Settings(data_dir=data))
        try:
            entry = desk.default_round()
            start = time.perf_counter()
            bulk_load(data / "intake.db", args.items, entry.id)
            print(f"  loaded in {time.perf_counter() - start:.1f} s")
        finally:
            desk.close()
        env = {**os.environ, "INTAKE_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"export.{fmt}"
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "intake.cli", "export", "--format",
                                      fmt, "--out", str(out)], env=env)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the max
            child.returncode = os.waitstatus_to_exitcode(status)
            took = time.perf_counter() - start
            if child.returncode != 0:
                print(f"  {fmt}: exit {child.returncode}")
                return 1
            print(f"  {fmt:5}: {took:6.1f} s, {args.items / took:,.0f} items/s, "
                  f"{out.stat().st_size / 2**20:,.1f} MiB file, "
                  f"peak RSS {usage.ru_maxrss / 1024:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
