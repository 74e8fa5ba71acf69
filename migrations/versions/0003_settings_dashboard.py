"""settings panel and dashboard: preferences cache and period-close snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:10:00

"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('preference_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('fetched_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preference_cache')),
    sa.UniqueConstraint('workspace_id', 'scope', name=op.f('uq_preference_cache_workspace_id_scope'))
    )
    with op.batch_alter_table('preference_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preference_cache_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('dashboard_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('period_kind', sa.String(length=16), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('refreshed_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stale_since', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_snapshots')),
    sa.UniqueConstraint('workspace_id', 'period_start', name=op.f('uq_dashboard_snapshots_workspace_id_period_start'))
    )
    with op.batch_alter_table('dashboard_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_snapshots_workspace_id'), ['workspace_id'], unique=False)


def downgrade():
    with op.batch_alter_table('dashboard_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_snapshots_workspace_id'))
    op.drop_table('dashboard_snapshots')
    with op.batch_alter_table('preference_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preference_cache_workspace_id'))
    op.drop_table('preference_cache')
