"""What was suggested for a ticket when the agent saved it, and what the agent chose (issue 13): the production
acceptance of topic and host-unit suggestions, so their accuracy is measured rather than assumed.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestion_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("topic_chosen", sa.String(length=64), nullable=False),
        sa.Column("topic_outcome", sa.String(length=16), nullable=False),
        sa.Column("unit_chosen", sa.String(length=64), nullable=False),
        sa.Column("unit_outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_suggestion_outcomes_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_suggestion_outcomes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_outcomes")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_suggestion_outcomes_ticket_id")),
    )
    op.create_index(op.f("ix_suggestion_outcomes_at"), "suggestion_outcomes", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_suggestion_outcomes_at"), table_name="suggestion_outcomes")
    op.drop_table("suggestion_outcomes")
