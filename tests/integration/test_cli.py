"""The `intake` command as a user runs it: a real subprocess on a real data folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from intake.desk import Desk
from intake.pipeline import ingest
from intake.settings import EXAMPLE_ROUND
from tests.support import NAMED_IDENTITY, make_submission

INTAKE = [sys.executable, "-m", "intake.cli"]


def run(args: list[str], desk: Desk | None = None, stdin: str = "",
        data_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if data_dir is not None:
        env["INTAKE_DATA_DIR"] = str(data_dir)
    if desk is not None:
        env["INTAKE_DATA_DIR"] = str(desk.settings.data_dir)
        if desk.settings.database_url:
            env["INTAKE_DATABASE_URL"] = desk.settings.database_url
    return subprocess.run([*INTAKE, *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_classify_contract() -> None:
    lines = [
        {"id": "a", "text": "青山镇党委书记李建国收受老板送的购物卡和茅台酒。",
         "channel": "hotline"},
        "not json",
        {"id": "c"},
        {"id": "d", "text": "小区楼下烧烤店油烟太大，晚上吵得睡不着。"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
                      for x in lines) + "\n"
    r = run(["classify", "--round", str(EXAMPLE_ROUND)], stdin=stdin)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "c", "d"]
    assert out[0]["in_scope"] and out[0]["subject_role"] == "leadership"
    assert out[0]["routes"][0] == "accept" and "integrity" in out[0]["disciplines"]
    assert out[0]["subjects"][0]["name"] == "李建国"
    assert "error" in out[1] and "error" in out[2]
    assert not out[3]["in_scope"] and out[3]["routes"]
    assert set(out[0]) >= {"id", "in_scope", "subject_role", "subjects", "disciplines", "routes",
                           "confidence", "needs_review", "evidence"}


def test_classify_with_files_and_a_bad_round(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    item = {"id": "x", "text": "副镇长周伟公车私用。"}
    src.write_text(json.dumps(item, ensure_ascii=False) + "\n", encoding="utf-8")
    r = run(["classify", "--round", str(EXAMPLE_ROUND), "--in", str(src), "--out", str(dst)])
    assert r.returncode == 0 and json.loads(dst.read_text(encoding="utf-8"))["id"] == "x"
    bad = tmp_path / "round.yaml"
    bad.write_text(EXAMPLE_ROUND.read_text(encoding="utf-8").replace(
        "roles: [leadership, subordinate_head, key_post]", "roles: [leadership, chiefs]"),
        encoding="utf-8")
    r = run(["classify", "--round", str(bad), "--in", str(src)])
    assert r.returncode == 2 and "scope.roles[1]" in r.stderr


def test_evaluate_prints_the_contracts_metrics(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "text": "青山镇党委书记李建国收受老板送的购物卡。", "in_scope": True,
         "role": "leadership", "disciplines": ["integrity"], "label_basis": "stated"},
        {"id": "2", "text": "小区楼下烧烤店油烟太大，晚上吵得睡不着。", "in_scope": False,
         "routes_ok": ["ecology_environment", "hotline_12345"]},
    ]
    labelled = tmp_path / "dev.jsonl"
    labelled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
                        + "\nnot json\n", encoding="utf-8")
    # The keywords alone (the shipped default layer would add its own guesses).
    r = run(["evaluate", "--round", str(EXAMPLE_ROUND), "--json", "--model", "none",
             str(labelled)])
    assert r.returncode == 0, r.stderr
    (figures,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert figures["n"] == 2 and figures["in_scope_balanced_accuracy"] == 1.0
    assert figures["role_accuracy"] == 1.0 and figures["discipline_micro_f1"] == 1.0
    assert "不是有效的 JSON" in r.stderr
    table = run(["evaluate", "--round", str(EXAMPLE_ROUND), str(labelled), str(labelled)],
                data_dir=tmp_path)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    # No model trained in this data folder: the default layer shipped with the package.
    assert re.fullmatch(r"分类器版本 keywords-1\+sem-default-[0-9a-f]{10}", lines[0])
    assert lines[1].split()[:3] == ["file", "n", "scope_bacc"]
    assert lines[-1].startswith("all")
    bad = run(["evaluate", "--round", str(EXAMPLE_ROUND), "--model", "lr-x", str(labelled)],
              data_dir=tmp_path)
    assert bad.returncode == 2 and "没有模型版本" in bad.stderr
    assert run(["evaluate", "--round", str(EXAMPLE_ROUND), str(tmp_path / "none.jsonl")]
               ).returncode == 2


def test_duplicates_backfill_indexes_stored_items(desk: Desk) -> None:
    ingest(desk, make_submission())
    r = run(["duplicates", "backfill", "--rebuild"], desk)
    assert r.returncode == 0, r.stderr
    assert "已为 1 件建立查重索引" in r.stdout


def test_rules_check(tmp_path: Path) -> None:
    r = run(["rules", "check"])
    assert r.returncode == 0, r.stderr
    broken = tmp_path / "rules"
    broken.mkdir()
    repo_rules = EXAMPLE_ROUND.parent.parent / "routing_rules"
    for f in repo_rules.glob("*.yaml"):
        (broken / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (broken / "schema").symlink_to(repo_rules / "schema")
    (broken / "departments.yaml").write_text("departments: 12\n", encoding="utf-8")
    r = run(["rules", "check", str(broken)])
    assert r.returncode == 2 and "departments.yaml" in r.stderr


def test_export_and_users_add(desk: Desk) -> None:
    ingest(desk, make_submission(anonymous=False, identity=NAMED_IDENTITY))
    r = run(["export", "--format", "jsonl"], desk)
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert {"id", "channel", "received_at", "title", "text", "attachments", "classification",
            "status"} <= set(record)
    assert NAMED_IDENTITY.phone not in r.stdout
    r = run(["export", "--format", "jsonl", "--with-identity"], desk)
    assert NAMED_IDENTITY.phone in r.stdout
    out = desk.settings.data_dir.parent / "export.jsonl"
    r = run(["export", "--out", str(out)], desk)
    assert r.returncode == 0 and out.stat().st_mode & 0o777 == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["id"] == record["id"]
    r = run(["export", "--since", "2030-01-01"], desk)
    assert r.returncode == 0 and r.stdout == ""
    r = run(["export", "--since", "yesterday"], desk)
    assert r.returncode == 2

    r = run(["users", "add", "wang", "--role", "triager", "--name", "王干事"], desk)
    assert r.returncode == 0 and "一次性密码" in r.stdout
    r = run(["users", "add", "wang", "--role", "triager"], desk)
    assert r.returncode == 2 and "已存在" in r.stderr
    r = run(["users", "add", "li", "--role", "team_leader", "--password-stdin"], desk,
            stdin="a-long-password\n")
    assert r.returncode == 0


@pytest.mark.parametrize("env", [{"INTAKE_HTTP_PORT": "eighty"}])
def test_bad_settings_exit_2(env: dict[str, str]) -> None:
    r = subprocess.run([*INTAKE, "export"], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=60, check=False)
    assert r.returncode == 2 and "http_port" in r.stderr


def test_outbox_retry_queues_failed_replies_that_kept_their_content(desk: Desk) -> None:
    from intake.store import models as m

    with desk.sessions() as session:
        session.add_all([
            m.OutboxMail(kind="autoreply", recipient_lookup="a", sealed=b"x", status="failed",
                         attempts=8),
            m.OutboxMail(kind="autoreply", recipient_lookup="b", sealed=None, status="failed"),
        ])
        session.commit()
    r = run(["outbox", "retry"], desk)
    assert r.returncode == 0, r.stderr
    assert "已重新排队 1 封" in r.stdout
    with desk.sessions() as session:
        rows = session.query(m.OutboxMail).order_by(m.OutboxMail.id).all()
        assert [(r.status, r.attempts) for r in rows] == [("queued", 0), ("failed", 0)]
