"""未接来电回拨 (issue 14): ``callback_tasks`` (one per citizen to call back; ``open_caller`` unique while open, so a
caller has one open task) and ``callback_calls`` (each 回拨 call placed for a task or a ticket). New tables only.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("open_caller", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=True),
        sa.Column("line_class", sa.String(length=24), nullable=True),
        sa.Column("subplatform", sa.String(length=32), nullable=True),
        sa.Column("first_call_id", sa.String(length=64), nullable=False),
        sa.Column("last_call_id", sa.String(length=64), nullable=False),
        sa.Column("missed_calls", sa.Integer(), nullable=False),
        sa.Column("first_missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("longest_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("prefill", sa.JSON(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dialing_by_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dialing_by_id"], ["users.id"], name=op.f("fk_callback_tasks_dialing_by_id_users")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_callback_tasks_closed_by_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_callback_tasks_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_tasks")),
        sa.UniqueConstraint("open_caller", name=op.f("uq_callback_tasks_open_caller")),
    )
    op.create_index(op.f("ix_callback_tasks_caller"), "callback_tasks", ["caller"])
    op.create_index(op.f("ix_callback_tasks_state"), "callback_tasks", ["state"])
    op.create_index(op.f("ix_callback_tasks_first_missed_at"), "callback_tasks", ["first_missed_at"])
    op.create_table(
        "callback_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("out_id", sa.String(length=40), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("agent_user_id", sa.Integer(), nullable=False),
        sa.Column("agent_extension", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("citizen_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("dial_status", sa.String(length=24), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("recording", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["callback_tasks.id"],
                                name=op.f("fk_callback_calls_task_id_callback_tasks")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_callback_calls_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["agent_user_id"], ["users.id"], name=op.f("fk_callback_calls_agent_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_calls")),
        sa.UniqueConstraint("out_id", name=op.f("uq_callback_calls_out_id")),
    )
    op.create_index(op.f("ix_callback_calls_task_id"), "callback_calls", ["task_id"])
    op.create_index(op.f("ix_callback_calls_ticket_id"), "callback_calls", ["ticket_id"])
    op.create_index(op.f("ix_callback_calls_agent_user_id"), "callback_calls", ["agent_user_id"])
    op.create_index(op.f("ix_callback_calls_started_at"), "callback_calls", ["started_at"])


def downgrade() -> None:
    for name in ("started_at", "agent_user_id", "ticket_id", "task_id"):
        op.drop_index(op.f(f"ix_callback_calls_{name}"), table_name="callback_calls")
    op.drop_table("callback_calls")
    for name in ("first_missed_at", "state", "caller"):
        op.drop_index(op.f(f"ix_callback_tasks_{name}"), table_name="callback_tasks")
    op.drop_table("callback_tasks")
