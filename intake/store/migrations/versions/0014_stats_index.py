"""the statistics' index: every column the counts group or filter by, in their order

Only an index (intake.stats scans it alone, in order, for the counts by round, status,
channel, scope, subject group, disposal and reporter kind, the period and the overdue test).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:00:00

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["round_id", "status", "channel", "in_scope", "subject_role", "disposal", "anonymous",
           "received_at", "repeat_of_id", "close_extension_days"]


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_stats', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_stats')
