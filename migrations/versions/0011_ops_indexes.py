"""ops: indexes for the queue health view (endings in a window, oldest waiting job per queue)

Revision ID: ops_indexes
Revises: video_versions
"""
from alembic import op

revision = "ops_indexes"
down_revision = "video_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_state_finished", "jobs", ["state", "finished_at"])
    op.create_index("ix_jobs_state_queue_created", "jobs", ["state", "queue", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_state_queue_created", table_name="jobs")
    op.drop_index("ix_jobs_state_finished", table_name="jobs")
