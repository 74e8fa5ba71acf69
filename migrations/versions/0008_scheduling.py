"""scheduling: publish and roll-forward jobs with their items, and each workspace's schedule version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:40:00

"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('schedule_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_user_id', sa.String(length=64), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('user_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('created_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_jobs'))
    )
    with op.batch_alter_table('schedule_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_jobs_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('schedule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_versions')),
    sa.UniqueConstraint('workspace_id', name=op.f('uq_schedule_versions_workspace_id'))
    )
    op.create_table('schedule_job_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('project_name', sa.String(length=200), nullable=True),
    sa.Column('target_start', sa.Date(), nullable=False),
    sa.Column('target_end', sa.Date(), nullable=False),
    sa.Column('seconds_per_day', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('copy_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['schedule_jobs.id'], name=op.f('fk_schedule_job_items_job_id_schedule_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_job_items'))
    )
    with op.batch_alter_table('schedule_job_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_job_items_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schedule_job_items_workspace_id'), ['workspace_id'], unique=False)



def downgrade():
    with op.batch_alter_table('schedule_job_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_job_items_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_schedule_job_items_job_id'))

    op.drop_table('schedule_job_items')
    op.drop_table('schedule_versions')
    with op.batch_alter_table('schedule_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_jobs_workspace_id'))

    op.drop_table('schedule_jobs')
