"""video: versioned outputs (video_versions; the asset's served version and its DASH manifest)

Revision ID: video_versions
Revises: deliveries_next_attempt
"""
from alembic import op
import sqlalchemy as sa
import domain.db

revision = "video_versions"
down_revision = "deliveries_next_attempt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["video_assets.id"], name=op.f("fk_video_versions_asset_id_video_assets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_versions")),
        sa.UniqueConstraint("asset_id", "number", name=op.f("uq_video_versions_asset_id")),
    )
    with op.batch_alter_table("video_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_video_versions_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_video_versions_status"), ["status"], unique=False)
    with op.batch_alter_table("video_assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("versions_started", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("mpd_key", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("video_assets", schema=None) as batch_op:
        batch_op.drop_column("mpd_key")
        batch_op.drop_column("versions_started")
        batch_op.drop_column("version")
    with op.batch_alter_table("video_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_versions_status"))
        batch_op.drop_index(batch_op.f("ix_video_versions_asset_id"))
    op.drop_table("video_versions")
