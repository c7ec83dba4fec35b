"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when TEST_DATABASE_URL
is set), a real data folder, the real app; limits in Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from handlers.web import create_app
from intake.desk import Desk, open_desk
from intake.settings import Settings
from intake.store.db import make_engine, migrate, normalise_url
from intake.store.models import Base

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy, or a fresh PostgreSQL database."""
    if PG_URL:
        name = f"intake_test_{uuid.uuid4().hex[:8]}"
        admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = re.sub(r"/[^/]*$", f"/{name}", normalise_url(PG_URL))
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "intake.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()
        yield str(path)


@pytest.fixture
def settings(tmp_path: Path, database_template: str) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if PG_URL:
        engine = make_engine(database_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        url = database_template
    else:
        shutil.copy(database_template, data_dir / "intake.db")
        url = ""
    if REDIS_URL:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    return Settings(
        data_dir=data_dir,
        database_url=url,
        ratelimit_storage_uri=REDIS_URL or "memory://",
        max_attachment_bytes=2 * 1024 * 1024,
        max_attachments=4,
    )


@pytest.fixture
def desk(settings: Settings) -> Iterator[Desk]:
    d = open_desk(settings)
    yield d
    d.close()


@pytest.fixture
def app(desk: Desk) -> Flask:
    return create_app(desk.settings, desk=desk)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
