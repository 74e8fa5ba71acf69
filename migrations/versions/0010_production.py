"""production: operator records

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:40:00

Reserved in order so the capabilities built side by side keep one chain of revisions; each fills its own.
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
