"""analytics: learning events, rollup tables, watermark, daily digest record

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql  # noqa: F401
import domain.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_course_day',
    sa.Column('course_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('enrollments', sa.Integer(), nullable=False),
    sa.Column('active_learners', sa.Integer(), nullable=False),
    sa.Column('lesson_completions', sa.Integer(), nullable=False),
    sa.Column('completing_learners', sa.Integer(), nullable=False),
    sa.Column('completion_rate', sa.Float(), nullable=False),
    sa.Column('quiz_count', sa.Integer(), nullable=False),
    sa.Column('avg_quiz_score', sa.Float(), nullable=True),
    sa.Column('seconds_watched', sa.Integer(), nullable=False),
    sa.Column('coupon_uses', sa.Integer(), nullable=False),
    sa.Column('certificates', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('course_id', 'day', name=op.f('pk_analytics_course_day'))
    )

    op.create_table('analytics_course_popularity',
    sa.Column('course_id', sa.String(length=32), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('enrollments', sa.Integer(), nullable=False),
    sa.Column('active_learner_days', sa.Integer(), nullable=False),
    sa.Column('previous_active_learner_days', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('trend', sa.Float(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_analytics_course_popularity'))
    )

    op.create_table('analytics_learner_day',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('lessons_completed', sa.Integer(), nullable=False),
    sa.Column('seconds_watched', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'local_day', name=op.f('pk_analytics_learner_day'))
    )

    with op.batch_alter_table('analytics_learner_day', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_learner_day_local_day', ['local_day'], unique=False)

    op.create_table('analytics_learner_digest',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('sent_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_learner_digest')),
    sa.UniqueConstraint('user_id', 'local_date', name=op.f('uq_analytics_learner_digest_user_id'))
    )
    with op.batch_alter_table('analytics_learner_digest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_learner_digest_user_id'), ['user_id'], unique=False)

    op.create_table('analytics_learner_stats',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('first_active_day', sa.Date(), nullable=False),
    sa.Column('last_active_day', sa.Date(), nullable=False),
    sa.Column('current_streak', sa.Integer(), nullable=False),
    sa.Column('longest_streak', sa.Integer(), nullable=False),
    sa.Column('active_days', sa.Integer(), nullable=False),
    sa.Column('lessons_completed', sa.Integer(), nullable=False),
    sa.Column('seconds_watched', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_analytics_learner_stats'))
    )

    op.create_table('analytics_platform_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('enrollments', sa.Integer(), nullable=False),
    sa.Column('lesson_completions', sa.Integer(), nullable=False),
    sa.Column('seconds_watched', sa.Integer(), nullable=False),
    sa.Column('coupon_uses', sa.Integer(), nullable=False),
    sa.Column('certificates', sa.Integer(), nullable=False),
    sa.Column('course_learner_days', sa.Integer(), nullable=False),
    sa.Column('active_learners', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_analytics_platform_day'))
    )

    op.create_table('analytics_rollup_state',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('updated_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_analytics_rollup_state'))
    )

    op.create_table('analytics_topic_score',
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('exercises', sa.Integer(), nullable=False),
    sa.Column('submissions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'user_id', name=op.f('pk_analytics_topic_score'))
    )
    with op.batch_alter_table('analytics_topic_score', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_topic_score_rank', ['topic', 'points'], unique=False)

    op.create_table('learning_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('course_id', sa.String(length=32), nullable=True),
    sa.Column('lesson_id', sa.String(length=32), nullable=True),
    sa.Column('exercise_id', sa.String(length=32), nullable=True),
    sa.Column('topic', sa.String(length=64), nullable=True),
    sa.Column('coupon_code', sa.String(length=64), nullable=True),
    sa.Column('seconds', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('occurred_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('ingested_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_learning_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_learning_events_event_id'))
    )
    with op.batch_alter_table('learning_events', schema=None) as batch_op:
        batch_op.create_index('ix_learning_events_course_day', ['course_id', 'day'], unique=False)
        batch_op.create_index('ix_learning_events_topic_user', ['topic', 'user_id'], unique=False)
        batch_op.create_index('ix_learning_events_user_local_day', ['user_id', 'local_day'], unique=False)


def downgrade() -> None:
    op.drop_table('learning_events')
    op.drop_table('analytics_topic_score')
    op.drop_table('analytics_rollup_state')
    op.drop_table('analytics_platform_day')
    op.drop_table('analytics_learner_stats')
    op.drop_table('analytics_learner_digest')
    op.drop_table('analytics_learner_day')
    op.drop_table('analytics_course_popularity')
    op.drop_table('analytics_course_day')
