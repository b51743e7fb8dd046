"""indexes for finding what changed: papers by update time, vault files by kind, status and
update time

Each vault update asks which papers changed since the oldest written note, the oldest note's
time, and marks the notes it looked at; without these indexes each of those read the whole
`papers` or `vault_files` table, however little had changed (found by the plan test of the hot
queries, `tests/integration/db/test_hot_query_plans.py`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])
    op.create_index(
        "ix_vault_files_kind_status_updated_at", "vault_files", ["kind", "status", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_vault_files_kind_status_updated_at", table_name="vault_files")
    op.drop_index("ix_papers_updated_at", table_name="papers")
