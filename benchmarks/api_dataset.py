"""The API load benchmark's dataset: papers, citation edges, authors and summaries in PostgreSQL.

`load(url, papers, edges, seed)` recreates the database, migrates it to head and fills it with
PostgreSQL COPY (100,000 papers and 1,000,000 edges in about a minute and a half on two cores):
the graph from `api_graph` (preferential attachment: a few papers with thousands of citers), the
rows from `api_dataset_rows`, done summaries for about a third of the papers. The search vectors
are the migration's own (0004): papers are copied into a staging table, their summaries stored
first, and the papers then inserted, so the migration's insert trigger builds each paper's
vector once, its summary's terms included (`summaries_first`). Secondary indexes are dropped
during the load and built again after it; then VACUUM ANALYZE, so the planner knows the data.

What a benchmark needs to ask for is returned as a `Sample` (well-cited and random papers'
S2 ids, search terms found in few, some and many papers) and kept in the database's comment,
so `stored_sample(url)` finds it again for a rerun on the same data.

    python -m benchmarks.api_dataset --database-url URL --papers N --edges E

prints one JSON line: counts and seconds per step.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from benchmarks.api_dataset_rows import (
    AUTHOR_COLUMNS,
    CITATION_COLUMNS,
    PAPER_AUTHOR_COLUMNS,
    PAPER_COLUMNS,
    SUMMARY_COLUMNS,
    AuthorPool,
    PaperRows,
    citation_rows,
)
from benchmarks.api_graph import make_graph
from benchmarks.crawl_economy import reset_database
from benchmarks.search_corpus import Corpus
from refnet.db import migrate
from refnet.db.session import dispose_engines

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/refnet_bench_api"
DATASET_VERSION = 1
SUMMARY_SHARE = 1 / 3
TERMS_PER_KIND = 200
SAMPLE_PAPERS = 20_000
WELL_CITED = 200


@dataclass(frozen=True, slots=True)
class Sample:
    papers: int
    edges: int
    seed: int
    terms: dict[str, list[str]]  # rare / medium / common: words in few, some, many papers
    well_cited: list[str] = field(default_factory=list)  # S2 ids, most cited first
    random_papers: list[str] = field(default_factory=list)  # S2 ids in a stable random order


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def copy_rows(
    cursor: psycopg.Cursor[Any], table: str, columns: Iterable[str], rows: Iterable[Any]
) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def drop_secondary_indexes(cursor: psycopg.Cursor[Any], tables: Iterable[str]) -> list[str]:
    """Drop the indexes of `tables` that back no constraint; return the statements that make
    them again. Building them once at the end is much faster than keeping them current row by
    row, the GIN search index above all."""
    statements = []
    for table in tables:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index AS i "
            "WHERE indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)",
            (table,),
        )
        for name, definition in cursor.fetchall():
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            statements.append(definition)
    return statements


def check_search_vectors(cursor: psycopg.Cursor[Any]) -> dict[str, int]:
    """Every paper searchable, every done summary's terms in its paper's vector."""
    cursor.execute(
        "SELECT count(*), count(*) FILTER (WHERE search_vector IS NOT NULL), "
        "count(*) FILTER (WHERE summary_search_vector IS NOT NULL), "
        "(SELECT count(DISTINCT paper_id) FROM summaries WHERE status = 'done') FROM papers"
    )
    row = cursor.fetchone()
    assert row is not None
    papers, searchable, with_terms, summarized = row
    if searchable != papers or with_terms != summarized:
        raise RuntimeError(
            f"of {papers} papers {searchable} have a search vector; {summarized} have a done "
            f"summary, {with_terms} its terms in their vector"
        )
    return {"searchable": searchable, "with_summary_terms": with_terms}


@contextmanager
def summaries_first(cursor: psycopg.Cursor[Any]) -> Iterator[None]:
    """Store summaries before their papers, so each paper's search vector is computed once.

    Inside, the summaries' foreign keys and triggers are off: summaries go in first, then the
    papers, whose insert trigger (migration 0004) builds their search vector including the
    summary's terms, which the migration's `paper_summary_search_vector` gives. Adding the
    keys back checks every summary's paper.
    """
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'summaries'::regclass AND contype = 'f'"
    )
    keys = cursor.fetchall()
    for name, _ in keys:
        cursor.execute(
            sql.SQL("ALTER TABLE summaries DROP CONSTRAINT {}").format(sql.Identifier(name))
        )
    cursor.execute("ALTER TABLE summaries DISABLE TRIGGER USER")
    yield
    cursor.execute("ALTER TABLE summaries ENABLE TRIGGER USER")
    for name, definition in keys:
        cursor.execute(
            sql.SQL("ALTER TABLE summaries ADD CONSTRAINT {} {}").format(
                sql.Identifier(name), sql.SQL(definition)
            )
        )


def load(url: str, papers: int, edges: int, seed: int = 1) -> Sample:
    """Recreate the database at `url` with the dataset; see the module docstring."""
    sample, _ = load_timed(url, papers, edges, seed)
    return sample


def load_timed(url: str, papers: int, edges: int, seed: int) -> tuple[Sample, dict[str, Any]]:
    timings: dict[str, float] = {}
    started = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[name] = round(now - last, 1)
        last = now

    reset_database(url)
    migrate.upgrade(url)
    dispose_engines()
    lap("migrate_s")
    graph = make_graph(papers, edges, seed=seed)
    corpus = Corpus(seed=seed)
    authors = AuthorPool(max(100, papers * 3 // 5), corpus.rng)
    rows = PaperRows(graph, corpus, authors, seed)
    lap("graph_s")
    counts: dict[str, int] = {}
    with psycopg.connect(libpq_url(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        deferred = drop_secondary_indexes(cursor, ("papers", "citations", "paper_authors"))
        counts["authors"] = copy_rows(cursor, "authors", AUTHOR_COLUMNS, authors.rows())
        cursor.execute("CREATE TEMP TABLE staged_papers (LIKE papers) ON COMMIT DROP")
        counts["papers"] = copy_rows(
            cursor, "staged_papers", PAPER_COLUMNS, rows.papers(SUMMARY_SHARE)
        )
        lap("generate_papers_s")
        with summaries_first(cursor):
            counts["summaries"] = copy_rows(cursor, "summaries", SUMMARY_COLUMNS, rows.summaries())
            cursor.execute("ANALYZE summaries")  # else its lookups plan as for an empty table
            lap("summaries_s")
            columns = ", ".join(PAPER_COLUMNS)
            cursor.execute(
                f"INSERT INTO papers ({columns}, summary_search_vector) "
                f"SELECT {columns}, paper_summary_search_vector(id) FROM staged_papers"
            )
        lap("papers_s")
        counts["paper_authors"] = copy_rows(
            cursor, "paper_authors", PAPER_AUTHOR_COLUMNS, rows.paper_authors
        )
        counts["edges"] = copy_rows(
            cursor, "citations", CITATION_COLUMNS, citation_rows(graph, rows.now)
        )
        lap("edges_s")
        for statement in deferred:
            cursor.execute(statement)
        lap("indexes_s")
        counts.update(check_search_vectors(cursor))
        for table in ("papers", "authors"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        n = papers
        terms = {
            "rare": corpus.terms_occurring(2, max(3, n // 10_000), TERMS_PER_KIND),
            "medium": corpus.terms_occurring(n // 200, n // 50, TERMS_PER_KIND),
            "common": corpus.terms_occurring(n // 5, n, TERMS_PER_KIND),
        }
        stored = Sample(papers=papers, edges=edges, seed=seed, terms=terms)
        note = json.dumps({"refnet_api_dataset": DATASET_VERSION, **asdict(stored)})
        database = sa.make_url(url).database
        cursor.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(str(database)), sql.Literal(note)
            )
        )
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    lap("analyze_s")
    sample = stored_sample(url)
    assert sample is not None, "the dataset note was not stored"
    timings["total_s"] = round(time.perf_counter() - started, 1)
    return sample, {**counts, **timings}


def stored_sample(url: str, sample_papers: int = SAMPLE_PAPERS) -> Sample | None:
    """The sample of the dataset stored at `url`, or None if it holds no complete dataset."""
    try:
        connection = psycopg.connect(libpq_url(url), autocommit=True)
    except psycopg.OperationalError:
        return None
    with connection:
        row = connection.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
        try:
            note = json.loads(row[0]) if row and row[0] else {}
        except ValueError:
            return None
        if note.pop("refnet_api_dataset", None) != DATASET_VERSION:
            return None
        well_cited = connection.execute(
            "SELECT p.s2_id FROM (SELECT cited_id, count(*) AS citers FROM citations "
            "GROUP BY cited_id ORDER BY citers DESC, cited_id LIMIT %s) AS top "
            "JOIN papers AS p ON p.id = top.cited_id ORDER BY top.citers DESC, p.id",
            (WELL_CITED,),
        ).fetchall()
        papers = connection.execute(
            "SELECT s2_id FROM papers WHERE crawl_state <> 'discovered' "
            "ORDER BY md5(id::text) LIMIT %s",
            (sample_papers,),
        ).fetchall()
    return Sample(
        papers=note["papers"],
        edges=note["edges"],
        seed=note["seed"],
        terms=note["terms"],
        well_cited=[r[0] for r in well_cited],
        random_papers=[r[0] for r in papers],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sample, figures = load_timed(args.database_url, args.papers, args.edges, args.seed)
    top = sample.well_cited[0] if sample.well_cited else None
    terms = {kind: len(words) for kind, words in sample.terms.items()}
    print(json.dumps({"benchmark": "api_dataset", **figures, "terms": terms, "most_cited": top}))


if __name__ == "__main__":
    main()
