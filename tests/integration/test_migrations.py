"""The schema is Alembic's: the head revision matches the models, and it upgrades/downgrades."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from intake.desk import Desk
from intake.store.db import MIGRATIONS, alembic_config
from intake.store.models import Base, include_object

# The schema outside the models (search_fts, the GIN index) is the migrations' alone.
OPTIONS = {"compare_type": True, "include_object": include_object}


def test_migration_head_matches_the_models(desk: Desk) -> None:
    with desk.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=OPTIONS)
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert context.get_current_revision() == head


def test_downgrade_and_upgrade_again(desk: Desk) -> None:
    cfg = alembic_config(desk.engine)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    with desk.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=OPTIONS)
        assert compare_metadata(context, Base.metadata) == []
