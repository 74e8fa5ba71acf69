"""approvals: mirror of approval requests, auto-approval evaluations, decision jobs and items

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-29 19:15:00

"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('approval_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('clockify_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('status_note', sa.Text(), nullable=True),
    sa.Column('status_updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_updated_by', sa.String(length=64), nullable=True),
    sa.Column('status_updated_by_name', sa.String(length=200), nullable=True),
    sa.Column('tracked_seconds', sa.Integer(), nullable=False),
    sa.Column('billable_seconds', sa.Integer(), nullable=False),
    sa.Column('break_seconds', sa.Integer(), nullable=False),
    sa.Column('expense_total', sa.Float(), nullable=False),
    sa.Column('entry_stats', sa.JSON(), nullable=True),
    sa.Column('has_details', sa.Boolean(), nullable=False),
    sa.Column('synced_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_requests')),
    sa.UniqueConstraint('workspace_id', 'clockify_id', name=op.f('uq_approval_requests_workspace_id_clockify_id'))
    )
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.create_index('ix_approval_requests_workspace_period', ['workspace_id', 'period_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_requests_user_id'), ['user_id'], unique=False)

    op.create_table('auto_approval_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('approval_request_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('is_dry_run', sa.Boolean(), nullable=False),
    sa.Column('created_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_approval_evaluations'))
    )
    with op.batch_alter_table('auto_approval_evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auto_approval_evaluations_approval_request_id'), ['approval_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auto_approval_evaluations_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('decision_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('actor_user_id', sa.String(length=64), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_kind', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('user_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('created_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_jobs'))
    )
    with op.batch_alter_table('decision_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_jobs_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('decision_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('subject_name', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('acted_as', sa.String(length=16), nullable=True),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['decision_jobs.id'], name=op.f('fk_decision_items_job_id_decision_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_items'))
    )
    with op.batch_alter_table('decision_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_items_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_items_workspace_id'), ['workspace_id'], unique=False)


def downgrade():
    with op.batch_alter_table('decision_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_items_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_decision_items_job_id'))
    op.drop_table('decision_items')
    with op.batch_alter_table('decision_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_jobs_workspace_id'))
    op.drop_table('decision_jobs')
    with op.batch_alter_table('auto_approval_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auto_approval_evaluations_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_auto_approval_evaluations_approval_request_id'))
    op.drop_table('auto_approval_evaluations')
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_requests_user_id'))
        batch_op.drop_index('ix_approval_requests_workspace_period')
    op.drop_table('approval_requests')
