"""indexes for browsing papers: each sort of the paper list, the field filter, seed lookups

Expression indexes that match the sort keys of `refnet.db.queries.browse` exactly (a missing
value sorts as -1 or ''); they also serve the neighbour and graph orderings by citations.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BOTH = {
    "ix_papers_browse_citations": "papers ((coalesce(citation_count, -1)), id)",
    "ix_papers_browse_year": "papers ((coalesce(year, -1)), id)",
    "ix_papers_browse_added": "papers (created_at, id)",
    "ix_crawl_frontier_seed_paper": "crawl_frontier (paper_id) WHERE is_seed",
}
POSTGRES_ONLY = {
    "ix_papers_browse_title": (
        "papers ((coalesce(lower(substr(title, 1, 200)), '')) COLLATE \"C\", id)"
    ),
    "ix_papers_browse_fields": (
        "papers USING gin ((lower(fields_of_study::text)::jsonb) jsonb_path_ops)"
    ),
}


def _indexes() -> dict[str, str]:
    if op.get_bind().dialect.name == "postgresql":
        return {**BOTH, **POSTGRES_ONLY}
    return BOTH


def upgrade() -> None:
    for name, target in _indexes().items():
        op.execute(f"CREATE INDEX {name} ON {target}")


def downgrade() -> None:
    for name in _indexes():
        op.execute(f"DROP INDEX {name}")
