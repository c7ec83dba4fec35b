"""public case visits: held on the server, the cookie carries a random token only

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('case_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_case_visits_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_visits')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_case_visits_token_hash'))
    )
    with op.batch_alter_table('case_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_visits_submission_id'), ['submission_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('case_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_visits_submission_id'))

    op.drop_table('case_visits')
