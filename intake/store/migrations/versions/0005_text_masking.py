"""text masking: sealed originals of masked texts and of attachment and scan file names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 19:50:00

Texts are stored masked; where masking changed something the original is kept sealed beside
it. Attachment and scan file names are stored as `附件N.ext` with the uploaded name sealed.
Rows stored before this revision are masked by `intake protect backfill` (a migration cannot
reach the key).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("submissions", "original_sealed"), ("messages", "original_sealed"),
           ("attachments", "name_sealed"), ("scan_files", "name_sealed"))


def upgrade() -> None:
    """Upgrade schema."""
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
