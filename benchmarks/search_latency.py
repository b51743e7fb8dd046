"""Search latency: `search_papers` over 100,000 stored papers, and what the search index costs
the crawler's writes.

Fills a scratch database (dropped at the end) through the real write paths: `upsert_papers` for
papers (30% of them stubs with titles only), `insert_rows` for done summaries of 20% of the
collected papers. Then times `search_papers` (limit 10, one session per search, as the API
does) for words found in few, some and very many papers, and for two-word queries; medians and
99th percentiles in milliseconds. `upsert_ms_per_1000` is the time the crawler's bulk upsert
takes per 1,000 papers with the search index, against the same upsert on a database migrated to
the revision before it (the baseline, measured in the same run). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

import sqlalchemy as sa

from benchmarks.crawl_economy import reset_database
from benchmarks.search_corpus import Corpus
from refnet.core.records import PaperRecord
from refnet.db import migrate
from refnet.db.base import utcnow
from refnet.db.models import Summary
from refnet.db.queries._dialect import insert_rows
from refnet.db.queries.papers import upsert_papers
from refnet.db.queries.search import search_papers
from refnet.db.session import dispose_engines, session_scope

BATCH = 5_000
REVISION_BEFORE_SEARCH = "0003"


def store_papers(url: str, records: Iterable[PaperRecord]) -> tuple[dict[str, int], float]:
    """Row ids by S2 id, and the seconds the upserts took."""
    ids: dict[str, int] = {}
    spent = 0.0
    iterator = iter(records)
    while batch := list(islice(iterator, BATCH)):
        started = time.perf_counter()
        with session_scope(url) as session:
            ids.update(upsert_papers(session=session, records=batch))
        spent += time.perf_counter() - started
    return ids, spent


def store_summaries(url: str, corpus: Corpus, paper_ids: list[int]) -> None:
    now = utcnow()
    rows = [
        {
            "paper_id": paper_id,
            "provider": "extractive",
            "model": "benchmark",
            "prompt_version": "1",
            "language": "en",
            "status": "done",
            "input_kind": "abstract",
            **corpus.summary(),
            "input_tokens": 0,
            "output_tokens": 0,
            "attempts": 1,
            "created_at": now,
            "updated_at": now,
        }
        for paper_id in paper_ids
    ]
    for start in range(0, len(rows), BATCH):
        with session_scope(url) as session:
            insert_rows(session, Summary, rows[start : start + BATCH])


def upsert_cost(url: str, papers: int) -> dict[str, float]:
    """Milliseconds per 1,000 papers of the crawler's upsert, before and with the search index."""
    figures = {}
    for label, revision in (("before_search", REVISION_BEFORE_SEARCH), ("with_search", "head")):
        reset_database(url)
        migrate.upgrade(url, revision)
        records = list(Corpus(seed=11).papers(papers, stub_share=0.7))
        _, seconds = store_papers(url, records)
        figures[label] = round(seconds * 1000 / (papers / 1000), 1)
    figures["ratio"] = round(figures["with_search"] / figures["before_search"], 3)
    return figures


def timed(search: Callable[[str], Any], queries: list[str], rounds: int) -> dict[str, float]:
    search(queries[0])  # plans and caches warm
    times, totals = [], []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            totals.append(search(query))
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "queries": len(times),
        "median_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
        "median_total": statistics.median(totals),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--upsert-papers", type=int, default=20_000)
    parser.add_argument("--terms", type=int, default=40, help="distinct terms per kind")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/refnet_search_scratch",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    url = args.database_url

    upsert = upsert_cost(url, args.upsert_papers)
    reset_database(url)
    migrate.upgrade(url)
    corpus = Corpus()
    started = time.perf_counter()
    ids, _ = store_papers(url, corpus.papers(args.papers, stub_share=0.3))
    with session_scope(url) as session:
        collected = list(
            session.scalars(sa.text("SELECT id FROM papers WHERE abstract IS NOT NULL"))
        )
    store_summaries(url, corpus, collected[: len(collected) // 5])
    load_s = time.perf_counter() - started
    if url.startswith("postgresql"):
        with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))

    n = args.papers
    kinds = {
        "rare": corpus.terms_occurring(2, max(3, n // 10_000), args.terms),
        "medium": corpus.terms_occurring(n // 200, n // 50, args.terms),
        "common": corpus.terms_occurring(n // 5, n, args.terms),
    }
    kinds["two_words"] = [
        f"{a} {b}" for a, b in zip(kinds["medium"], reversed(kinds["common"]), strict=False)
    ]

    def search(query: str) -> int:
        with session_scope(url) as session:
            return search_papers(session=session, query=query, limit=10, offset=0).total

    result = {
        "benchmark": "search_latency",
        "database": sa.make_url(url).get_backend_name(),
        "papers": len(ids),
        "summaries": len(collected) // 5,
        "load_s": round(load_s, 1),
        "upsert_ms_per_1000": upsert,
        **{kind: timed(search, queries, args.rounds) for kind, queries in kinds.items() if queries},
    }
    dispose_engines()
    if not args.keep:
        reset_database(url)
        if url.startswith("postgresql"):
            drop_database(url)
    print(json.dumps(result))


def drop_database(url: str) -> None:
    parsed = sa.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
