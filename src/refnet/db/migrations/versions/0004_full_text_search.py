"""full-text search over papers and their summaries

PostgreSQL: `papers.search_vector` (title A, TL;DR B, abstract C, plus the terms of the paper's
newest done summary, kept in `papers.summary_search_vector`: its TL;DR and keywords B, text C,
key points D), GIN-indexed, and `ix_papers_search_order` (most cited first), the order in
which a search takes the matches it ranks. Triggers keep both current: on `papers`, before an
insert and before an update that changes a searched field (the crawler rewrites metadata that
has not changed, which then costs no reparsing); on `summaries`, after a write that can change
what a done summary says. One vector per paper, so the words of a query may match in different
fields, as on SQLite.

SQLite: `papers_fts`, an FTS5 table keyed by paper id (rowid), kept current by triggers on
`papers` and `summaries`.

Both are filled here from the rows already stored. Neither is declared on the ORM models (see
`refnet.db.search_objects`). SQLite drops a table's triggers with the table: a later migration
that rebuilds `papers` or `summaries` in batch mode must create their `*_fts_*` triggers again.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-10
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# --- PostgreSQL ---------------------------------------------------------------------------

PG_SUMMARY_VECTOR_FUNCTION = """
CREATE FUNCTION paper_summary_search_vector(target_paper_id bigint) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('english', coalesce(s.tldr, '')), 'B')
        || setweight(jsonb_to_tsvector('english', s.keywords, '["string"]'), 'B')
        || setweight(to_tsvector('english', coalesce(s.summary, '')), 'C')
        || setweight(jsonb_to_tsvector('english', s.key_points, '["string"]'), 'D')
    FROM summaries AS s
    WHERE s.paper_id = target_paper_id AND s.status = 'done'
    ORDER BY s.updated_at DESC, s.id DESC
    LIMIT 1
$$
"""
PG_SUMMARY_SYNC_FUNCTION = """
CREATE FUNCTION summaries_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE papers SET summary_search_vector = paper_summary_search_vector(OLD.paper_id)
        WHERE id = OLD.paper_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.paper_id <> OLD.paper_id) THEN
        UPDATE papers SET summary_search_vector = paper_summary_search_vector(NEW.paper_id)
        WHERE id = NEW.paper_id;
    END IF;
    RETURN NULL;
END
$$
"""
PG_SEARCH_VECTOR = """
    setweight(to_tsvector('english', coalesce({row}title, '')), 'A')
    || setweight(to_tsvector('english', coalesce({row}tldr, '')), 'B')
    || setweight(to_tsvector('english', coalesce({row}abstract, '')), 'C')
    || coalesce({row}summary_search_vector, ''::tsvector)
"""
PG_PAPER_FUNCTION = f"""
CREATE FUNCTION papers_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := {PG_SEARCH_VECTOR.format(row="NEW.")};
    RETURN NEW;
