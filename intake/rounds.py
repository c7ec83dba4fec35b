"""Rounds as tenants: several rounds open at once, each with its team, slug and channels.

A round file is loaded (or, when a round with its slug exists, updated) into the `rounds`
table; `RoundRegistry` is the running service's view of them, refreshed when another process
loads or closes one. Every channel asks the registry for the round an item belongs to: the
public pages by slug, the API by its `round` field, the mailbox a mail was sent to, a desk
device's or an officer's team, a scan batch's box.

Lifecycle: open → closed (items still taken in, marked late) → handed_over → archived (no
longer takes items). `closed → open` undoes a close made by mistake.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pypinyin import lazy_pinyin
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.audit import db_record
from intake.classify import Classifier
from intake.classify.models_store import ActiveModel
from intake.round import Round, RoundFileError, load_round, parse_round
from intake.rules import RuleSet
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import utcnow
from intake.workdays import CHINA

log = logging.getLogger(__name__)

DEFAULT_TEAM = "巡察组"
STATE_NAMES = {"open": "受理中", "closed": "已截止", "handed_over": "已移交", "archived": "已归档"}
# Where a round may go from each state (closed → open: a close made by mistake).
TRANSITIONS = {
    "open": ("closed",),
    "closed": ("open", "handed_over", "archived"),
    "handed_over": ("archived",),
    "archived": (),
}
TAKING_ITEMS = ("open", "closed", "handed_over")


class RoundError(ValueError):
    """A round operation was refused; `message` is Chinese, for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RoundEntry:
    """One stored round as the service uses it: its file, team, state and classifier."""

    id: int
    slug: str
    team_id: int
    team: str
    state: str
    cfg: Round
    updated_at: datetime
    _rules: RuleSet = field(repr=False)
    _model: ActiveModel | None = field(repr=False)
    _classifier: Classifier | None = field(default=None, repr=False)

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            self._classifier = Classifier(self.cfg, self._rules, self._model)
        return self._classifier

    @property
    def takes_items(self) -> bool:
        return self.state in TAKING_ITEMS

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def is_late(self, at: datetime) -> bool:
        """After the round's window, or at any time once it is no longer open."""
        return self.state != "open" or self.cfg.is_late(at)

    def mailboxes(self) -> set[str]:
        return {self.cfg.mailbox.lower()} if self.cfg.mailbox else set()


class RoundRegistry:
    """The stored rounds, re-read when another process changed them (checked every few
    seconds, one cheap query)."""

    def __init__(self, sessions: sessionmaker[Session], rules: RuleSet,
                 model: ActiveModel | None, *, recheck_seconds: float = 2.0) -> None:
        self._sessions = sessions
        self._rules = rules
        self._model = model
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._entries: dict[int, RoundEntry] = {}
        self._stamp: tuple = ()
        self._checked = 0.0

    def refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked < self._recheck:
            return
        with self._lock:
            with self._sessions() as session:
                stamp = tuple(session.execute(select(
                    func.count(m.Round.id), func.max(m.Round.updated_at),
                    func.max(m.Round.state_changed_at))).one())
                if stamp != self._stamp:
                    self._entries = self._load(session)
                    self._stamp = stamp
            self._checked = time.monotonic()

    def _load(self, session: Session) -> dict[int, RoundEntry]:
        teams = {t.id: t.name for t in session.scalars(select(m.Team))}
        entries = {}
        for row in session.scalars(select(m.Round).order_by(m.Round.id)):
            old = self._entries.get(row.id)
            if old is not None and old.updated_at == row.updated_at:
                old.state, old.team_id, old.team = row.state, row.team_id, teams[row.team_id]
                entries[row.id] = old  # keeps its classifier
                continue
            try:
                cfg = parse_round(row.source_text)
            except RoundFileError:
                log.exception("stored round %s no longer parses; skipped", row.id)
                continue
            entries[row.id] = RoundEntry(row.id, row.slug, row.team_id, teams[row.team_id],
                                         row.state, cfg, row.updated_at, self._rules,
                                         self._model)
        return entries

    def all(self) -> list[RoundEntry]:
        """Every round, newest first."""
        self.refresh()
        return sorted(self._entries.values(), key=lambda e: e.id, reverse=True)

    def get(self, round_id: int) -> RoundEntry | None:
        self.refresh()
        entry = self._entries.get(round_id)
        if entry is None:
            self.refresh(force=True)
            entry = self._entries.get(round_id)
        return entry

    def by_slug(self, slug: str) -> RoundEntry | None:
        return next((e for e in self.all() if e.slug == slug), None)

    def open(self) -> list[RoundEntry]:
        """The rounds open now, by closing time (soonest first)."""
        return sorted((e for e in self.all() if e.state == "open"),
                      key=lambda e: (e.cfg.closes, e.id))

    def taking(self, team_ids: Iterable[int] | None = None) -> list[RoundEntry]:
        """Rounds that take items (open first, then the most recently changed), of these
        teams when given."""
        teams = None if team_ids is None else set(team_ids)
        found = [e for e in self.all() if e.takes_items and (teams is None or e.team_id in teams)]
        return sorted(found, key=lambda e: (e.state != "open", -e.id))

    def default(self) -> RoundEntry | None:
        """The round an item without one goes to: the one open round, or (none open) the
        newest round still taking items. None when several are open, or none takes items."""
        open_now = self.open()
        if len(open_now) == 1:
            return open_now[0]
        if open_now:
            return None
        taking = self.taking()
        return taking[0] if taking else None

    def newest(self) -> RoundEntry | None:
        """For what needs some round (a banner, a hostname): the default, else the newest."""
        entries = self.all()
        return self.default() or (self.open() or entries or [None])[0]

    def by_mailbox(self, address: str) -> RoundEntry | None:
        address = address.lower()
        return next((e for e in self.taking() if address in e.mailboxes()), None)

    def for_team(self, team_id: int | None) -> list[RoundEntry]:
        """The rounds a team's device or officer files under: its open ones, else those still
        taking items."""
        if team_id is None:
            entry = self.default()
            return [entry] if entry is not None else []
        taking = self.taking([team_id])
        open_now = [e for e in taking if e.state == "open"]
        return open_now or taking


