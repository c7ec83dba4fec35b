"""Alembic environment: runs against the engine handed over by intake.store.db."""

from alembic import context
from sqlalchemy import create_engine

from intake.store.db import normalise_url
from intake.store.models import Base, include_object

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # alembic's own command line: `alembic -x url=... revision --autogenerate`
    engine = create_engine(normalise_url(context.get_x_argument(as_dictionary=True)["url"]),
                           hide_parameters=True)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A table rebuilt in batch mode is dropped and re-created; with foreign keys on, the
        # drop would cascade to (or be refused by) the rows that point at it. SQLite's own
        # recipe: keys off outside the transaction, checked after, on again.
        # On the driver's connection: SQLAlchemy's would open a transaction first (the
        # engine's "begin" listener), where SQLite ignores this pragma.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows pointing nowhere: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
