"""teams and rounds as tenants: teams, memberships, round slug/team/state, personal tokens

Existing data becomes one team per distinct `rounds.team` (every account a member of each),
and versions of one round (same name and team, stored once per distinct file before) become
one round: their items, slots and scan batches move to the newest version. The round that
was active is open, the others closed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:00:00

"""
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from pypinyin import lazy_pinyin

from intake.store.models import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('duty_officer', 'triager', 'team_leader', 'admin')"
NEW_ROLES = "role IN ('duty_officer', 'triager', 'team_leader', 'office', 'auditor', 'admin')"
STATES = "state IN ('open', 'closed', 'handed_over', 'archived')"


def _slug(text: str, year: int, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", "".join(lazy_pinyin(text)).lower()).strip("-")[:28]
    base = f"{base or 'round'}-{year}"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def upgrade() -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('team_members',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_team_members_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'team_id', name=op.f('pk_team_members'))
    )
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_members_team_id'), ['team_id'], unique=False)
    op.create_table('staff_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_lookup', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_tokens_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_tokens')),
    sa.UniqueConstraint('token_lookup', name=op.f('uq_staff_tokens_token_lookup'))
    )
    with op.batch_alter_table('staff_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_tokens_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slug', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False,
                                      server_default='open'))
        batch_op.add_column(sa.Column('state_changed_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('purged_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=200), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))

    _move_data(now)

    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_rounds_source_sha256'), type_='unique')
        batch_op.alter_column('slug', existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column('team_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('state', existing_type=sa.String(length=16), server_default=None)
        batch_op.alter_column('state_changed_at', existing_type=UTCDateTime(), nullable=False)
        batch_op.alter_column('updated_at', existing_type=UTCDateTime(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_rounds_slug'), ['slug'])
        batch_op.create_index(batch_op.f('ix_rounds_team_id'), ['team_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rounds_team_id_teams'), 'teams',
                                    ['team_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_rounds_state'), STATES)
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.alter_column('via', existing_type=sa.String(length=200), server_default=None)
        batch_op.drop_index(batch_op.f('ix_submissions_round_id'))
        batch_op.create_index(batch_op.f('ix_submissions_round_queue'),
                              ['round_id', 'received_at', 'id'], unique=False)
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_devices_team_id_teams'), 'teams',
                                    ['team_id'], ['id'])
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_users_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_staff_users_role'), NEW_ROLES)


def _move_data(now: datetime) -> None:
    bind = op.get_bind()
    rounds = bind.execute(sa.text(
        "SELECT id, name, team, unit, active, opens_at FROM rounds ORDER BY id")).all()
    # One round per (name, team): the active version, else the newest, keeps the items.
    keep: dict[tuple[str, str], tuple] = {}
    for r in rounds:
        key = (r.name, r.team or "")
        if key not in keep or r.active or not keep[key].active:
            keep[key] = r
    for r in rounds:
        target = keep[(r.name, r.team or "")]
        if target.id == r.id:
            continue
        for table in ("submissions", "appointment_slots", "scan_batches"):
            bind.execute(sa.text(f"UPDATE {table} SET round_id = :t WHERE round_id = :r"),  # noqa: S608 - fixed names
                         {"t": target.id, "r": r.id})
        bind.execute(sa.text("DELETE FROM roster_entries WHERE round_id = :r"), {"r": r.id})
        bind.execute(sa.text("DELETE FROM rounds WHERE id = :r"), {"r": r.id})

    teams: dict[str, int] = {}
    taken: set[str] = set()
    for r in sorted(keep.values(), key=lambda r: r.id):
        team = (r.team or "").strip() or "巡察组"
        if team not in teams:
            teams[team] = bind.execute(sa.text(
                "INSERT INTO teams (name, created_at) VALUES (:n, :at) RETURNING id"),
                {"n": team, "at": now}).scalar_one()
        unit = json.loads(r.unit) if isinstance(r.unit, str) else (r.unit or {})
        places = unit.get("places") or []
        opens = r.opens_at if isinstance(r.opens_at, datetime) else datetime.fromisoformat(
            str(r.opens_at))
        slug = _slug(places[0] if places else (unit.get("short") or r.name), opens.year, taken)
        bind.execute(sa.text(
            "UPDATE rounds SET slug = :s, team_id = :t, state = :st, state_changed_at = :at,"
            " updated_at = :at WHERE id = :id"),
            {"s": slug, "t": teams[team], "st": "open" if r.active else "closed", "at": now,
             "id": r.id})
    users = bind.execute(sa.text("SELECT id FROM staff_users")).scalars().all()
    for team_id in teams.values():
        for user_id in users:
            bind.execute(sa.text("INSERT INTO team_members (user_id, team_id) VALUES (:u, :t)"),
                         {"u": user_id, "t": team_id})
    if len(teams) == 1:
        bind.execute(sa.text("UPDATE devices SET team_id = :t"), {"t": next(iter(teams.values()))})


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_users_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_staff_users_role'), OLD_ROLES)
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_devices_team_id_teams'), type_='foreignkey')
        batch_op.drop_column('team_id')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_round_queue'))
        batch_op.create_index(batch_op.f('ix_submissions_round_id'), ['round_id'], unique=False)
        batch_op.drop_column('via')
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rounds_state'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_rounds_team_id_teams'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rounds_team_id'))
        batch_op.drop_constraint(batch_op.f('uq_rounds_slug'), type_='unique')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('purged_at')
        batch_op.drop_column('state_changed_at')
        batch_op.drop_column('state')
        batch_op.drop_column('team_id')
        batch_op.drop_column('slug')
        batch_op.create_unique_constraint(batch_op.f('uq_rounds_source_sha256'),
                                          ['source_sha256'])
    op.drop_table('staff_tokens')
    op.drop_table('team_members')
    op.drop_table('teams')
