"""Login limits counted atomically: one row per key (user name at a source, a source, a user name), bumped in a
single INSERT … ON CONFLICT DO UPDATE … RETURNING (agent_desk.auth.limits).

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_counters")),
    )


def downgrade() -> None:
    op.drop_table("login_counters")
