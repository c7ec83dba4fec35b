"""Migration 0011: data stored before teams and rounds becomes teams and their rounds, and
nothing is lost (versions of one round file merge into one round, with all their items)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, MetaData, Table, select, text

from intake.desk import Desk
from intake.rounds import RoundRegistry
from intake.staff import create_user
from intake.store import models as m
from intake.store.db import alembic_config
from tests.support import STAFF_PASSWORD, make_submission


def _copy_row(conn: Connection, table: str, row_id: int, changes: dict[str, object]) -> int:
    """Insert a copy of a row with some columns changed; return the new id."""
    t = Table(table, MetaData(), autoload_with=conn)
    values = dict(conn.execute(select(t).where(t.c.id == row_id)).mappings().one())
    values.pop("id")
    values.update(changes)
    return conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one()


def _store_as_before_teams(desk: Desk, second: int, third: int) -> None:
    with desk.engine.begin() as conn:
        # An older version of the same round file (stored once per content before) holding
        # one item, and a round of another team.
        old = _copy_row(conn, "rounds", 1, {"source_sha256": "0" * 64, "active": False})
        other = _copy_row(conn, "rounds", 1, {"source_sha256": "1" * 64, "active": False,
                                              "name": "县委第二巡察组 2025年巡察",
                                              "team": "县委第二巡察组"})
        conn.execute(text("UPDATE submissions SET round_id = :r WHERE id = :i"),
                     {"r": old, "i": second})
        conn.execute(text("UPDATE submissions SET round_id = :r WHERE id = :i"),
                     {"r": other, "i": third})


def test_rounds_before_teams_become_teams_and_rounds_and_nothing_is_lost(desk: Desk) -> None:
    from intake.pipeline import ingest

    first = ingest(desk, make_submission(text="东岭村刘德福书记截留补偿款。")).submission_id
    second = ingest(desk, make_submission(text="西坡村黄春生书记收受红包。")).submission_id
    third = ingest(desk, make_submission(text="另一个巡察组的旧轮次收到的来信。")).submission_id
    create_user(desk, "t1", "triager", password=STAFF_PASSWORD)
    create_user(desk, "a1", "admin", password=STAFF_PASSWORD)
    desk.engine.dispose()
    cfg = alembic_config(desk.engine)
    command.downgrade(cfg, "0010")
    try:
        _store_as_before_teams(desk, second, third)
    finally:
        command.upgrade(cfg, "head")  # the database is shared with other tests on PostgreSQL

    with desk.sessions() as s:
        teams = {t.name: t.id for t in s.scalars(select(m.Team))}
        assert set(teams) == {"县委第一巡察组", "县委第二巡察组"}
        rounds = {r.name: r for r in s.scalars(select(m.Round))}
        assert len(rounds) == 2  # the two versions became one round
        kept = rounds["县委第一巡察组 2026年第二轮常规巡察"]
        moved = rounds["县委第二巡察组 2025年巡察"]
        assert kept.id == 1 and kept.state == "open" and kept.team_id == teams["县委第一巡察组"]
        assert moved.state == "closed" and moved.team_id == teams["县委第二巡察组"]
        assert kept.slug and moved.slug and kept.slug != moved.slug
        placed = dict(s.execute(select(m.Submission.id, m.Submission.round_id)).all())
        assert placed == {first: kept.id, second: kept.id, third: moved.id}
        assert len(s.scalars(select(m.RosterEntry).where(m.RosterEntry.round_id == kept.id))
                   .all()) == 15
        members = set(s.execute(select(m.TeamMember.user_id, m.TeamMember.team_id)).all())
        users = dict(s.execute(select(m.StaffUser.username, m.StaffUser.id)).all())
        # Everyone could see everything before: every account joins every team (an
        # administrator then narrows them on 账号).
        assert members == {(users[u], t) for u in ("t1", "a1") for t in teams.values()}
    registry = RoundRegistry(desk.sessions, desk.rules, None)
    registry.refresh(force=True)
    assert [e.slug for e in registry.open()] == [kept.slug]
