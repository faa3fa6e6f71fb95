"""Indexes for inboxes read newest first within a unit or sub-platform and a state.

Measured over 1M tickets on PostgreSQL (bench/ticket_search.py): a unit's tickets waiting to be signed took
~490 ms walking the primary key backwards; these let the planner read them straight from an index.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_unit_state_id", "tickets", ["host_unit_id", "state", "id"])
    op.create_index("ix_tickets_subplatform_state_id", "tickets", ["subplatform", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_subplatform_state_id", table_name="tickets")
    op.drop_index("ix_tickets_unit_state_id", table_name="tickets")
