"""task requests: summary and vault runs asked for through the API

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task_requests",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("work_key", sa.String(length=64), nullable=False),
        sa.Column("params", JsonDoc, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", BigId, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_requests")),
    )
    op.create_index(
        "ix_task_requests_kind_work_key_status",
        "task_requests",
        ["kind", "work_key", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_task_requests_kind_work_key_status", table_name="task_requests")
    op.drop_table("task_requests")
