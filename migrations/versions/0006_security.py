"""security: lifecycle tokens used once, installation tombstones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:40:00

Reserved in order so the capabilities built side by side keep one chain of revisions; each fills its own.
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
