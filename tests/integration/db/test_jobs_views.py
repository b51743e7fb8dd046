"""Crawl jobs and watched seeds as the API lists them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from refnet.core.errors import InvalidInput
from refnet.crawler.watch import watch_seeds
from refnet.db.models import JobKind, JobStatus, WatchedSeed
from refnet.db.queries.browse import PaperFilter, list_papers
from refnet.db.queries.crawl import create_job
from refnet.db.queries.jobs import (
    JOB_STATUSES,
    job_view,
    list_jobs,
    list_seeds,
    seed_view,
    unwatch_seed,
    watch_seed,
)
from refnet.db.session import session_scope
from tests.integration.db.browse_support import SEED, crawl_network, row_ids, s2_id


def recent(value: object) -> bool:
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(0), value
    return abs((datetime.now(UTC) - value).total_seconds()) < 600


def test_a_crawled_job_shows_its_seeds_progress_and_times(
    database_url: str, tmp_path: Path
) -> None:
    job_id = crawl_network(database_url, tmp_path)
    with session_scope(database_url) as session:
        job = job_view(session=session, job_id=job_id)

    assert job is not None
    assert (job["id"], job["kind"], job["status"]) == (job_id, "full", "completed")
    assert job["seeds"] == job["seed_ids"] == [s2_id(SEED)]
    assert job["params"]["max_depth"] == 1
    assert (job["source"], job["error"]) == ("snapshot", None)
    assert job["progress"] == {
        "papers_collected": 10,
        "papers_expanded": 1,
        "edges_stored": 12,
        "requests_made": 3,
    }
    for name in ("created_at", "updated_at", "started_at", "finished_at"):
        assert recent(job[name]), name
    assert job["started_at"] <= job["finished_at"]
    assert json.loads(json.dumps(job, default=str))["progress"] == job["progress"]


@pytest.mark.parametrize("job_id", [404, 0, -1, 2**64])
def test_an_unknown_job_is_none(database_url: str, job_id: int) -> None:
    with session_scope(database_url) as session:
        assert job_view(session=session, job_id=job_id) is None


@pytest.fixture
def jobs(database_url: str) -> list[int]:
    """Seven jobs, oldest first: pending, running, completed, failed, ..."""
    statuses = ["pending", "running", "completed", "failed", "completed", "paused", "completed"]
    ids = []
    with session_scope(database_url) as session:
        for number, status in enumerate(statuses):
            job = create_job(
                session=session,
                seeds=[f"CorpusId:{number}"],
                params={"max_depth": 1},
                source="test",
                kind=JobKind.FULL,
            )
            job.status = status
            job.error = "unknown seed" if status == "failed" else None
            ids.append(job.id)
    return ids


def test_jobs_are_listed_newest_first_with_the_total(database_url: str, jobs: list[int]) -> None:
    with session_scope(database_url) as session:
        total, first = list_jobs(session=session, status=None, limit=3, offset=0)
        _, rest = list_jobs(session=session, status=None, limit=10, offset=3)

    assert total == 7
    assert [j["id"] for j in first + rest] == jobs[::-1]
    assert first[0]["seeds"] == ["CorpusId:6"]


def test_jobs_are_filtered_by_status(database_url: str, jobs: list[int]) -> None:
    with session_scope(database_url) as session:
        total, done = list_jobs(session=session, status="completed", limit=2, offset=0)
        _, failed = list_jobs(session=session, status="failed", limit=10, offset=0)
        nothing = list_jobs(session=session, status="pending", limit=10, offset=1)

    assert total == 3
    assert [j["id"] for j in done] == [jobs[6], jobs[4]]
    assert [(j["id"], j["error"]) for j in failed] == [(jobs[3], "unknown seed")]
    assert nothing == (1, [])
    assert set(JOB_STATUSES) == {s.value for s in JobStatus}


@pytest.mark.parametrize(
    ("status", "limit", "offset", "message"),
    [
        ("done", 10, 0, "accepted: pending, running, paused, completed, failed"),
        (None, 0, 0, "limit must be between 1 and 100"),
        (None, 101, 0, "limit must be between 1 and 100"),
        (None, 10, -1, "offset must be between 0 and"),
        (None, 10, 10**20, "offset must be between 0 and"),
    ],
)
def test_bad_job_listings_are_refused(
    database_url: str, status: str | None, limit: int, offset: int, message: str
) -> None:
    with session_scope(database_url) as session, pytest.raises(InvalidInput, match=message):
        list_jobs(session=session, status=status, limit=limit, offset=offset)


@pytest.fixture
def crawled(database_url: str, tmp_path: Path) -> dict[int, int]:
    crawl_network(database_url, tmp_path)
    return dict(zip(range(1, 11), row_ids(database_url, range(1, 11)), strict=True))


def test_watched_seeds_are_listed_with_their_paper_and_last_crawl(
    database_url: str, crawled: dict[int, int]
) -> None:
    assert watch_seeds(database_url=database_url, seeds=[s2_id(SEED), "10.5555/paper.7"]) == 2
    with session_scope(database_url) as session:
        seeds = list_seeds(session=session)

    assert [(s["paper_id"], s["s2_id"], s["active"]) for s in seeds] == [
        (crawled[SEED], s2_id(SEED), True),
        (crawled[7], s2_id(7), True),
    ]
    assert seeds[0]["title"] == "Retrieval augmented generation for knowledge intensive tasks"
    assert seeds[0]["params"] == {}
    assert recent(seeds[0]["created_at"])
    assert recent(seeds[0]["last_crawled_at"])  # the crawl listed the seed's citations
    assert seeds[1]["last_crawled_at"] is None  # nobody listed who cites paper 7


def test_watching_unwatching_and_watching_again(database_url: str, crawled: dict[int, int]) -> None:
    with session_scope(database_url) as session:
        seed, new = watch_seed(session=session, paper_id=crawled[5], params={"max_papers": 50})
        again, new_again = watch_seed(session=session, paper_id=crawled[5])
    assert (new, new_again) == (True, False)
    assert again == seed
    assert (seed["paper_id"], seed["active"], seed["params"]) == (
        crawled[5],
        True,
        {"max_papers": 50},
    )

    with session_scope(database_url) as session:
        assert unwatch_seed(session=session, seed_id=seed["id"]) is True
        assert unwatch_seed(session=session, seed_id=seed["id"]) is False  # no longer watched
        assert unwatch_seed(session=session, seed_id=seed["id"] + 100) is False
        assert unwatch_seed(session=session, seed_id=2**64) is False
        listed = list_seeds(session=session)
    assert [(s["id"], s["active"]) for s in listed] == [(seed["id"], False)]

    with session_scope(database_url) as session:
        back, new = watch_seed(session=session, paper_id=crawled[5])
        assert seed_view(session=session, seed_id=seed["id"] + 100) is None
        assert seed_view(session=session, seed_id=-(2**64)) is None
    assert (back["id"], back["active"], back["params"], new) == (
        seed["id"],
        True,
        {"max_papers": 50},
        True,
    )


def test_unwatched_seeds_stop_counting_as_seeds(database_url: str, crawled: dict[int, int]) -> None:
    def seeds() -> set[int]:
        with session_scope(database_url) as session:
            page = list_papers(session=session, filters=PaperFilter(seed=True), limit=100)
        return {p.id for p in page.items}

    with session_scope(database_url) as session:
        watched, _ = watch_seed(session=session, paper_id=crawled[6])
    assert seeds() == {crawled[SEED], crawled[6]}

    with session_scope(database_url) as session:
        unwatch_seed(session=session, seed_id=watched["id"])
        rows = session.query(WatchedSeed).count()
    assert seeds() == {crawled[SEED]}  # the crawl seed stays one
    assert rows == 1
