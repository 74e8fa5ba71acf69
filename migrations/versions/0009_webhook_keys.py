"""webhook registration: one subscription per workspace and event

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:40:00

The unique key of webhook_subscriptions was (workspace, event, source); manifest and API webhooks never
share an event, so one row per workspace and event is the real rule, and the database now holds it.
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_subscriptions_workspace_id_event_type_source", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_webhook_subscriptions_workspace_id_event_type"), ["workspace_id", "event_type"]
        )


def downgrade():
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_subscriptions_workspace_id_event_type", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_webhook_subscriptions_workspace_id_event_type_source"), ["workspace_id", "event_type", "source"]
        )
