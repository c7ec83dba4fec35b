"""Alembic environment: runs against the engine handed over by intake.store.db."""

from alembic import context
from sqlalchemy import create_engine

from intake.store.db import normalise_url
from intake.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # alembic's own command line: `alembic -x url=... revision --autogenerate`
    engine = create_engine(normalise_url(context.get_x_argument(as_dictionary=True)["url"]),
                           hide_parameters=True)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
