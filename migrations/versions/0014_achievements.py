"""achievements: badge definitions as data, awards exactly once

Revision ID: achievements
Revises: provider_events
"""
from alembic import op
import sqlalchemy as sa
import domain.db
from sqlalchemy.dialects import postgresql

revision = "achievements"
down_revision = "provider_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "achievement_badges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=1000), nullable=True),
        sa.Column("course_id", sa.String(length=32), nullable=True),
        sa.Column("criteria", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("repeatable", sa.Boolean(), nullable=False),
        sa.Column("revocable", sa.Boolean(), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "achievement_awards",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("badge_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("earned_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["badge_id"], ["achievement_badges.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("badge_id", "user_id", "scope", "occurrence", name="uq_achievement_awards"),
    )
    op.create_index("ix_achievement_awards_user", "achievement_awards", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_achievement_awards_user", table_name="achievement_awards")
    op.drop_table("achievement_awards")
    op.drop_table("achievement_badges")
