"""notifications: events email providers report later (SendGrid Event Webhook), once per event id

Revision ID: provider_events
Revises: certificate_status
"""
from alembic import op
import sqlalchemy as sa
import domain.db

revision = "provider_events"
down_revision = "certificate_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_provider_events",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("delivery_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id"),
    )


def downgrade() -> None:
    op.drop_table("notification_provider_events")
