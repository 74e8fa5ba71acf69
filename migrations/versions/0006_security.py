"""security: lifecycle tokens used once, installation tombstones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:40:00

Neither table has a workspace_id column: DELETED empties every table that has one, and these outlive it.
"""

import sqlalchemy as sa
from alembic import op

from addon.extensions import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "used_lifecycle_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_lifecycle_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_used_lifecycle_tokens_token_digest")),
    )
    with op.batch_alter_table("used_lifecycle_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_lifecycle_tokens_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "removed_installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("addon_id", sa.String(length=64), nullable=False),
        sa.Column("removed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removed_installations")),
        sa.UniqueConstraint("addon_id", name=op.f("uq_removed_installations_addon_id")),
    )


def downgrade():
    op.drop_table("removed_installations")
    with op.batch_alter_table("used_lifecycle_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_lifecycle_tokens_expires_at"))
    op.drop_table("used_lifecycle_tokens")
