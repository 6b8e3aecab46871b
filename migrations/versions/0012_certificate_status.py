"""certificates: each certificate's slot in a Bitstring Status List (revocation)

Revision ID: certificate_status
Revises: ops_indexes
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "certificate_status"
down_revision = "ops_indexes"
branch_labels = None
depends_on = None

SIZE, FILL = 131_072, 65_536     # domain/certificates/status_list.py


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("status_list", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_index", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_certificates_status_slot", ["status_list", "status_index"])
    # certificates issued before: random distinct slots, FILL per list, as new ones get
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM certificates ORDER BY created_at, id"))]
    rng = secrets.SystemRandom()
    for start in range(0, len(ids), FILL):
        chunk = ids[start:start + FILL]
        for cid, index in zip(chunk, rng.sample(range(SIZE), len(chunk))):
            conn.execute(sa.text("UPDATE certificates SET status_list = :l, status_index = :i WHERE id = :id"),
                         {"l": start // FILL, "i": index, "id": cid})


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_constraint("uq_certificates_status_slot", type_="unique")
        batch.drop_column("status_index")
        batch.drop_column("status_list")
