"""webhook token digest: intake finds a delivery's subscription in one indexed query

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 20:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_webhook_subscriptions_token_digest"), ["token_digest"], unique=False)

    # Backfill existing rows: the digest is keyed from SECRET_KEY, like the encryption of the token itself.
    from flask import current_app

    from addon.crypto import DecryptionError, decrypt, digest

    secret = current_app.config["SECRET_KEY"]
    conn = op.get_bind()
    table = sa.table("webhook_subscriptions", sa.column("id"), sa.column("token_ciphertext"), sa.column("token_digest"))
    for row_id, ciphertext in conn.execute(sa.select(table.c.id, table.c.token_ciphertext)).all():
        try:
            token = decrypt(ciphertext, secret)
        except DecryptionError:
            continue  # unreadable with this SECRET_KEY: refused until a reinstall or reconciliation replaces it
        conn.execute(table.update().where(table.c.id == row_id).values(token_digest=digest(token, secret)))


def downgrade():
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_subscriptions_token_digest"))
        batch_op.drop_column("token_digest")
