"""The desk: everything a channel needs to take in items, opened once from settings.

`open_desk()` prepares the data folder, the keys, the database schema, the active round, the
routing rules and the classifier. Edges (web, SMTP, command line) hold one Desk and pass it to
the core's functions; there are no module-level singletons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.atrest import make_private
from intake.attachments import AttachmentStore
from intake.audit.chain import KEY_INFO
from intake.classify import Classifier
from intake.classify.models_store import ActiveModel
from intake.protect import Keyring
from intake.round import Round, load_round
from intake.rules import RuleSet, load_rules
from intake.settings import Settings
from intake.store import models as m
from intake.store.db import begin_write, make_engine, make_sessionmaker, migrate

log = logging.getLogger(__name__)


@dataclass
class Desk:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    files: AttachmentStore
    round: Round
    round_id: int
    rules: RuleSet
    classifier: Classifier

    def close(self) -> None:
        self.engine.dispose()


def open_desk(settings: Settings, *, migrate_schema: bool = True) -> Desk:
    """Open (and on first use create) the data folder, database and active round."""
    data_dir = settings.data_dir
    make_private(data_dir)  # umask 077 from here on: whatever is written is 0600
    keyring = Keyring.from_data_dir(data_dir, settings.master_key)
    engine = make_engine(settings.effective_database_url)
    if migrate_schema:
        migrate(engine, keyring.audit_key)
    sessions = make_sessionmaker(engine, {KEY_INFO: keyring.audit_key})
    round_cfg = load_round(settings.round_file)
    with sessions() as session:
        round_id = db_activate_round(session, round_cfg)
        session.commit()
    rules = load_rules(Path(settings.rules_dir))
    return Desk(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keyring=keyring,
        files=AttachmentStore(data_dir / "attachments", keyring),
        round=round_cfg,
        round_id=round_id,
        rules=rules,
        classifier=Classifier(round_cfg, rules, ActiveModel(data_dir)),
    )


def db_activate_round(session: Session, cfg: Round) -> int:
    """Store the round file (once per distinct content) and make it the active round."""
    begin_write(session)
    row = session.scalar(select(m.Round).where(m.Round.source_sha256 == cfg.source_sha256))
    if row is None:
        row = m.Round(
            name=cfg.name,
            team=cfg.team,
            unit_name=cfg.unit.name,
            unit_level=cfg.unit.level,
            unit={"short": cfg.unit.short, "places": list(cfg.unit.places),
                  "county": cfg.unit.county, "subordinates": list(cfg.unit.subordinates)},
            opens_at=cfg.opens,
            closes_at=cfg.closes,
            hotline_number=cfg.hotline_number,
            hotline_hours=[f"{h.start:%H:%M}-{h.end:%H:%M}" for h in cfg.hotline_hours],
            mailbox=cfg.mailbox,
            postal_box=cfg.postal_box,
            suggestion_boxes=list(cfg.suggestion_boxes),
            scope_roles=list(cfg.scope_roles),
            source_sha256=cfg.source_sha256,
            source_text=cfg.source_text,
            roster=[
                m.RosterEntry(name=p.name, post=p.post, role=p.role, place=p.place)
                for p in cfg.roster
            ],
        )
        session.add(row)
        session.flush()
        log.info("loaded round %s (%s)", row.id, cfg.name)
    session.execute(update(m.Round).where(m.Round.id != row.id).values(active=False))
    row.active = True
    return row.id
