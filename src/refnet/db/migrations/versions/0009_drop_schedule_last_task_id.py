"""schedule_runs: drop last_task_id (beat records a firing before its task has an id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Not a batch: on SQLite that would rebuild tables without their search triggers (0004); SQLite
# drops a column in place since 3.35.
def upgrade() -> None:
    op.drop_column("schedule_runs", "last_task_id")


def downgrade() -> None:
    op.add_column("schedule_runs", sa.Column("last_task_id", sa.String(length=64), nullable=True))
