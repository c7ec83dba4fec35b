"""trusted API clients: their own tokens (digest only) and limits

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-05 19:55:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_lookup', sa.String(length=64), nullable=False),
    sa.Column('rate_limit', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    sa.UniqueConstraint('token_lookup', name=op.f('uq_api_clients_token_lookup'))
    )
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.create_index('ix_api_clients_active_name', ['name'], unique=True,
                              sqlite_where=sa.text('revoked_at IS NULL'),
                              postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.drop_index('ix_api_clients_active_name',
                            sqlite_where=sa.text('revoked_at IS NULL'),
                            postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('api_clients')
