"""video family tables: video_assets, video_renditions.

Revision ID: 0002
Revises: 0001
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401
import domain.db  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "video_assets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("lesson_id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("source_key", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("master_key", sa.String(length=500), nullable=True),
        sa.Column("poster_key", sa.String(length=500), nullable=True),
        sa.Column("sprite_key", sa.String(length=500), nullable=True),
        sa.Column("thumbnails_vtt_key", sa.String(length=500), nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ready_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lesson_id"], ["lessons.id"], name=op.f("fk_video_assets_lesson_id_lessons"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_assets")),
    )
    with op.batch_alter_table("video_assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_video_assets_lesson_id"), ["lesson_id"], unique=False)

    op.create_table(
        "video_renditions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("bandwidth", sa.Integer(), nullable=False),
        sa.Column("average_bandwidth", sa.Integer(), nullable=False),
        sa.Column("codecs", sa.String(length=100), nullable=False),
        sa.Column("playlist_key", sa.String(length=500), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["video_assets.id"], name=op.f("fk_video_renditions_asset_id_video_assets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_renditions")),
        sa.UniqueConstraint("asset_id", "name", name=op.f("uq_video_renditions_asset_id")),
    )
    with op.batch_alter_table("video_renditions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_video_renditions_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("video_renditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_renditions_asset_id"))
    op.drop_table("video_renditions")
    with op.batch_alter_table("video_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_assets_lesson_id"))
    op.drop_table("video_assets")
