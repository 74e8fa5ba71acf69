"""billing: invoice numbers, invoice jobs and their lines

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:40:00

Reserved in order so the capabilities built side by side keep one chain of revisions; each fills its own.
"""
from alembic import op
import sqlalchemy as sa

import addon.extensions


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invoice_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=True),
    sa.Column('active_client_id', sa.String(length=64), nullable=True),
    sa.Column('actor_user_id', sa.String(length=64), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=True),
    sa.Column('entries_digest', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=True),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('clockify_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('range_start', sa.Date(), nullable=False),
    sa.Column('range_end', sa.Date(), nullable=False),
    sa.Column('tax_bp', sa.Integer(), nullable=False),
    sa.Column('tax2_bp', sa.Integer(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('grouping', sa.String(length=16), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount_amount', sa.BigInteger(), nullable=False),
    sa.Column('tax_amount', sa.BigInteger(), nullable=False),
    sa.Column('tax2_amount', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('user_token_ciphertext', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_jobs')),
    sa.UniqueConstraint('workspace_id', 'active_client_id', name=op.f('uq_invoice_jobs_workspace_id_active_client_id'))
    )
    with op.batch_alter_table('invoice_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_jobs_clockify_invoice_id'), ['clockify_invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_jobs_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('invoice_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_numbers')),
    sa.UniqueConstraint('workspace_id', 'sequence', name=op.f('uq_invoice_numbers_workspace_id_sequence'))
    )
    op.create_table('invoice_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('clockify_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('client_name', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('synced_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_records')),
    sa.UniqueConstraint('workspace_id', 'clockify_id', name=op.f('uq_invoice_records_workspace_id_clockify_id'))
    )
    with op.batch_alter_table('invoice_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_records_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('invoice_sequences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('next_value', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', addon.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_sequences')),
    sa.UniqueConstraint('workspace_id', name=op.f('uq_invoice_sequences_workspace_id'))
    )
    op.create_table('invoice_job_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('finished_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['invoice_jobs.id'], name=op.f('fk_invoice_job_steps_job_id_invoice_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_job_steps')),
    sa.UniqueConstraint('job_id', 'name', name=op.f('uq_invoice_job_steps_job_id_name'))
    )
    with op.batch_alter_table('invoice_job_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_job_steps_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('time_entry_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('project_name', sa.String(length=200), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('started_at', addon.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('rate', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['invoice_jobs.id'], name=op.f('fk_invoice_lines_job_id_invoice_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
    sa.UniqueConstraint('workspace_id', 'time_entry_id', name=op.f('uq_invoice_lines_workspace_id_time_entry_id'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_job_id'), ['job_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_job_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('invoice_job_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_job_steps_workspace_id'))

    op.drop_table('invoice_job_steps')
    op.drop_table('invoice_sequences')
    with op.batch_alter_table('invoice_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_records_workspace_id'))

    op.drop_table('invoice_records')
    op.drop_table('invoice_numbers')
    with op.batch_alter_table('invoice_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_jobs_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_jobs_clockify_invoice_id'))

    op.drop_table('invoice_jobs')
