"""summaries: indexes by provider and status, and by provider and completion time

Counting summaries by provider and status (/metrics) and summing today's tokens of a provider
(the daily budget, checked before each paid call, and /metrics) each read the whole table, texts
included, without them: about 30 ms apiece at 100,000 summaries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_summaries_provider_status", "summaries", ["provider", "status"])
    op.create_index(
        "ix_summaries_provider_completed",
        "summaries",
        ["provider", "completed_at"],
        postgresql_include=["input_tokens", "output_tokens"],
    )


def downgrade() -> None:
    op.drop_index("ix_summaries_provider_completed", table_name="summaries")
    op.drop_index("ix_summaries_provider_status", table_name="summaries")
