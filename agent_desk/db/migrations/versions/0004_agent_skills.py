"""Agents' skills (技能/队列): the queues an extension serves, with penalties, as set on the desk.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_skills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("penalty", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_skills")),
        sa.UniqueConstraint("extension", "queue", name=op.f("uq_agent_skills_extension_queue")),
    )
    op.create_index(op.f("ix_agent_skills_extension"), "agent_skills", ["extension"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_skills_extension"), table_name="agent_skills")
    op.drop_table("agent_skills")
