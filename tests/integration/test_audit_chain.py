"""The audit chain on a real database: it verifies, it finds tampering done with DBA rights
(triggers dropped first), the triggers refuse UPDATE and DELETE, concurrent appends stay linear,
and migration 0007 chains the events stored before it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from intake.audit import db_record
from intake.audit.chain import (
    GENESIS,
    AuditKeyMissingError,
    Verification,
    db_verify,
    drop_trigger_ddl,
    read_anchors,
    trigger_ddl,
    verify,
)
from intake.desk import Desk
from intake.protect import Keyring
from intake.store import models as m
from intake.store.db import alembic_config, begin_write, make_engine, make_sessionmaker, migrate
from tests.conftest import PG_URL


def record(desk: Desk, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        with desk.sessions() as s:
            begin_write(s)
            db_record(s, "item.view" if i % 3 else "identity.reveal", actor_label=f"user{i % 4}",
                      reason="核实" * (i % 2), n=i, tags=["甲", i], nested={"k": 1.5})
            s.commit()


def check(desk: Desk) -> Verification:
    with desk.sessions() as s:
        return db_verify(s, desk.keyring.audit_key, read_anchors(desk.settings.data_dir))


def sql(desk: Desk, *statements: str, **params: object) -> None:
    with desk.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def event(desk: Desk, seq: int) -> m.AuditEvent:
    with desk.sessions() as s:
        return s.scalars(select(m.AuditEvent).where(m.AuditEvent.seq == seq)).one()


@pytest.fixture
def attacker(desk: Desk) -> Iterator[Desk]:
    """Ten events, then the triggers dropped as a DBA could; restored afterwards (PostgreSQL
    keeps one database for the whole run)."""
    record(desk, 10)
    dialect = desk.engine.dialect.name
    sql(desk, *drop_trigger_ddl(dialect))
    yield desk
    sql(desk, *drop_trigger_ddl(dialect), *trigger_ddl(dialect))


def test_the_chain_verifies_after_many_events_and_anchors_its_head(desk: Desk) -> None:
    record(desk, 300)
    first, last = event(desk, 1), event(desk, 300)
    assert first.prev_hash == GENESIS and len(last.hash) == 64
    assert [e.seq for e in [first, last]] == [1, 300]
    result = verify(desk.sessions, desk.keyring.audit_key, desk.settings.data_dir)
    assert result.ok and result.broken is None and result.missing_triggers == ()
    assert (result.count, result.head_seq, result.head_hash) == (300, 300, last.hash)
    [anchor] = read_anchors(desk.settings.data_dir)
    assert (anchor.seq, anchor.hash) == (300, last.hash)
    assert (desk.settings.data_dir / "audit-anchors.jsonl").stat().st_mode & 0o077 == 0
    verify(desk.sessions, desk.keyring.audit_key, desk.settings.data_dir)
    assert len(read_anchors(desk.settings.data_dir)) == 1  # same head: no new anchor


def test_db_record_refuses_a_session_without_the_chain_key(desk: Desk) -> None:
    bare = make_sessionmaker(desk.engine)
    with bare() as s, pytest.raises(AuditKeyMissingError):
        db_record(s, "item.view", actor_label="x")


def test_an_edited_field_is_found(attacker: Desk) -> None:
    sql(attacker, "UPDATE audit_events SET reason = '无' WHERE seq = 4")
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (4, "changed")


def test_an_edited_detail_or_time_is_found(attacker: Desk) -> None:
    sql(attacker, "UPDATE audit_events SET actor_label = 'someone' WHERE seq = 7")
    assert (check(attacker).broken.seq, check(attacker).broken.kind) == (7, "changed")


def test_a_deleted_row_is_found(attacker: Desk) -> None:
    sql(attacker, "DELETE FROM audit_events WHERE seq = 5")
    result = check(attacker)
    assert result.broken and (result.broken.seq, result.broken.kind) == (5, "missing")
    assert result.count == 4 and not result.ok


def test_a_deleted_row_with_the_rest_renumbered_is_found(attacker: Desk) -> None:
    sql(attacker, "DELETE FROM audit_events WHERE seq = 5",
        "UPDATE audit_events SET seq = -seq WHERE seq > 5",
        "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0",
        "UPDATE audit_chain SET seq = 9")
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (5, "missing")


def test_an_inserted_row_is_found(attacker: Desk) -> None:
    prev = event(attacker, 4).hash
    sql(attacker, "UPDATE audit_events SET seq = -seq WHERE seq >= 5",
        "UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0",
        "UPDATE audit_chain SET seq = 11")
    with attacker.engine.begin() as conn:
        conn.execute(insert(m.AuditEvent.__table__).values(
            seq=5, at=datetime(2026, 3, 1, tzinfo=UTC), actor_label="l1",
            action="identity.reveal", reason="例行", detail={}, prev_hash=prev, hash="f" * 64))
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (5, "inserted")


def test_a_reordered_pair_is_found(attacker: Desk) -> None:
    sql(attacker, "UPDATE audit_events SET seq = -1 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = 7",
        "UPDATE audit_events SET seq = 7 WHERE seq = -1")
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (6, "reordered")


def test_a_truncated_tail_is_found_by_the_head_and_by_the_anchor(attacker: Desk) -> None:
    assert verify(attacker.sessions, attacker.keyring.audit_key,
                  attacker.settings.data_dir).broken is None  # anchors seq 10
    sql(attacker, "DELETE FROM audit_events WHERE seq > 8")
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (9, "missing")
    # the head rolled back too: the chain alone looks whole, the anchor outside does not
    sql(attacker, "UPDATE audit_chain SET seq = 8, hash = :h", h=event(attacker, 8).hash)
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (9, "missing")
    assert "截断" in broken.message
    # and a tail rewritten by the service after the roll-back no longer matches the anchor
    record(attacker, 3)
    broken = check(attacker).broken
    assert broken and (broken.seq, broken.kind) == (10, "changed")


def test_dropped_triggers_are_reported(attacker: Desk) -> None:
    result = check(attacker)
    assert result.broken is None and not result.ok
    assert set(result.missing_triggers) == {"audit_events_no_update", "audit_events_no_delete",
                                            "audit_chain_no_delete", "audit_chain_forward_only"}


def test_intake_audit_verify_exit_status(attacker: Desk) -> None:
    sql(attacker, *trigger_ddl(attacker.engine.dialect.name))
    env = {**os.environ, "INTAKE_DATA_DIR": str(attacker.settings.data_dir)}
    if attacker.settings.database_url:
        env["INTAKE_DATABASE_URL"] = attacker.settings.database_url
    args = [sys.executable, "-m", "intake.cli", "audit", "verify"]
    ok = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert f"已校验 10 条，链头 #10 {event(attacker, 10).hash}" in ok.stdout
    sql(attacker, *drop_trigger_ddl(attacker.engine.dialect.name),
        "UPDATE audit_events SET action = 'login.failed' WHERE seq = 3")
    bad = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert bad.returncode == 1
    assert "第 3 条断开（changed）" in bad.stdout and "触发器" in bad.stdout


def test_triggers_refuse_update_and_delete(desk: Desk) -> None:
    """Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (CI runs both)."""
    record(desk, 3)
    for statement in ("UPDATE audit_events SET reason = 'x' WHERE seq = 2",
                      "UPDATE audit_events SET seq = seq + 100",
                      "DELETE FROM audit_events WHERE seq = 3",
                      "DELETE FROM audit_events",
                      "DELETE FROM audit_chain",
                      "UPDATE audit_chain SET seq = 1"):
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward"):
            sql(desk, statement)
    assert check(desk).ok and check(desk).count == 3


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set (CI sets it)")
def test_postgres_trigger_refusal_is_a_privilege_error(desk: Desk) -> None:
    record(desk, 1)
    with pytest.raises(DBAPIError) as refused:
        sql(desk, "DELETE FROM audit_events")
    assert refused.value.orig.sqlstate == "42501"  # insufficient_privilege


def test_concurrent_appends_from_threads_keep_the_chain_linear(desk: Desk) -> None:
    """Eight threads, each appending in its own transactions; on PostgreSQL the head's row
    lock orders them, on SQLite the single writer does."""
    record(desk, 1)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(40):
                with desk.sessions() as s:
                    begin_write(s)
                    db_record(s, "item.view", actor_label=f"w{worker}", n=i)
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = check(desk)
    assert result.ok and result.count == 321
    with desk.sessions() as s:
        assert list(s.scalars(select(m.AuditEvent.seq).order_by(m.AuditEvent.seq))) == list(
            range(1, 322))


def test_the_migration_chains_events_stored_before_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(text(
                "INSERT INTO audit_events (at, actor_label, action, reason, detail) "
                "VALUES (:at, :who, 'identity.reveal', '核实', :detail)"),
                {"at": f"2026-03-0{i + 1} 08:00:00.000000", "who": f"l{i}",
                 "detail": json.dumps({"n": i})})
    with pytest.raises(RuntimeError, match="master key"):
        migrate(engine)
    keyring = Keyring(b"k" * 32)
    migrate(engine, keyring.audit_key)
    sessions = make_sessionmaker(engine, {"audit_key": keyring.audit_key})
    with sessions() as s:
        assert db_verify(s, keyring.audit_key).count == 5
    with sessions() as s:
        begin_write(s)
        db_record(s, "item.view", actor_label="after")
        s.commit()
    with sessions() as s:
        result = db_verify(s, keyring.audit_key)
        assert result.ok and result.count == 6
        rows = s.execute(select(m.AuditEvent.seq, m.AuditEvent.actor_label)
                         .order_by(m.AuditEvent.seq)).all()
        assert [tuple(r) for r in rows] == [(1, "l0"), (2, "l1"), (3, "l2"), (4, "l3"),
                                            (5, "l4"), (6, "after")]
        # another key cannot vouch for the chain
        assert db_verify(s, Keyring(b"x" * 32).audit_key).broken.kind == "changed"
    engine.dispose()
