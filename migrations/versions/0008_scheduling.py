"""scheduling: plan-against-actual snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:40:00

Reserved in order so the capabilities built side by side keep one chain of revisions; each fills its own.
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
