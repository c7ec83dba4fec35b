"""The desk: everything a channel needs to take in items, opened once from settings.

`open_desk()` prepares the data folder, the keys, the database schema, the rounds, the
routing rules and the classifier. Edges (web, SMTP, command line) hold one Desk and pass it to
the core's functions; there are no module-level singletons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.atrest import make_private
from intake.attachments import AttachmentStore
from intake.audit.chain import KEY_INFO
from intake.classify import Classifier
from intake.classify.models_store import ActiveModel
from intake.documents import Receiver, load_receivers, receivers_file
from intake.protect import Keyring
from intake.round import Round
from intake.rounds import RoundEntry, RoundRegistry, load_files
from intake.rules import RuleSet, load_rules
from intake.settings import Settings
from intake.store.db import make_engine, make_sessionmaker, migrate

log = logging.getLogger(__name__)


@dataclass
class Desk:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    files: AttachmentStore
    rounds: RoundRegistry
    rules: RuleSet
    # The county's receiving bodies for transfers (intake.documents; generic names if none).
    receivers: dict[str, Receiver] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()

    # The round an item goes to when its channel names none (the one open round). Code that
    # serves several rounds asks `rounds` instead; these remain for the single-round paths.
    def default_round(self) -> RoundEntry:
        entry = self.rounds.default() or self.rounds.newest()
        if entry is None:
            raise RuntimeError("no round is loaded")
        return entry

    @property
    def round(self) -> Round:
        return self.default_round().cfg

    @property
    def round_id(self) -> int:
        return self.default_round().id

    @property
    def classifier(self) -> Classifier:
        return self.default_round().classifier


def open_desk(settings: Settings, *, migrate_schema: bool = True,
              load_round_files: bool = True) -> Desk:
    """Open (and on first use create) the data folder and database, and load the round files
    of the settings (each created, updated or left as it is) unless told not to."""
    data_dir = settings.data_dir
    make_private(data_dir)  # umask 077 from here on: whatever is written is 0600
    keyring = Keyring.from_data_dir(data_dir, settings.master_key)
    engine = make_engine(settings.effective_database_url)
    if migrate_schema:
        migrate(engine, keyring.audit_key)
    sessions = make_sessionmaker(engine, {KEY_INFO: keyring.audit_key})
    if load_round_files:
        load_files(sessions, settings.round_files)
    rules = load_rules(Path(settings.rules_dir))
    receivers = load_receivers(receivers_file(settings.departments_file),
                               Path(settings.rules_dir))
    registry = RoundRegistry(sessions, rules, ActiveModel(data_dir))
    registry.refresh(force=True)
    return Desk(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keyring=keyring,
        files=AttachmentStore(data_dir / "attachments", keyring),
        rounds=registry,
        rules=rules,
        receivers=receivers,
    )