END
$$
"""
SEARCHED_PAPER_COLUMNS = ("title", "tldr", "abstract", "summary_search_vector")
SEARCHED_SUMMARY_COLUMNS = "status, tldr, summary, key_points, keywords, paper_id"
_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in SEARCHED_PAPER_COLUMNS)
# name: (table, event, function, condition); only writes that can change what is searched
# fire them.
PG_TRIGGERS = {
    "papers_search_before_insert": (
        "papers",
        "BEFORE INSERT",
        "papers_search_vector_refresh",
        "true",
    ),
    "papers_search_before_update": (
        "papers",
        f"BEFORE UPDATE OF {', '.join(SEARCHED_PAPER_COLUMNS)}",
        "papers_search_vector_refresh",
        _CHANGED,
    ),
    "summaries_search_after_insert": (
        "summaries",
        "AFTER INSERT",
        "summaries_search_sync",
        "NEW.status = 'done'",
    ),
    "summaries_search_after_update": (
        "summaries",
        f"AFTER UPDATE OF {SEARCHED_SUMMARY_COLUMNS}",
        "summaries_search_sync",
        "OLD.status = 'done' OR NEW.status = 'done'",
    ),
    "summaries_search_after_delete": (
        "summaries",
        "AFTER DELETE",
        "summaries_search_sync",
        "OLD.status = 'done'",
    ),
}


def _upgrade_postgresql() -> None:
    op.execute("ALTER TABLE papers ADD COLUMN summary_search_vector tsvector")
    op.execute("ALTER TABLE papers ADD COLUMN search_vector tsvector")
    op.execute(PG_SUMMARY_VECTOR_FUNCTION)
    op.execute(
        "UPDATE papers SET summary_search_vector = paper_summary_search_vector(id) "
        "WHERE id IN (SELECT paper_id FROM summaries WHERE status = 'done')"
    )
    op.execute(f"UPDATE papers SET search_vector = {PG_SEARCH_VECTOR.format(row='')}")
    op.execute("CREATE INDEX ix_papers_search_vector ON papers USING gin (search_vector)")
    # The order a search takes its candidates in, most cited first (see queries.search).
    op.execute(
        "CREATE INDEX ix_papers_search_order ON papers (citation_count DESC NULLS LAST, s2_id)"
    )
    op.execute(PG_PAPER_FUNCTION)
    op.execute(PG_SUMMARY_SYNC_FUNCTION)
    for name, (table, event, function, condition) in PG_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {event} ON {table} FOR EACH ROW WHEN ({condition}) "
            f"EXECUTE FUNCTION {function}()"
        )


def _downgrade_postgresql() -> None:
    for name, (table, *_) in PG_TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION summaries_search_sync()")
    op.execute("DROP FUNCTION papers_search_vector_refresh()")
    op.execute("DROP FUNCTION paper_summary_search_vector(bigint)")
    op.execute("DROP INDEX ix_papers_search_order")
    op.execute("DROP INDEX ix_papers_search_vector")
    op.execute("ALTER TABLE papers DROP COLUMN search_vector")
    op.execute("ALTER TABLE papers DROP COLUMN summary_search_vector")


# --- SQLite -------------------------------------------------------------------------------

SQLITE_FTS_TABLE = """
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, tldr, summary, keywords,
    tokenize = 'porter unicode61 remove_diacritics 2'
)
"""


def _json_lines(column: str, separator: str) -> str:
    """The strings of a JSON list column, joined (NULL for an empty or malformed list)."""
    document = f"CASE WHEN json_valid(s.{column}) THEN s.{column} ELSE '[]' END"
    return f"(SELECT group_concat(value, {separator}) FROM json_each({document}))"


# The newest done summary of a paper, as the `summary` and `keywords` columns of papers_fts.
SQLITE_SUMMARY_COLUMNS = f"""
SELECT
    coalesce(s.tldr || char(10), '') || coalesce(s.summary || char(10), '')
        || coalesce({_json_lines("key_points", "char(10)")}, ''),
    {_json_lines("keywords", "'; '")}
FROM summaries AS s
WHERE s.paper_id = {{paper_id}} AND s.status = 'done'
ORDER BY s.updated_at DESC, s.id DESC
LIMIT 1
"""


def _refresh_summary(paper_id: str, condition: str = "") -> str:
    return (
        "UPDATE papers_fts SET (summary, keywords) = "
        f"({SQLITE_SUMMARY_COLUMNS.format(paper_id=paper_id)}) WHERE rowid = {paper_id}"
        f"{condition};"
    )


SQLITE_TRIGGERS = {
    "papers_fts_after_insert": """AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts (rowid, title, abstract, tldr)
        VALUES (new.id, new.title, new.abstract, new.tldr);
    END""",
    # A crawl rewrites metadata that has not changed; the index is left alone then.
    "papers_fts_after_update": """AFTER UPDATE OF title, abstract, tldr ON papers
    WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract
        OR old.tldr IS NOT new.tldr
    BEGIN
        UPDATE papers_fts SET title = new.title, abstract = new.abstract, tldr = new.tldr
        WHERE rowid = new.id;
    END""",
    "papers_fts_after_delete": """AFTER DELETE ON papers BEGIN
        DELETE FROM papers_fts WHERE rowid = old.id;
    END""",
    "summaries_fts_after_insert": f"""AFTER INSERT ON summaries WHEN new.status = 'done' BEGIN
        {_refresh_summary("new.paper_id")}
    END""",
    "summaries_fts_after_update": f"""AFTER UPDATE OF {SEARCHED_SUMMARY_COLUMNS} ON summaries
    WHEN old.status = 'done' OR new.status = 'done'
    BEGIN
        {_refresh_summary("old.paper_id")}
        {_refresh_summary("new.paper_id", " AND new.paper_id IS NOT old.paper_id")}
    END""",
    "summaries_fts_after_delete": f"""AFTER DELETE ON summaries WHEN old.status = 'done' BEGIN
        {_refresh_summary("old.paper_id")}
    END""",
}


def _upgrade_sqlite() -> None:
    op.execute(SQLITE_FTS_TABLE)
    op.execute(
        "INSERT INTO papers_fts (rowid, title, abstract, tldr) "
        "SELECT id, title, abstract, tldr FROM papers"
    )
    op.execute(
        "UPDATE papers_fts SET (summary, keywords) = "
        f"({SQLITE_SUMMARY_COLUMNS.format(paper_id='papers_fts.rowid')}) "
        "WHERE rowid IN (SELECT paper_id FROM summaries WHERE status = 'done')"
    )
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def _downgrade_sqlite() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE papers_fts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
