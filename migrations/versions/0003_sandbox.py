"""sandbox family tables: exercises, their test cases, submissions, per-learner progress.

Revision ID: 0003
Revises: 0002
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401
import domain.db  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exercises',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('difficulty', sa.Enum('beginner', 'intermediate', 'advanced', name='exercise_difficulty', native_enum=False, length=32), nullable=False),
    sa.Column('topic', sa.String(length=120), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('starter_code', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hints', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reference_language', sa.String(length=32), nullable=True),
    sa.Column('reference_solution', sa.Text(), nullable=True),
    sa.Column('time_limit_ms', sa.Integer(), nullable=False),
    sa.Column('memory_limit_mb', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_exercises_lesson_id_lessons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exercises'))
    )
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exercises_lesson_id'), ['lesson_id'], unique=False)

    op.create_table('exercise_progress',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('exercise_id', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('best_score', sa.Integer(), nullable=False),
    sa.Column('best_submission_id', sa.String(length=32), nullable=True),
    sa.Column('completed_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_exercise_progress_exercise_id_exercises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_exercise_progress_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exercise_progress')),
    sa.UniqueConstraint('user_id', 'exercise_id', name=op.f('uq_exercise_progress_user_id'))
    )
    with op.batch_alter_table('exercise_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exercise_progress_exercise_id'), ['exercise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exercise_progress_user_id'), ['user_id'], unique=False)

    op.create_table('exercise_test_cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('exercise_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stdin', sa.Text(), nullable=False),
    sa.Column('expected_stdout', sa.Text(), nullable=False),
    sa.Column('comparison', sa.String(length=16), nullable=False),
    sa.Column('tolerance', sa.Float(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_exercise_test_cases_exercise_id_exercises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exercise_test_cases')),
    sa.UniqueConstraint('exercise_id', 'position', name=op.f('uq_exercise_test_cases_exercise_id'))
    )
    with op.batch_alter_table('exercise_test_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exercise_test_cases_exercise_id'), ['exercise_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('exercise_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=32), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'graded', name='submission_status', native_enum=False, length=32), nullable=False),
    sa.Column('verdict', sa.String(length=8), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('compile_output', sa.Text(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('graded_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_submissions_exercise_id_exercises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_submissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('job_id', name=op.f('uq_submissions_job_id'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_exercise_id'), ['exercise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submissions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_user_id'))
        batch_op.drop_index(batch_op.f('ix_submissions_exercise_id'))

    op.drop_table('submissions')
    with op.batch_alter_table('exercise_test_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exercise_test_cases_exercise_id'))

    op.drop_table('exercise_test_cases')
    with op.batch_alter_table('exercise_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exercise_progress_user_id'))
        batch_op.drop_index(batch_op.f('ix_exercise_progress_exercise_id'))

    op.drop_table('exercise_progress')
    with op.batch_alter_table('exercises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exercises_lesson_id'))

    op.drop_table('exercises')
