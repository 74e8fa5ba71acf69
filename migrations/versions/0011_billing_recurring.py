"""billing: recurring invoice runs, one per workspace, client and month

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:40:00
"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recurring_invoice_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('template_invoice_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('known_invoice_ids', sa.JSON(), nullable=True),
    sa.Column('sequence', sa.BigInteger(), nullable=True),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('clockify_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_invoice_runs')),
    sa.UniqueConstraint('workspace_id', 'client_id', 'month', name=op.f('uq_recurring_invoice_runs_workspace_id_client_id_month'))
    )
    with op.batch_alter_table('recurring_invoice_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_invoice_runs_clockify_invoice_id'), ['clockify_invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_invoice_runs_workspace_id'), ['workspace_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recurring_invoice_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_runs_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_invoice_runs_clockify_invoice_id'))

    op.drop_table('recurring_invoice_runs')
