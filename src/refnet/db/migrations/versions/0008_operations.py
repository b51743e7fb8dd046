"""operations: failed tasks, beat entries' last runs, health findings, summary claimers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "task_failures",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=True),
        sa.Column("kwargs", JsonDoc, nullable=False),
        sa.Column("error_type", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_at", Moment, nullable=False),
        sa.Column("retried_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_failures")),
        sa.UniqueConstraint("task_id", name=op.f("uq_task_failures_task_id")),
    )
    op.create_index("ix_task_failures_status_failed_at", "task_failures", ["status", "failed_at"])
    op.create_table(
        "schedule_runs",
        sa.Column("entry", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("registered_at", Moment, nullable=False),
        sa.Column("fired_count", sa.Integer(), nullable=False),
        sa.Column("last_fired_at", Moment, nullable=True),
        sa.Column("last_task_id", sa.String(length=64), nullable=True),
        sa.Column("last_started_at", Moment, nullable=True),
        sa.Column("last_finished_at", Moment, nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_detail", sa.Text(), nullable=True),
        sa.Column("completed_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entry", name=op.f("pk_schedule_runs")),
    )
    op.create_table(
        "health_findings",
        sa.Column("part", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("checked_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("part", name=op.f("pk_health_findings")),
    )
    op.add_column("summaries", sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Not a batch: on SQLite that would rebuild the table without its search triggers (0004).
    op.drop_column("summaries", "claimed_by")
    op.drop_table("health_findings")
    op.drop_table("schedule_runs")
    op.drop_index("ix_task_failures_status_failed_at", table_name="task_failures")
    op.drop_table("task_failures")
