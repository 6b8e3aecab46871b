"""achievements: each exported award's slot in a Bitstring Status List (revocation)

Revision ID: award_status
Revises: achievements
"""
from alembic import op
import sqlalchemy as sa

revision = "award_status"
down_revision = "achievements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("achievement_awards") as batch:
        batch.add_column(sa.Column("status_list", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_index", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_achievement_awards_status_slot", ["status_list", "status_index"])


def downgrade() -> None:
    with op.batch_alter_table("achievement_awards") as batch:
        batch.drop_constraint("uq_achievement_awards_status_slot", type_="unique")
        batch.drop_column("status_index")
        batch.drop_column("status_list")