# -- loading round files --------------------------------------------------------------------


def derive_slug(cfg: Round) -> str:
    """A readable slug from the first place (or unit) and the opening month:
    `qingshanzhen-2026-03`."""
    source = cfg.unit.places[0] if cfg.unit.places else cfg.unit.short
    base = re.sub(r"[^a-z0-9]+", "-", "".join(lazy_pinyin(source)).lower()).strip("-")[:28]
    return f"{base or 'round'}-{cfg.opens:%Y-%m}"


@dataclass(frozen=True)
class Loaded:
    slug: str
    round_id: int
    outcome: str  # "created" | "updated" | "unchanged"


def load_files(sessions: sessionmaker[Session], paths: Iterable[Path],
               actor_label: str | None = None) -> list[Loaded]:
    """Load (or update) round files, each in its own transaction; RoundFileError names the
    file and field of the first bad one. Audited when an actor is named (a person loading a
    file); the configured files loaded at start-up are only logged."""
    results = []
    for path in paths:
        cfg = load_round(path)
        with sessions() as session:
            results.append(db_load_round(session, cfg, actor_label=actor_label))
            session.commit()
    return results


def db_ensure_team(session: Session, name: str) -> m.Team:
    name = name.strip() or DEFAULT_TEAM
    team = session.scalar(select(m.Team).where(m.Team.name == name))
    if team is None:
        team = m.Team(name=name)
        session.add(team)
        session.flush()
    return team


