"""Who may read which items, enforced in one place for every query.

A staff request (a page, an API call with a personal token) runs inside `scoped(viewer)`;
while it does, every ORM statement any code runs through a Session — selects, relationship
loads, `Session.get`, bulk updates and deletes — gets loader criteria that keep it to the
rounds of the viewer's teams (SQLAlchemy's `do_orm_execute` hook with `with_loader_criteria`,
the documented recipe for multi-tenant filtering). `Session.get` goes to the database rather
than the identity map (`ScopedSession`), and what loader criteria cannot reach (raw SQL, Core
statements on a bare item table) is refused with ScopeError. A view or a core function written
later cannot forget the scope: it never writes it. Outside a staff request (the public pages, which
find one case by its code; e-mail; the workers; the command line) nothing is filtered.

Roles: duty officers, triagers and team leaders read their teams' rounds; `office` (巡察办),
`admin` and `auditor` read no item at all (office statistics are counts computed by
`intake.stats` outside the scope; the auditor reads the audit log, unfiltered).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, event, exists, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.elements import TextClause

from intake.store import models as m

TEAM_ROLES = ("duty_officer", "triager", "team_leader")
# Roles that read no item: the office sees counts, the administrator runs the system, the
# auditor reads the audit log (三员分立).
ITEMLESS_ROLES = ("office", "admin", "auditor")


@dataclass(frozen=True)
class Viewer:
    """A signed-in staff member as the scope sees them."""

    user_id: int
    role: str
    team_ids: frozenset[int]
    round_ids: frozenset[int]  # rounds whose items they may read

    @property
    def reads_all_audit(self) -> bool:
        return self.role == "auditor"


_current: ContextVar[Viewer | None] = ContextVar("intake_viewer", default=None)


def db_viewer(session: Session, user_id: int, role: str) -> Viewer:
    """The viewer for a staff member: their teams, and those teams' rounds."""
    with unscoped(session):
        teams = frozenset(session.scalars(
            select(m.TeamMember.team_id).where(m.TeamMember.user_id == user_id)))
        rounds: frozenset[int] = frozenset()
        if role in TEAM_ROLES and teams:
            rounds = frozenset(session.scalars(
                select(m.Round.id).where(m.Round.team_id.in_(teams))))
    return Viewer(user_id, role, teams, rounds)


def current() -> Viewer | None:
    return _current.get()


@contextmanager
def scoped(viewer: Viewer) -> Iterator[Viewer]:
    """Run the block as `viewer`: every query sees their teams' items only."""
    token = _current.set(viewer)
    try:
        yield viewer
    finally:
        _current.reset(token)


def enter(viewer: Viewer) -> Any:
    """`scoped` for request hooks: returns the token that `leave` takes."""
    return _current.set(viewer)


def leave(token: Any) -> None:
    _current.reset(token)


@contextmanager
def unscoped(session: Session) -> Iterator[Session]:
    """For the few reads that must see past the scope and return no item content: the
    viewer's own teams and rounds, office counts. Marks the session, not the context."""
    before = session.info.get("unscoped", False)
    session.info["unscoped"] = True
    try:
        yield session
    finally:
        session.info["unscoped"] = before


# Plain table aliases (not ORM entities, so the criteria do not apply to them again), for
# correlated EXISTS: a child row is visible when its item is. An EXISTS probes the item by its
# primary key per row, where `submission_id IN (SELECT … all the team's items)` would read the
# team's whole list on every query.
_ITEMS = m.Submission.__table__.alias("scope_items")
_BATCHES = m.ScanBatch.__table__.alias("scope_batches")
_MESSAGES = m.Message.__table__.alias("scope_messages")
_TRANSFERS = m.Transfer.__table__.alias("scope_transfers")


def _visible_item(column: Any, rounds: frozenset[int]) -> Any:
    return exists().where(_ITEMS.c.id == column,
                          _ITEMS.c.round_id.in_(rounds)).correlate_except(_ITEMS)


def _visible_batch(column: Any, rounds: frozenset[int]) -> Any:
    return exists().where(_BATCHES.c.id == column,
                          _BATCHES.c.round_id.in_(rounds)).correlate_except(_BATCHES)


# Every model the criteria below keep to the viewer's rounds.
SCOPED_MODELS = (m.Submission, m.ScanBatch, m.AppointmentSlot, m.ScanFile, m.ScanLetter,
                 m.ScanPage, m.DuplicateLink, m.InboundMail, m.OutboxMail, m.SubmissionLabel,
                 m.Attachment, m.Classification, m.Decision, m.Message, m.DeskEntry,
                 m.Appointment, m.TextSignature, m.AuditEvent, m.Lead, m.Transfer,
                 m.TransferReply, m.ItemStep, m.Notice)


