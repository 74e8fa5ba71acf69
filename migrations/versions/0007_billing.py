"""billing: invoice numbers, invoice jobs and their lines

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:40:00

Reserved in order so the capabilities built side by side keep one chain of revisions; each fills its own.
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
