"""`intake rounds load|list|close|reopen|archive|purge` as an operator runs them: real
subprocesses on the test's data folder and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from intake.desk import Desk
from intake.pipeline import ingest
from intake.store import models as m
from intake.store.models import PURGED_TEXT, utcnow
from tests.support import NAMED_IDENTITY, make_submission
from tests.two_teams import second_round_file


def intake(desk: Desk, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTAKE_DATA_DIR": str(desk.settings.data_dir)}
    if desk.settings.database_url:
        env["INTAKE_DATABASE_URL"] = desk.settings.database_url
    return subprocess.run([sys.executable, "-m", "intake.cli", "rounds", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_rounds_from_the_command_line(desk: Desk, tmp_path: Path) -> None:
    path = second_round_file(tmp_path)
    loaded = intake(desk, "load", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "已新建：nanhu-2026"
    assert intake(desk, "load", str(path)).stdout.strip() == "无变化：nanhu-2026"
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text(encoding="utf-8").replace("role: staff", "role: boss"),
                   encoding="utf-8")
    refused = intake(desk, "load", str(bad))
    assert refused.returncode == 2 and "roster[" in refused.stderr and "boss" in refused.stderr

    listed = [json.loads(line) for line in intake(desk, "list").stdout.splitlines()]
    assert listed[0]["slug"] == "nanhu-2026" and len(listed) == 2
    assert listed[0]["team"] == "县委第二巡察组" and listed[0]["state"] == "open"
    assert set(listed[0]) == {"slug", "team", "name", "opens", "closes", "state"}

    desk.rounds.refresh(force=True)
    entry = desk.rounds.by_slug("nanhu-2026")
    assert entry is not None
    item = ingest(desk, make_submission(round_id=entry.id, anonymous=False,
                                        identity=NAMED_IDENTITY))

    wrong = intake(desk, "archive", "nanhu-2026", "--reason", "试试")
    assert wrong.returncode == 2 and "不能改为「已归档」" in wrong.stderr
    closed = intake(desk, "close", "nanhu-2026")
    assert closed.returncode == 0 and "现为「已截止」" in closed.stdout
    archived = intake(desk, "archive", "nanhu-2026", "--reason", "线索已移交")
    assert archived.returncode == 0 and "现为「已归档」" in archived.stdout
    with desk.sessions() as session:
        event = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "round.state").order_by(m.AuditEvent.seq.desc())).first()
        assert event is not None and event.reason == "线索已移交"
        assert event.actor_label.startswith("cli:")

    not_yet = intake(desk, "purge")
    assert not_yet.returncode == 0 and "0 个轮次" in not_yet.stdout
    with desk.sessions() as session:  # three years and a day have passed
        session.execute(update(m.Round).where(m.Round.slug == "nanhu-2026").values(
            state_changed_at=utcnow() - timedelta(days=1096)))
        session.commit()
    purged = intake(desk, "purge")
    assert purged.returncode == 0, purged.stderr
    assert "1 个轮次" in purged.stdout and "nanhu-2026" in purged.stdout
    with desk.sessions() as session:
        row = session.get_one(m.Submission, item.submission_id)
        assert row.text == PURGED_TEXT and row.original_sealed is None
