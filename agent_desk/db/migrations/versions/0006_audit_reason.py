"""The audit log says why: ``reason`` (the need-to-know grant of a ticket read), and an index for the
auditor's question "what did this user read, and when" (agent_desk.api.audit).

``op.add_column`` rather than a batch rebuild: on SQLite a rebuild would recreate ``audit_log`` and drop
its append-only triggers; adding a column with a constant default touches no row (no UPDATE trigger fires
on either database).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("reason", sa.String(length=256), nullable=False, server_default=""))
    op.create_index("ix_audit_log_username_at", "audit_log", ["username", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_username_at", table_name="audit_log")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("audit_log", "reason")
        return
    # SQLite drops a column by rebuilding the table, which loses its triggers: put the append-only ones back.
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("reason")
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