def db_load_round(session: Session, cfg: Round, *, actor_label: str | None = None,
                  actor_id: int | None = None) -> Loaded:
    """Store a round file: a new round, or the update of the round with its slug (or, without
    a slug in the file, of the same name and team)."""
    begin_write(session)
    team = db_ensure_team(session, cfg.team)
    row = None
    if cfg.slug:
        row = session.scalar(select(m.Round).where(m.Round.slug == cfg.slug))
    else:
        row = session.scalar(select(m.Round).where(m.Round.name == cfg.name,
                                                   m.Round.team_id == team.id)
                             .order_by(m.Round.id.desc()).limit(1))
    if row is not None and row.team_id != team.id:
        raise RoundError(f"轮次 {row.slug} 属于另一个巡察组，不能改由「{team.name}」负责；"
                         "如是新的一轮，请在轮次文件中换一个 round.slug。")
    if row is not None and row.source_sha256 == cfg.source_sha256:
        return Loaded(row.slug, row.id, "unchanged")
    created = row is None
    if row is None:
        row = m.Round(slug=cfg.slug or _free_slug(session, derive_slug(cfg)), team_id=team.id,
                      state="open", state_changed_at=utcnow())
        session.add(row)
    row.name = cfg.name
    row.team = team.name
    row.unit_name = cfg.unit.name
    row.unit_level = cfg.unit.level
    row.unit = {"short": cfg.unit.short, "places": list(cfg.unit.places),
                "county": cfg.unit.county, "subordinates": list(cfg.unit.subordinates),
                "units": [u.name for u in cfg.units]}
    row.opens_at = cfg.opens
    row.closes_at = cfg.closes
    row.hotline_number = cfg.hotline_number
    row.hotline_hours = [f"{h.start:%H:%M}-{h.end:%H:%M}" for h in cfg.hotline_hours]
    row.mailbox = cfg.mailbox
    row.postal_box = cfg.postal_box
    row.suggestion_boxes = list(cfg.suggestion_boxes)
    row.scope_roles = list(cfg.scope_roles)
    row.source_sha256 = cfg.source_sha256
    row.source_text = cfg.source_text
    row.loaded_at = row.updated_at = utcnow()
    session.flush()
    session.execute(delete(m.RosterEntry).where(m.RosterEntry.round_id == row.id))
    session.add_all(m.RosterEntry(round_id=row.id, name=p.name, post=p.post, role=p.role,
                                  place=p.place) for p in cfg.roster)
    _check_mailbox(session, row)
    outcome = "created" if created else "updated"
    details = {"round": row.slug, "team": team.name, "sha256": cfg.source_sha256[:16]}
    if actor_label is not None and created:
        db_record(session, "round.load", actor_label=actor_label, actor_id=actor_id,
                  details=details)
    elif actor_label is not None:
        db_record(session, "round.update", actor_label=actor_label, actor_id=actor_id,
                  details=details)
    log.info("round %s %s (%s)", row.slug, outcome, cfg.name)
    return Loaded(row.slug, row.id, outcome)


def _free_slug(session: Session, base: str) -> str:
    taken = set(session.scalars(select(m.Round.slug).where(m.Round.slug.like(f"{base}%"))))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_mailbox(session: Session, row: m.Round) -> None:
    """Two rounds taking items cannot share a mailbox: a mail would not know its round."""
    if not row.mailbox:
        return
    other = session.scalar(select(m.Round.slug).where(
        m.Round.id != row.id, func.lower(m.Round.mailbox) == row.mailbox.lower(),
        m.Round.state.in_(TAKING_ITEMS)))
    if other is not None:
        raise RoundError(f"邮箱 {row.mailbox} 已由轮次 {other} 使用；"
                         "同时受理的轮次须各用各的邮箱。")


# -- lifecycle -------------------------------------------------------------------------------


def set_state(sessions: sessionmaker[Session], slug: str, state: str, *,
              actor_id: int | None = None, actor_label: str = "system",
              reason: str = "") -> m.Round:
    """Move a round to `state` if its lifecycle allows it; audited."""
    with sessions() as session:
        begin_write(session)
        row = session.scalar(select(m.Round).where(m.Round.slug == slug))
        if row is None:
            raise RoundError(f"没有轮次 {slug}。")
        if state not in TRANSITIONS.get(row.state, ()):
            allowed = "、".join(STATE_NAMES[s] for s in TRANSITIONS[row.state]) or "无"
            raise RoundError(f"轮次 {slug} 现为「{STATE_NAMES[row.state]}」，不能改为"
                             f"「{STATE_NAMES.get(state, state)}」（可改为：{allowed}）。")
        if state == "open":
            _check_mailbox(session, row)
        before = row.state
        row.state = state
        row.state_changed_at = utcnow()
        db_record(session, "round.state", actor_id=actor_id, actor_label=actor_label,
                  reason=reason, round=slug, before=before, after=state)
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def round_listing(session: Session) -> list[dict[str, str]]:
    """`intake rounds list`: one dict per round, newest first."""
    rows = session.execute(select(m.Round, m.Team.name).join(m.Team)
                           .order_by(m.Round.id.desc())).all()
    return [{"slug": r.slug, "team": team, "name": r.name,
             "opens": r.opens_at.astimezone(CHINA).isoformat(),
             "closes": r.closes_at.astimezone(CHINA).isoformat(), "state": r.state}
            for r, team in rows]


def state_name(state: str) -> str:
    return STATE_NAMES.get(state, state)

