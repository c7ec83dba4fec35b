"""public form keys: a report form sent twice stores one item

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:15:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('public_form_keys',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_public_form_keys'))
    )
    with op.batch_alter_table('public_form_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_form_keys_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('public_form_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_form_keys_created_at'))
    op.drop_table('public_form_keys')
