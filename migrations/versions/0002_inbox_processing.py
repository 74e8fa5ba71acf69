"""inbox processing: claim and retry times on inbox events; entity versions for order tolerance

Revision ID: 0002
Revises: 0004
Create Date: 2026-11-29 19:20:00

"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', addon.extensions.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', addon.extensions.UTCDateTime(timezone=True), nullable=True))

    op.create_table('entity_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('version_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=True),
    sa.Column('updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_versions')),
    sa.UniqueConstraint('workspace_id', 'entity_type', 'entity_id', name=op.f('uq_entity_versions_workspace_id_entity_type_entity_id')),
    )
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_versions_workspace_id'), ['workspace_id'], unique=False)


def downgrade():
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_versions_workspace_id'))

    op.drop_table('entity_versions')
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('claimed_at')
