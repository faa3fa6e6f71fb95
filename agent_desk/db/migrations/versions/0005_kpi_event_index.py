"""An index for the KPIs: a ticket's events by action, with their time (agent_desk.supervision.kpi).

响应率 asks, per dispatched ticket, whether a 签收 event came within the window; 按时办结率 asks when the
reply was approved. Both look up one ticket's events of one action and read ``at``: with (ticket_id,
action, at) that is one covering index probe instead of reading every event row of the ticket
(bench/reports_1m.py, BENCHMARKS.md).

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ticket_events_ticket_action_at", "ticket_events", ["ticket_id", "action", "at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_ticket_action_at", table_name="ticket_events")
