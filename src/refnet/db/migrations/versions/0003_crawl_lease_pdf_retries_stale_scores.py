"""crawl lease runner, pdf retries, summary remakes, stale frontier scores, citations without
foreign keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_jobs") as batch:
        batch.add_column(sa.Column("runner", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("pdf_documents") as batch:
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("crawl_frontier") as batch:
        batch.add_column(sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("summaries") as batch:
        batch.add_column(sa.Column("remake_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("remake_response", sa.Text(), nullable=True))
    op.create_index(
        "ix_crawl_frontier_job_id_state_score",
        "crawl_frontier",
        ["job_id", "state", "score"],
    )
    with op.batch_alter_table("pdf_documents") as batch:
        batch.alter_column("attempts", server_default=None)
    with op.batch_alter_table("crawl_frontier") as batch:
        batch.alter_column("stale", server_default=None)
    # See the Citation model: per-row foreign key checks dominated the crawl's largest write.
    with op.batch_alter_table("citations") as batch:
        batch.drop_constraint("fk_citations_citing_id_papers", type_="foreignkey")
        batch.drop_constraint("fk_citations_cited_id_papers", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("summaries") as batch:
        batch.drop_column("remake_response")
        batch.drop_column("remake_claimed_at")
    with op.batch_alter_table("citations") as batch:
        for column in ("citing_id", "cited_id"):
            batch.create_foreign_key(
                f"fk_citations_{column}_papers", "papers", [column], ["id"], ondelete="CASCADE"
            )
    op.drop_index("ix_crawl_frontier_job_id_state_score", table_name="crawl_frontier")
    with op.batch_alter_table("crawl_frontier") as batch:
        batch.drop_column("stale")
    with op.batch_alter_table("pdf_documents") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("attempts")
    with op.batch_alter_table("crawl_jobs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("runner")
