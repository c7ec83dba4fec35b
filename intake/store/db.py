"""Engines, sessions and schema migrations.

The schema is owned by Alembic from the first table: `migrate()` upgrades any database to the
head revision. SQLite gets foreign keys, WAL and a busy timeout; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import intake.search  # noqa: F401  (its flush hook keeps the search index)
from intake.scope import ScopedSession

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the conventional way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite made safe for a multi-threaded web server."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # hide_parameters: a failed statement must not put report text into exceptions and logs.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         hide_parameters=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener control transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # Overwrite freed space with zeros: a text replaced by its masked form (a letter's OCR
    # text once its signer is known, a backfill) must not linger in the file's free space.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _sqlite_begin(conn) -> None:
    # A transaction that will write takes the write lock at BEGIN: in WAL mode a deferred
    # transaction that read first cannot upgrade once another writer committed.
    immediate = conn.get_execution_options().get("for_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (takes SQLite's lock up front)."""
    session.connection(execution_options={"for_write": True})


def make_sessionmaker(engine: Engine, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions for `engine`; `info` is copied into each Session.info (e.g. the audit key).
    They are `intake.scope.ScopedSession`s, whose `get` keeps to a staff member's scope."""
    return sessionmaker(engine, class_=ScopedSession, expire_on_commit=False, info=info)


def alembic_config(engine: Engine, audit_key: bytes | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["audit_key"] = audit_key  # 0007 chains the events already stored
    return cfg


def migrate(engine: Engine, audit_key: bytes | None = None) -> None:
    """Upgrade the database to the newest schema revision."""
    command.upgrade(alembic_config(engine, audit_key), "head")
