"""智能回访 (issue 14 points 3-4): ``revisit_campaigns``, ``revisit_items`` (one per ticket in a campaign),
``revisit_calls`` (each automated call) and ``revisit_opt_outs`` (不再回访). New tables only.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revisit_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("max_channels", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_revisit_campaigns_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisit_campaigns")),
    )
    op.create_index(op.f("ix_revisit_campaigns_state"), "revisit_campaigns", ["state"])
    op.create_table(
        "revisit_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("out_id", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("verdict", sa.String(length=24), nullable=True),
        sa.Column("digits", sa.String(length=32), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["revisit_campaigns.id"],
                                name=op.f("fk_revisit_items_campaign_id_revisit_campaigns")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_revisit_items_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisit_items")),
        sa.UniqueConstraint("campaign_id", "ticket_id", name=op.f("uq_revisit_items_campaign_id")),
    )
    for name in ("campaign_id", "ticket_id", "caller", "state", "needs_review"):
        op.create_index(op.f(f"ix_revisit_items_{name}"), "revisit_items", [name])
    op.create_table(
        "revisit_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("out_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("dial_status", sa.String(length=24), nullable=False),
        sa.Column("digits", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["revisit_items.id"],
                                name=op.f("fk_revisit_calls_item_id_revisit_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisit_calls")),
        sa.UniqueConstraint("out_id", name=op.f("uq_revisit_calls_out_id")),
    )
    op.create_index(op.f("ix_revisit_calls_item_id"), "revisit_calls", ["item_id"])
    op.create_index(op.f("ix_revisit_calls_started_at"), "revisit_calls", ["started_at"])
    op.create_table(
        "revisit_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_revisit_opt_outs_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_revisit_opt_outs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisit_opt_outs")),
    )
    op.create_index(op.f("ix_revisit_opt_outs_caller"), "revisit_opt_outs", ["caller"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revisit_opt_outs_caller"), table_name="revisit_opt_outs")
    op.drop_table("revisit_opt_outs")
    for name in ("started_at", "item_id"):
        op.drop_index(op.f(f"ix_revisit_calls_{name}"), table_name="revisit_calls")
    op.drop_table("revisit_calls")
    for name in ("campaign_id", "ticket_id", "caller", "state", "needs_review"):
        op.drop_index(op.f(f"ix_revisit_items_{name}"), table_name="revisit_items")
    op.drop_table("revisit_items")
    op.drop_index(op.f("ix_revisit_campaigns_state"), table_name="revisit_campaigns")
    op.drop_table("revisit_campaigns")
