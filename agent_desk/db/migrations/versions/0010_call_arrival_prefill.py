"""Calls: when the inbound channel was created (``arrived_at``) and whether the agent had a usable prefill when
answering (``prefill_usable``), for the GB/T 33358 figures (issue 12): time from arrival to the queue, and how
many calls reached the agent with the caller's words already written down.

Both nullable (unknown for older calls, and for a call the desk saw only after its start); ``op.add_column``
only, no table rebuild.

Revision ID: 0010
Revises: 0008 (another branch adds 0009: when both are merged, this one revises 0009)
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("calls", sa.Column("prefill_usable", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_column("prefill_usable")
        batch_op.drop_column("arrived_at")
