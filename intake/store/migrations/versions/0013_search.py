"""full-text search: search_texts (normalised bodies and their bigrams), filled from every item

PostgreSQL indexes the bigrams (text[]) with GIN; SQLite gets an FTS5 table `search_fts` over
search_texts as external content, kept in step by triggers (intake.search explains why).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = (
    # The ascii tokenizer: every non-ASCII character is part of a token, so a bigram of
    # characters newer than unicode61's tables (CJK extensions E–G) stays one token.
    "CREATE VIRTUAL TABLE search_fts USING fts5(grams, content='search_texts', "
    "content_rowid='submission_id', tokenize='ascii')",
    "CREATE TRIGGER search_texts_ai AFTER INSERT ON search_texts BEGIN "
    "INSERT INTO search_fts(rowid, grams) VALUES (new.submission_id, new.grams); END",
    "CREATE TRIGGER search_texts_ad AFTER DELETE ON search_texts BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, grams) "
    "VALUES ('delete', old.submission_id, old.grams); END",
    "CREATE TRIGGER search_texts_au AFTER UPDATE ON search_texts BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, grams) "
    "VALUES ('delete', old.submission_id, old.grams); "
    "INSERT INTO search_fts(rowid, grams) VALUES (new.submission_id, new.grams); END",
)


def upgrade() -> None:
    from intake.search import db_reindex

    op.create_table('search_texts',
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('grams', sa.Text().with_variant(postgresql.ARRAY(sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_search_texts_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_search_texts'))
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_search_texts_grams ON search_texts USING gin (grams)")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    items = sa.table("submissions", sa.column("id"))
    last = 0
    while True:
        ids = list(bind.execute(sa.select(items.c.id).where(items.c.id > last)
                                .order_by(items.c.id).limit(2000)).scalars())
        if not ids:
            break
        db_reindex(bind, ids)
        last = ids[-1]


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_texts_ai", "search_texts_ad", "search_texts_au"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE search_fts")
    else:
        op.execute("DROP INDEX ix_search_texts_grams")
    op.drop_table('search_texts')
