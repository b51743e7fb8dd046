"""Database objects the ORM models do not declare: full-text search (migration 0004) and the
browsing expression indexes (0007).

They differ by database: on PostgreSQL two tsvector columns on `papers` and two indexes, on
SQLite an FTS5 virtual table (`papers_fts`, plus the shadow tables FTS5 keeps beside it). A
model column would exist on both databases, and a model table would be created as an ordinary
table, so neither can declare them. Schema comparisons (Alembic's autogenerate through
`include_object` in the migrations' env.py, and the test that checks the models against the
migrated schema) skip them with `include_object`; everything else is still compared.
"""

from __future__ import annotations

from typing import Any

SEARCH_TABLE = "papers_fts"
SEARCH_COLUMNS = frozenset({("papers", "search_vector"), ("papers", "summary_search_vector")})
SEARCH_INDEXES = frozenset({"ix_papers_search_vector", "ix_papers_search_order"})
# Expression indexes of migration 0007 for browsing (sort keys the models cannot spell).
BROWSE_INDEXES = frozenset(
    {
        "ix_papers_browse_citations",
        "ix_papers_browse_year",
        "ix_papers_browse_added",
        "ix_papers_browse_title",
        "ix_papers_browse_fields",
        "ix_crawl_frontier_seed_paper",
    }
)


def is_search_object(name: str | None, type_: str, table: str | None = None) -> bool:
    if type_ == "table":
        return name is not None and (name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_"))
    if type_ == "column":
        return (table, name) in SEARCH_COLUMNS
    if type_ == "index":
        return name in SEARCH_INDEXES or name in BROWSE_INDEXES
    return False


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's `include_object` hook: compare everything but the search objects."""
    table = getattr(getattr(obj, "table", None), "name", None)
    return not is_search_object(name, type_, table)
