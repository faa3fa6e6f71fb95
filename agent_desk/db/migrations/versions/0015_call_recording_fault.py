"""Calls: what went wrong with the call's recording (``recording_fault``, issue 17): ``failed`` (it could not be
written from the answer on: the dialplan's check) or ``interrupted`` (it stopped being written during the
conversation: the listener's watch). Kept on the call so the agent's page shows the warning again after a reload
and whoever plays the recording knows it is missing or incomplete.

Nullable (no fault, or a call older than this); ``op.add_column`` only, no table rebuild.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("recording_fault", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_column("recording_fault")
