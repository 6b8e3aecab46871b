"""tutor family tables: sessions, messages, passages (retrieval index), course index state.

Revision ID: 0007
Revises: 0006
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401
import domain.db  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tutor_course_index",
        sa.Column("course_id", sa.String(length=32), nullable=False),
        sa.Column("passage_count", sa.Integer(), nullable=False),
        sa.Column("lesson_count", sa.Integer(), nullable=False),
        sa.Column("indexed_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_tutor_course_index_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_tutor_course_index")),
    )
    op.create_table(
        "tutor_passages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.String(length=32), nullable=False),
        sa.Column("lesson_id", sa.String(length=32), nullable=False),
        sa.Column("lesson_title", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_tutor_passages_course_id_courses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lesson_id"], ["lessons.id"], name=op.f("fk_tutor_passages_lesson_id_lessons"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutor_passages")),
        sa.UniqueConstraint("lesson_id", "position", name=op.f("uq_tutor_passages_lesson_id")),
    )
    op.create_index(op.f("ix_tutor_passages_course_id"), "tutor_passages", ["course_id"], unique=False)
    op.create_table(
        "tutor_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.String(length=32), nullable=False),
        sa.Column("lesson_id", sa.String(length=32), nullable=True),
        sa.Column("exercise_id", sa.String(length=32), nullable=True),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_tutor_sessions_course_id_courses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lesson_id"], ["lessons.id"], name=op.f("fk_tutor_sessions_lesson_id_lessons"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tutor_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutor_sessions")),
    )
    op.create_index(op.f("ix_tutor_sessions_course_id"), "tutor_sessions", ["course_id"], unique=False)
    op.create_index(op.f("ix_tutor_sessions_user_id"), "tutor_sessions", ["user_id"], unique=False)
    op.create_table(
        "tutor_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("citations", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["tutor_sessions.id"],
                                name=op.f("fk_tutor_messages_session_id_tutor_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutor_messages")),
    )
    op.create_index("ix_tutor_messages_session_created", "tutor_messages", ["session_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tutor_messages_session_created", table_name="tutor_messages")
    op.drop_table("tutor_messages")
    op.drop_index(op.f("ix_tutor_sessions_user_id"), table_name="tutor_sessions")
    op.drop_index(op.f("ix_tutor_sessions_course_id"), table_name="tutor_sessions")
    op.drop_table("tutor_sessions")
    op.drop_index(op.f("ix_tutor_passages_course_id"), table_name="tutor_passages")
    op.drop_table("tutor_passages")
    op.drop_table("tutor_course_index")
