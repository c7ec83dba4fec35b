"""The ledger page (/staff/ledger, 线索台账): a round's ledger as a table with its counts and
filters, its Excel download, and for team leaders the handover bundle (生成移交包).

Registered on the staff blueprint (`staff.ledger.*`), behind its login, so every request runs
in the member's scope. The rows come from intake.ledgerdata, as the API's workbook does; the
bundle from intake.handoverdata. The bundle's password is shown once, on a page not cached;
the archive waits under the data directory for its one download (or an hour).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, g, render_template, request, url_for

from handlers.web.context import desk, document, now, require
from intake.audit import db_record
from intake.handoverdata import HandoverError, db_handover_bundle
from intake.items import QueryError, zone_of
from intake.ledger import nearest_deadline
from intake.ledgerdata import (
    db_ledger,
    filter_rows,
    ledger_filename,
    ledger_workbook,
    pick_round,
)
from intake.names import STATUS_NAMES
from intake.reports import last_week
from intake.rounds import RoundEntry
from intake.store.db import begin_write

bp = Blueprint("ledger", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHOWN_ROWS = 1000  # the page's table; the workbook has every row
BUNDLE_DIR = "handover"
BUNDLE_KEEP_SECONDS = 3600
TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


def _stream(chunks: Iterator[bytes], name: str, size: int) -> Response:
    """A large download (the bundle) read from disk, as context.document answers."""
    response = Response(chunks, mimetype="application/zip")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Length"] = str(size)
    g.no_store = True
    return response


def ledger_download(entry: RoundEntry, *, via: str) -> Response:
    """The round's ledger workbook, its download audited `ledger.download`."""
    at = now()
    with desk().sessions() as db:
        ledger = db_ledger(db, entry, at)
    with desk().sessions() as db:
        begin_write(db)
        db_record(db, "ledger.download", actor_id=g.staff.id, actor_label=g.staff.username,
                  round=entry.slug, items=len(ledger.rows), via=via)
        db.commit()
    return document(ledger_workbook(ledger, at), ledger_filename(entry, at), XLSX)


def _my_rounds() -> list[RoundEntry]:
    return [e for e in desk().rounds.all() if e.id in g.viewer.round_ids]


def _chosen(mine: list[RoundEntry]) -> RoundEntry:
    """The round the page is about: `round=SLUG` among the member's, else their header's
    round, else their newest. 404 for a slug that is not theirs."""
    slug = request.values.get("round", "").strip()
    if slug:
        found = next((e for e in mine if e.slug == slug), None)
        if found is None:
            abort(404)
        return found
    current = g.get("round_entry")
    if current is not None and current.id in {e.id for e in mine}:
        return current
    if not mine:
        abort(404)
    return mine[0]


@bp.get("")
def page() -> Any:
    require("view_queue")
    mine = _my_rounds()
    entry = _chosen(mine)
    at = now()
    with desk().sessions() as db:
        ledger = db_ledger(db, entry, at)
    args = request.args
    status = args.get("status", "") if args.get("status") in STATUS_NAMES.values() else ""
    keepers = sorted({r.keeper for r in ledger.rows if r.keeper})
    keeper = args.get("keeper", "") if args.get("keeper") in keepers else ""
    overdue = args.get("overdue") == "1"
    rows = filter_rows(ledger.rows, status=status, keeper=keeper, overdue=overdue)
    return render_template(
        "staff/ledger.html", entry=entry, rounds=mine, counts=ledger.counts(),
        rows=rows[:SHOWN_ROWS], matched=len(rows), shown=SHOWN_ROWS,
        statuses=[s for k, s in STATUS_NAMES.items() if k != "spam"], keepers=keepers,
        status=status, keeper=keeper, overdue=overdue, nearest=nearest_deadline,
        zone=entry.cfg.opens.tzinfo, round_slug=entry.slug,
        report_week=last_week(at, zone_of(entry.cfg)).label)


@bp.get("/ledger.xlsx")
def download() -> Any:
    require("view_queue")
    try:
        entry = pick_round(desk().rounds, g.viewer.round_ids, request.args.get("round", ""))
    except QueryError:
        abort(400)
    if entry is None:
        abort(404)
    return ledger_download(entry, via="web")


# -- the handover bundle ---------------------------------------------------------------------


def _bundle_dir() -> Path:
    folder = Path(desk().settings.data_dir) / BUNDLE_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    """Archives not fetched within the hour are removed (their password is gone anyway)."""
    cutoff = time.time() - BUNDLE_KEEP_SECONDS
    for path in folder.glob("*.zip"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _handover_form(entry: RoundEntry, *, error: str = "", status: int = 200,
                   confirm: bool = False) -> Any:
    form = request.form
    return render_template(
        "staff/ledger_handover.html", entry=entry, rounds=_my_rounds(), error=error,
        confirm=confirm, with_identity=form.get("with_identity") == "1",
        reason=form.get("reason", "")), status


@bp.route("/handover", methods=["GET", "POST"])
def handover() -> Any:
    require("hand_over")
    entry = _chosen(_my_rounds())
    if request.method == "GET":
        return _handover_form(entry)
    form = request.form
    with_identity = form.get("with_identity") == "1"
    reason = form.get("reason", "")
    if with_identity and form.get("confirm") != "1":
        if len(reason.strip()) < 4:
            return _handover_form(entry, error="请写明包含举报人身份的理由（至少 4 个字）。",
                                  status=400)
        return _handover_form(entry, confirm=True)  # 确认: say what it means, once more
    folder = _bundle_dir()
    _sweep(folder)
    token = secrets.token_urlsafe(32)
    out = folder / f"{g.staff.id}-{token}.zip"
    at: datetime = now()
    try:
        password = db_handover_bundle(desk(), g.staff, entry.id, with_identity=with_identity,
                                      reason=reason, out=out, now=at)
    except HandoverError as exc:
        return _handover_form(entry, error=exc.message,
                              status=403 if exc.kind == "forbidden" else 400)
    g.no_store = True  # the password is on this page only
    return render_template(
        "staff/ledger_handover.html", entry=entry, rounds=_my_rounds(), done=True,
        password=password, with_identity=with_identity,
        size=out.stat().st_size, download=url_for(
            "staff.ledger.bundle", token=token, round=entry.slug))


@bp.get("/handover/<token>.zip")
def bundle(token: str) -> Any:
    require("hand_over")
    if len(token) != TOKEN_CHARS or not token.replace("-", "").replace("_", "").isalnum():
        abort(404)
    path = _bundle_dir() / f"{g.staff.id}-{token}.zip"  # only its maker's
    if not path.is_file():
        abort(404)
    entry = _chosen(_my_rounds())

    def chunks() -> Iterator[bytes]:
        try:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    yield block
        finally:
            path.unlink(missing_ok=True)  # one download

    return _stream(chunks(), f"{entry.cfg.name}移交材料.zip", path.stat().st_size)