def _criteria(viewer: Viewer) -> list[Any]:
    rounds = viewer.round_ids
    options = [
        with_loader_criteria(m.Submission, m.Submission.round_id.in_(rounds),
                             include_aliases=True),
        with_loader_criteria(m.ScanBatch, m.ScanBatch.round_id.in_(rounds)),
        with_loader_criteria(m.AppointmentSlot, m.AppointmentSlot.round_id.in_(rounds)),
        with_loader_criteria(m.DuplicateLink, and_(
            _visible_item(m.DuplicateLink.submission_id, rounds),
            _visible_item(m.DuplicateLink.other_id, rounds))),
        with_loader_criteria(m.InboundMail, or_(
            _visible_item(m.InboundMail.submission_id, rounds),
            exists().where(_MESSAGES.c.id == m.InboundMail.message_id,
                           _visible_item(_MESSAGES.c.submission_id, rounds))
            .correlate_except(_MESSAGES, _ITEMS))),
        with_loader_criteria(m.OutboxMail, or_(
            m.OutboxMail.submission_id.is_(None),
            _visible_item(m.OutboxMail.submission_id, rounds))),
    ]
    for model in (m.ScanFile, m.ScanLetter, m.ScanPage):
        options.append(with_loader_criteria(model, _visible_batch(model.batch_id, rounds)))
    options.append(with_loader_criteria(m.TransferReply, exists().where(
        _TRANSFERS.c.id == m.TransferReply.transfer_id,
        _visible_item(_TRANSFERS.c.submission_id, rounds)).correlate_except(_TRANSFERS, _ITEMS)))
    for model in (m.SubmissionLabel, m.Attachment, m.Classification, m.Decision, m.Message,
                  m.DeskEntry, m.Appointment, m.TextSignature, m.Lead, m.Transfer, m.ItemStep,
                  m.Notice):
        options.append(with_loader_criteria(model, _visible_item(model.submission_id, rounds)))
    if not viewer.reads_all_audit:
        members = select(m.TeamMember.user_id).where(
            m.TeamMember.team_id.in_(viewer.team_ids)).scalar_subquery()
        options.append(with_loader_criteria(m.AuditEvent, or_(
            _visible_item(m.AuditEvent.submission_id, rounds),
            and_(m.AuditEvent.submission_id.is_(None), m.AuditEvent.actor_id.in_(members)),
            m.AuditEvent.actor_id == viewer.user_id)))
    return options


class ScopedSession(Session):
    """The service's Session: inside a scope, `get` asks the database. Without this the
    identity map would hand back an object the session read before the scope was entered (or
    past it, in `unscoped`) with no statement for the scope to filter."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        if _current.get() is not None and not self.info.get("unscoped"):
            kwargs["populate_existing"] = True
        return super().get(entity, ident, **kwargs)

    def get_one(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        if _current.get() is not None and not self.info.get("unscoped"):
            kwargs["populate_existing"] = True
        return super().get_one(entity, ident, **kwargs)


class ScopeError(RuntimeError):
    """A statement the scope cannot filter (raw SQL, or Core on a bare table holding items)
    was sent inside a staff scope: write it with the models, or in `unscoped` if it must
    see past the scope."""


def _scoped_tables() -> frozenset[str]:
    return frozenset(model.__tablename__ for model in SCOPED_MODELS)


def _check_unfilterable(statement: Any) -> None:
    """Refuse what loader criteria never reach: text naming an item table, Core on one."""
    tables = _scoped_tables()
    if isinstance(statement, TextClause):
        words = set(re.findall(r"[a-z_]+", statement.text.lower()))
        hit = words & tables
    else:
        froms = getattr(statement, "get_final_froms", None)
        found = froms() if froms is not None else []
        table = getattr(statement, "table", None)
        if table is not None:
            found = [*found, table]
        hit = {getattr(f, "name", "") for f in found} & tables
    if hit:
        raise ScopeError(f"unscoped statement on {', '.join(sorted(hit))} inside a staff scope")


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    viewer = _current.get()
    if viewer is None or state.session.info.get("unscoped"):
        return
    if not state.is_orm_statement:
        if not state.is_insert:  # an insert reads nothing
            _check_unfilterable(state.statement)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria of the statement that loaded the object travel with it
    state.statement = state.statement.options(*_criteria(viewer))
