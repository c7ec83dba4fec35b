"""the lead's life after triage: leads, transfers and replies, steps, notices, counters

Submissions gain how they were closed (disposal, closed_at), the extension of the close limit
and the item they repeat. Nothing existing changes meaning: items stay at their status.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:14:44

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import intake.store.models

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPOSALS = ("disposal IS NULL OR disposal IN ('talk_inquiry', 'preliminary_check', 'shelved', "
             "'concluded', 'handed_to_commission', 'transferred_done', 'no_action', 'repeat')")


def upgrade() -> None:
    op.create_table('round_counters',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_round_counters_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'kind', name=op.f('pk_round_counters'))
    )
    op.create_table('item_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('at', intake.store.models.UTCDateTime(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('accepted', 'keeper', 'transferred', 'dispatched', 'reply', 'reminded', 'reopened', 'repeat', 'repeat_undone', 'extended', 'closed', 'notice')", name=op.f('ck_item_steps_kind')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_item_steps_staff_id_staff_users')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_item_steps_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_steps'))
    )
    with op.batch_alter_table('item_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_steps_submission_id'), ['submission_id'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=False),
    sa.Column('keeper_id', sa.Integer(), nullable=False),
    sa.Column('accepted_by', sa.Integer(), nullable=False),
    sa.Column('accepted_at', intake.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['accepted_by'], ['staff_users.id'], name=op.f('fk_leads_accepted_by_staff_users')),
    sa.ForeignKeyConstraint(['keeper_id'], ['staff_users.id'], name=op.f('fk_leads_keeper_id_staff_users')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_leads_round_id_rounds')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_leads_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('round_id', 'seq', name=op.f('uq_leads_round_id')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_leads_submission_id'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_keeper_id'), ['keeper_id'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('department_name', sa.String(length=200), nullable=False),
    sa.Column('matter', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('dispatch_method', sa.String(length=16), nullable=False),
    sa.Column('dispatched_at', intake.store.models.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('accept_due', sa.Date(), nullable=False),
    sa.Column('reply_due', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('accepted_at', intake.store.models.UTCDateTime(), nullable=True),
    sa.Column('answered_at', intake.store.models.UTCDateTime(), nullable=True),
    sa.Column('returned_at', intake.store.models.UTCDateTime(), nullable=True),
    sa.Column('reminded_at', intake.store.models.UTCDateTime(), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.CheckConstraint("dispatch_method IN ('exchange', 'post', 'system', 'hand')", name=op.f('ck_transfers_dispatch_method')),
    sa.CheckConstraint("status IN ('sent', 'accepted', 'answered', 'returned')", name=op.f('ck_transfers_status')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_users.id'], name=op.f('fk_transfers_created_by_staff_users')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_transfers_round_id_rounds')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_transfers_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
    sa.UniqueConstraint('round_id', 'seq', name=op.f('uq_transfers_round_id'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_open', ['status', 'accept_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_submission_id'), ['submission_id'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('created_at', intake.store.models.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('done_at', intake.store.models.UTCDateTime(), nullable=True),
    sa.Column('done_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("delivery IN ('status_page', 'email', 'letter', 'callback')", name=op.f('ck_notices_delivery')),
    sa.CheckConstraint("kind IN ('accepted', 'transferred', 'result')", name=op.f('ck_notices_kind')),
    sa.CheckConstraint("state IN ('pending', 'done', 'failed')", name=op.f('ck_notices_state')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_users.id'], name=op.f('fk_notices_created_by_staff_users')),
    sa.ForeignKeyConstraint(['done_by'], ['staff_users.id'], name=op.f('fk_notices_done_by_staff_users')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_notices_message_id_messages')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_notices_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_notices_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_pending', ['delivery', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_notices_submission_id'), ['submission_id'], unique=False)

    op.create_table('transfer_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', intake.store.models.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', intake.store.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('accepted', 'result', 'returned')", name=op.f('ck_transfer_replies_kind')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff_users.id'], name=op.f('fk_transfer_replies_recorded_by_staff_users')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_transfer_replies_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_replies'))
    )
    with op.batch_alter_table('transfer_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_replies_transfer_id'), ['transfer_id'], unique=False)

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disposal', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('closed_at', intake.store.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('close_extension_days', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('repeat_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_submissions_repeat_of_id'), ['repeat_of_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_submissions_repeat_of_id_submissions'), 'submissions', ['repeat_of_id'], ['id'])
        batch_op.create_check_constraint('disposal', DISPOSALS)



def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_submissions_disposal'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_submissions_repeat_of_id_submissions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_submissions_repeat_of_id'))
        batch_op.drop_column('repeat_of_id')
        batch_op.drop_column('close_extension_days')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('disposal')

    with op.batch_alter_table('transfer_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_replies_transfer_id'))

    op.drop_table('transfer_replies')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_submission_id'))
        batch_op.drop_index('ix_notices_pending')

    op.drop_table('notices')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_submission_id'))
        batch_op.drop_index('ix_transfers_open')

    op.drop_table('transfers')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_keeper_id'))

    op.drop_table('leads')
    with op.batch_alter_table('item_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_steps_submission_id'))

    op.drop_table('item_steps')
    op.drop_table('round_counters')
