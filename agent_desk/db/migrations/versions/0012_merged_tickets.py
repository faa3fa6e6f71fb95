"""并单 (duplicate appeals merged into one ticket): ``tickets.merged_into_id`` names the host ticket a merged ticket
follows, ``tickets.merged_at`` when it was merged. Both nullable (no ticket is merged before this revision);
``op.add_column`` and an index only, no table rebuild.

The index serves the two reads a merge needs: a host's merged tickets (the reply and the callback reach each
of them) and the ticket view's "并单: M1, M2".

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot ALTER a constraint in, but takes a column's REFERENCES clause (no table rebuild)
        op.execute("ALTER TABLE tickets ADD COLUMN merged_into_id INTEGER "
                   "CONSTRAINT fk_tickets_merged_into_id_tickets REFERENCES tickets (id)")
    else:
        op.add_column("tickets", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_tickets_merged_into_id_tickets", "tickets", "tickets", ["merged_into_id"], ["id"])
    op.add_column("tickets", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tickets_merged_into_id", "tickets", ["merged_into_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_merged_into_id", table_name="tickets")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_column("tickets", "merged_at")   # SQLite ≥ 3.35 drops a column in place, its REFERENCES too
        op.drop_column("tickets", "merged_into_id")
    else:
        op.drop_constraint("fk_tickets_merged_into_id_tickets", "tickets", type_="foreignkey")
        op.drop_column("tickets", "merged_at")
        op.drop_column("tickets", "merged_into_id")
