"""intake.scope itself: inside `scoped(viewer)` every form of ORM query keeps to the viewer's
teams' rounds, so that a query written later cannot forget the scope. Two teams, two rounds,
one item each (with an attachment and a message), and each form of query tried on them."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import aliased

from intake import scope
from intake.desk import Desk
from intake.pipeline import add_reporter_message_to, ingest
from intake.rounds import load_files
from intake.staff import create_user
from intake.store import models as m
from intake.submission import IncomingFile
from tests.support import REPO, make_submission

SECOND_ROUND = REPO / "config" / "round.second.example.yaml"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + \
    b"\xff\xd9"
TEXT_A = "东岭村党支部书记刘德福把低保名额给了自己的亲戚，第一组的件。"
TEXT_B = "云岭乡溪口村党总支书记贺德旺把集体土地租金装进了自己腰包，第二组的件。"


@dataclass
class TwoTeams:
    a_item: int
    b_item: int
    a_viewer: scope.Viewer
    b_viewer: scope.Viewer


@pytest.fixture
def teams(desk: Desk) -> TwoTeams:
    load_files(desk.sessions, [SECOND_ROUND])
    desk.rounds.refresh(force=True)
    first = desk.rounds.by_slug("qingshanzhen-2026-03")
    second = desk.rounds.by_slug("baishi-yunling-2026-2")
    assert first is not None and second is not None
    items = {}
    for entry, body in ((first, TEXT_A), (second, TEXT_B)):
        receipt = ingest(desk, make_submission(
            round_id=entry.id, text=body,
            attachments=(IncomingFile("现场.jpg", io.BytesIO(JPEG)),)))
        add_reporter_message_to(desk, receipt.submission_id, f"补充：{body[:6]}")
        items[entry.team] = receipt.submission_id
    a_user, _ = create_user(desk, "a_triager", "triager", teams=[first.team])
    b_user, _ = create_user(desk, "b_triager", "triager", teams=[second.team])
    with desk.sessions() as session:
        a_viewer = scope.db_viewer(session, a_user.id, "triager")
        b_viewer = scope.db_viewer(session, b_user.id, "triager")
    assert a_viewer.round_ids == {first.id} and b_viewer.round_ids == {second.id}
    return TwoTeams(items[first.team], items[second.team], a_viewer, b_viewer)


def test_get_and_select_see_the_viewers_items_only(desk: Desk, teams: TwoTeams) -> None:
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        assert session.get(m.Submission, teams.b_item) is None
        assert session.get(m.Submission, teams.a_item) is not None
        assert list(session.scalars(select(m.Submission.id))) == [teams.a_item]
        assert [r.id for r in session.scalars(select(m.Submission))] == [teams.a_item]
        other = aliased(m.Submission)
        assert list(session.scalars(select(other.id))) == [teams.a_item]
        # A text search, the way a later search page might write it.
        assert session.scalar(select(m.Submission.id).where(
            m.Submission.text.contains("第二组"))) is None


def test_counts_are_scoped_too(desk: Desk, teams: TwoTeams) -> None:
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Submission)) == 1
        assert session.scalar(select(func.count(m.Submission.id))) == 1
        assert session.scalar(select(func.count()).select_from(m.Attachment)) == 1
        assert session.scalar(select(func.count(m.Message.id))) == 1
        grouped = session.execute(select(m.Submission.round_id, func.count())
                                  .group_by(m.Submission.round_id)).all()
        assert len(grouped) == 1
        with scope.unscoped(session):  # what office counts use: past the scope, on purpose
            assert session.scalar(select(func.count()).select_from(m.Submission)) == 2


def test_what_hangs_off_an_item_is_scoped_by_its_item(desk: Desk, teams: TwoTeams) -> None:
    with desk.sessions() as session:
        b_attachment = session.scalar(select(m.Attachment.id).where(
            m.Attachment.submission_id == teams.b_item))
        b_message = session.scalar(select(m.Message.id).where(
            m.Message.submission_id == teams.b_item))
    assert b_attachment is not None and b_message is not None
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        rows = session.execute(select(m.Attachment.id, m.Submission.text)
                               .join(m.Submission, m.Attachment.submission_id == m.Submission.id)
                               ).all()
        assert [text for _, text in rows] == [TEXT_A]
        # Joined the other way, from the attachment alone, and by its id.
        own = session.scalars(select(m.Attachment)).all()
        assert [a.submission_id for a in own] == [teams.a_item]
        assert session.get(m.Attachment, b_attachment) is None
        assert session.get(m.Message, b_message) is None
        assert session.scalar(select(m.Classification).where(
            m.Classification.submission_id == teams.b_item)) is None
        assert session.scalar(select(m.AuditEvent).where(
            m.AuditEvent.submission_id == teams.b_item)) is None


def test_relationship_loads_carry_the_scope(desk: Desk, teams: TwoTeams) -> None:
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        own = session.get(m.Submission, teams.a_item)
        assert own is not None
        assert len(own.attachments) == 1 and len(own.messages) == 1  # lazy loads
        assert own.attachments[0].submission is own
        assert own.current is not None
        # An attachment reached first, then its item by the relationship.
        attachment = session.scalars(select(m.Attachment)).one()
        assert attachment.submission.id == teams.a_item


def test_an_object_loaded_before_the_scope_is_looked_up_again(desk: Desk,
                                                             teams: TwoTeams) -> None:
    """The identity map would answer `get` without SQL: inside a scope, an object the session
    already holds is checked against the scope again."""
    with desk.sessions() as session:
        held = session.get(m.Submission, teams.b_item)  # no scope yet; the session keeps it
        assert held is not None
        with scope.scoped(teams.a_viewer):
            assert session.get(m.Submission, teams.b_item) is None
            assert session.get(m.Submission, teams.a_item) is not None
        with scope.unscoped(session), scope.scoped(teams.a_viewer):
            everything = session.scalars(select(m.Submission)).all()
        assert len(everything) == 2
        with scope.scoped(teams.a_viewer):
            assert session.get(m.Submission, teams.b_item) is None
            assert session.get(m.Attachment, held.attachments[0].id) is None


def test_bulk_update_and_delete_touch_own_items_only(desk: Desk, teams: TwoTeams) -> None:
    with desk.sessions() as session:
        labels = select(func.count()).select_from(m.SubmissionLabel).where(
            m.SubmissionLabel.submission_id == teams.b_item)
        assert session.scalar(labels)
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        result = session.execute(update(m.Submission).values(status="triaged"))
        assert result.rowcount == 1
        session.execute(update(m.Submission).where(m.Submission.id == teams.b_item)
                        .values(status="closed"))
        gone = session.execute(delete(m.SubmissionLabel).where(
            m.SubmissionLabel.submission_id == teams.b_item))
        assert gone.rowcount == 0
        session.commit()
    with desk.sessions() as session:  # no scope: the truth
        assert session.get(m.Submission, teams.a_item).status == "triaged"
        assert session.get(m.Submission, teams.b_item).status == "received"
        assert session.scalar(labels)


def test_each_team_sees_its_own_and_itemless_roles_see_none(desk: Desk,
                                                           teams: TwoTeams) -> None:
    with scope.scoped(teams.b_viewer), desk.sessions() as session:
        assert list(session.scalars(select(m.Submission.id))) == [teams.b_item]
        assert session.get(m.Submission, teams.a_item) is None
    for role in ("office", "admin", "auditor"):
        user, _ = create_user(desk, f"x_{role}", role)
        with desk.sessions() as session:
            viewer = scope.db_viewer(session, user.id, role)
        with scope.scoped(viewer), desk.sessions() as session:
            assert session.scalar(select(func.count()).select_from(m.Submission)) == 0
            assert session.get(m.Submission, teams.a_item) is None
            assert session.scalars(select(m.Attachment)).all() == []


def test_a_member_of_both_teams_sees_both(desk: Desk, teams: TwoTeams) -> None:
    user, _ = create_user(desk, "both", "team_leader",
                          teams=["县委第一巡察组", "县委第二巡察组"])
    with desk.sessions() as session:
        viewer = scope.db_viewer(session, user.id, "team_leader")
    with scope.scoped(viewer), desk.sessions() as session:
        assert sorted(session.scalars(select(m.Submission.id))) == sorted(
            [teams.a_item, teams.b_item])


def test_what_the_scope_cannot_filter_is_refused_inside_it(desk: Desk, teams: TwoTeams) -> None:
    """Raw SQL and Core statements on bare tables never get loader criteria: inside a scope
    they are refused, so that a new query cannot leak by being written that way."""
    table = m.Submission.__table__
    with scope.scoped(teams.a_viewer), desk.sessions() as session:
        for statement in (text("SELECT id, text FROM submissions"),
                          select(table.c.id, table.c.text),
                          select(func.count()).select_from(table),
                          select(m.Attachment.__table__.c.id),
                          table.update().values(status="closed")):
            with pytest.raises(scope.ScopeError):
                session.execute(statement)
            session.rollback()
        assert session.execute(text("SELECT 1")).scalar() == 1  # no item table: fine
        with scope.unscoped(session):
            assert session.scalar(select(func.count()).select_from(table)) == 2


def test_the_ledger_is_scoped_by_its_items(desk: Desk, teams: TwoTeams) -> None:
    """Leads, transfers and their replies, steps and notices of team B's item are not seen by
    team A, by any form of query; and A's steps cannot reach B's item."""
    from intake import leads
    from intake.triage import Actor

    with desk.sessions() as session:
        b_user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == "b_triager"))
        assert b_user is not None
    b_actor = Actor(b_user.id, "b_triager", "triager")
    with scope.scoped(teams.b_viewer):
        transfer_id = leads.transfer(desk, b_actor, teams.b_item, department="civil_affairs")
        leads.add_reply(desk, b_actor, transfer_id, kind="accepted")
    with scope.scoped(teams.a_viewer):
        with pytest.raises(leads.LeadError) as refused:
            leads.accept(desk, Actor(teams.a_viewer.user_id, "a_triager", "triager"),
                         teams.b_item, keeper="a_triager")
        assert refused.value.kind == "not_found"
        with pytest.raises(leads.LeadError) as refused:
            leads.remind(desk, Actor(teams.a_viewer.user_id, "a_triager", "triager"),
                         transfer_id)
        assert refused.value.kind == "not_found"
        with desk.sessions() as session:
            for model in (m.Transfer, m.TransferReply, m.ItemStep, m.Notice):
                assert session.scalars(select(model)).all() == [], model
                assert session.scalar(select(func.count()).select_from(model)) == 0, model
            assert session.get(m.Transfer, transfer_id) is None
    with scope.scoped(teams.b_viewer), desk.sessions() as session:
        assert session.get(m.Transfer, transfer_id) is not None
        assert len(session.scalars(select(m.TransferReply)).all()) == 1
