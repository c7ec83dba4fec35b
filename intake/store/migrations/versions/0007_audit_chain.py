"""audit chain: events hash-chained (seq, prev_hash, hash), a one-row head, append-only triggers

The events already stored are chained first, in id order, with the HMAC key that
`intake.store.db.migrate` is given (the service passes it; a database with events cannot be
upgraded without it). The canonical hash and the trigger statements are imported from
intake.audit.chain on purpose: the chain must hash exactly as the service verifies.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-05 19:50:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

import intake.store.models
from intake.audit import chain

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_chain',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    seq, last = _chain_existing_events()

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])

    head = sa.table('audit_chain', sa.column('id'), sa.column('seq'), sa.column('hash'))
    op.execute(head.insert().values(id=1, seq=seq, hash=last))
    for statement in chain.trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def _chain_existing_events() -> tuple[int, str]:
    """Number and hash the stored events in id order; return the head (seq, hash)."""
    events = sa.table(
        'audit_events', sa.column('id', sa.Integer()),
        sa.column('at', intake.store.models.UTCDateTime()), sa.column('actor_id', sa.Integer()),
        sa.column('actor_label', sa.String()), sa.column('action', sa.String()),
        sa.column('submission_id', sa.Integer()), sa.column('reason', sa.Text()),
        sa.column('detail', sa.JSON()), sa.column('seq', sa.BigInteger()),
        sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(
        events.c.id, events.c.at, events.c.actor_id, events.c.actor_label, events.c.action,
        events.c.submission_id, events.c.reason, events.c.detail).order_by(events.c.id)).all()
    key = context.config.attributes.get('audit_key')
    if rows and not key:
        raise RuntimeError("chaining the stored audit events needs the master key: "
                           "upgrade through `intake` (e.g. `intake serve`), not alembic alone")
    seq, last = 0, chain.GENESIS
    for row in rows:
        seq += 1
        digest = chain.event_hash(
            key, seq=seq, prev_hash=last, at=row.at, actor_id=row.actor_id,
            actor_label=row.actor_label, action=row.action, submission_id=row.submission_id,
            reason=row.reason, detail=row.detail)
        bind.execute(events.update().where(events.c.id == row.id)
                     .values(seq=seq, prev_hash=last, hash=digest))
        last = digest
    return seq, last


def downgrade() -> None:
    """Downgrade schema."""
    for statement in chain.drop_trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')

    op.drop_table('audit_chain')
