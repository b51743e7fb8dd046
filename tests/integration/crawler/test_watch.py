"""Watched seeds are re-crawled incrementally: only citations published since the last crawl."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.core.errors import InvalidInput
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.crawler.watch import recrawl_watched, watch_seeds
from refnet.db.models import JobStatus
from refnet.db.session import get_engine
from refnet.sources.snapshot import SnapshotSource
from tests.support.network import stored_network

SEED = "5" * 40


def paper(paper_id: str, year: int, published: str | None, refs: list[str]) -> dict[str, object]:
    return {
        "paperId": paper_id,
        "title": f"Paper {paper_id[:6]}",
        "year": year,
        "publicationDate": published,
        "citationCount": 10,
        "authors": [{"authorId": None, "name": "A. Author"}],
        "references": [{"paperId": ref} for ref in refs],
    }


def write(path: Path, papers: list[dict[str, object]]) -> SnapshotSource:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return SnapshotSource(path)


def test_recrawl_collects_only_new_citations_of_watched_seeds(
    database_url: str, tmp_path: Path
) -> None:
    old = [paper(c * 40, 2019, "2019-03-01", [SEED]) for c in "ab"]
    before = [paper(SEED, 2018, "2018-01-01", []), *old]
    source = write(tmp_path / "v1.jsonl", before)
    job_id, _ = start_crawl(
        database_url=database_url,
        seeds=[SEED],
        params=CrawlParams(max_depth=1),
        source_name="snapshot",
    )
    run_crawl(job_id, database_url=database_url, source=source)
    assert watch_seeds(database_url=database_url, seeds=[SEED]) == 1

    today = datetime.now(UTC).date().isoformat()
    new = [paper(c * 40, int(today[:4]), today, [SEED]) for c in "cd"]
    updated = write(tmp_path / "v2.jsonl", [*before, *new])
    outcomes = recrawl_watched(database_url=database_url, source=updated, max_papers=100)

    assert [o.status for o in outcomes] == [JobStatus.COMPLETED]
    network = stored_network(database_url)
    assert network.papers == {SEED, "a" * 40, "b" * 40, "c" * 40, "d" * 40}
    assert {("c" * 40, SEED), ("d" * 40, SEED)} <= network.edges
    assert outcomes[0].papers_collected == 3  # the seed and its two new citing papers
    with get_engine(database_url).connect() as connection:
        last = connection.scalar(sa.text("SELECT last_crawled_at FROM watched_seeds"))
    assert last is not None


def test_only_stored_papers_can_be_watched(database_url: str) -> None:
    with pytest.raises(InvalidInput, match=r"crawl them first: DOI:10\.1000/none"):
        watch_seeds(database_url=database_url, seeds=["DOI:10.1000/none"])
