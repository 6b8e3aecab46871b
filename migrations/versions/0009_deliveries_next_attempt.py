"""notifications: a deferred recipient's next try (per-recipient backoff)

Revision ID: deliveries_next_attempt
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import domain.db

revision = "deliveries_next_attempt"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.add_column(sa.Column("next_attempt_at", domain.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.drop_column("next_attempt_at")
