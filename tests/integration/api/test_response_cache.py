"""The response cache of paper detail, search and graph: a change made through RefNet shows in
the very next answer, and only a change made behind RefNet's back waits for the expiry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from refnet.api.response_cache import ResponseCache
from refnet.core.config import settings_from
from refnet.db import migrate
from refnet.db.paper_changes import generation_key
from refnet.db.queries.citations import EdgeRow, upsert_citations
from refnet.db.session import dispose_engines, session_scope
from tests.conftest import PG_URL, REDIS_URL, empty_database
from tests.integration.db.search_support import paper, store, summarize
from tests.support.api import ApiServer, api_server

CACHE_PG_URL = f"{PG_URL}_cache"
UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    empty_database(CACHE_PG_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    migrate.upgrade(CACHE_PG_URL)
    workdir = tmp_path_factory.mktemp("cache-api")
    env = {"DATABASE_URL": CACHE_PG_URL, "REDIS_URL": REDIS_URL}
    with api_server(workdir, env) as running:
        yield running
    dispose_engines()


@pytest.fixture
def writer() -> Iterator[None]:
    """Writes from this process, configured as every RefNet process of the installation is."""
    with settings_from({"REDIS_URL": REDIS_URL, "DATABASE_URL": CACHE_PG_URL}):
        yield


def s2(number: int) -> str:
    return f"{number:040x}"


def titles_found(server: ApiServer, query: str) -> list[str]:
    answer = server.get("/api/papers/search", params={"q": query})
    assert answer.status_code == 200, answer.text
    return [item["title"] for item in answer.json()["items"]]


def test_a_changed_title_shows_at_once_in_detail_search_and_graph(
    server: ApiServer, writer: None
) -> None:
    ids = store(CACHE_PG_URL, [paper(101, "Quasar lensing surveys"), paper(102, "Dust maps")])
    with session_scope(CACHE_PG_URL) as session:
        upsert_citations(session=session, edges=[EdgeRow(ids[s2(102)], ids[s2(101)])])
    assert server.get(f"/api/papers/{s2(101)}").json()["title"] == "Quasar lensing surveys"
    assert titles_found(server, "quasar") == ["Quasar lensing surveys"]
    graph = server.get(f"/api/papers/{s2(102)}/graph").json()
    assert {node["title"] for node in graph["nodes"]} == {"Dust maps", "Quasar lensing surveys"}

    store(CACHE_PG_URL, [paper(101, "Pulsar timing arrays")])

    assert server.get(f"/api/papers/{s2(101)}").json()["title"] == "Pulsar timing arrays"
    assert titles_found(server, "quasar") == []
    assert titles_found(server, "pulsar") == ["Pulsar timing arrays"]
    graph = server.get(f"/api/papers/{s2(102)}/graph").json()
    assert {node["title"] for node in graph["nodes"]} == {"Dust maps", "Pulsar timing arrays"}


def test_a_new_citation_shows_at_once_in_the_graph(server: ApiServer, writer: None) -> None:
    ids = store(CACHE_PG_URL, [paper(201, "Tidal streams"), paper(202, "Halo shapes")])
    assert server.get(f"/api/papers/{s2(201)}/graph").json()["edges"] == []

    with session_scope(CACHE_PG_URL) as session:
        upsert_citations(session=session, edges=[EdgeRow(ids[s2(201)], ids[s2(202)])])

    edges = server.get(f"/api/papers/{s2(201)}/graph").json()["edges"]
    assert edges == [{"source": ids[s2(201)], "target": ids[s2(202)]}]


def test_a_finished_summary_is_found_at_once(server: ApiServer, writer: None) -> None:
    ids = store(CACHE_PG_URL, [paper(301, "Stellar winds")])
    assert titles_found(server, "magnetohydrodynamics") == []

    summarize(CACHE_PG_URL, ids[s2(301)], summary="Magnetohydrodynamics of winds.")

    assert titles_found(server, "magnetohydrodynamics") == ["Stellar winds"]


def test_an_answer_is_kept_until_refnet_changes_paper_data(server: ApiServer, writer: None) -> None:
    store(CACHE_PG_URL, [paper(401, "Comet tails")])
    assert server.get(f"/api/papers/{s2(401)}").json()["title"] == "Comet tails"
    engine = sa.create_engine(CACHE_PG_URL)
    with engine.begin() as connection:  # behind RefNet's back: nothing moves the generation
        connection.execute(
            sa.text("UPDATE papers SET title = 'Comet nuclei' WHERE s2_id = :s2"), {"s2": s2(401)}
        )
    engine.dispose()

    assert server.get(f"/api/papers/{s2(401)}").json()["title"] == "Comet tails"

    store(CACHE_PG_URL, [paper(402, "Any other paper")])

    assert server.get(f"/api/papers/{s2(401)}").json()["title"] == "Comet nuclei"


def test_a_failed_read_or_an_unknown_paper_is_not_cached(server: ApiServer, writer: None) -> None:
    missing = s2(501)
    assert server.get(f"/api/papers/{missing}").status_code == 404

    store(CACHE_PG_URL, [paper(501, "Late arrival")])

    assert server.get(f"/api/papers/{missing}").json()["title"] == "Late arrival"


def test_an_unreachable_redis_makes_every_read_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    async def use() -> tuple[tuple[str | None, bytes | None], None]:
        cache = ResponseCache(UNREACHABLE_REDIS, CACHE_PG_URL, 60)
        try:
            found = await cache.get("detail", "x")
            stored = await cache.put("1", b"{}", "detail", "x")
        finally:
            await cache.close()
        return found, stored

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(use()) == ((None, None), None)
    assert "response cache unavailable" in caplog.text


def test_a_commit_stands_when_the_generation_cannot_move(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'refnet.sqlite3'}"
    migrate.upgrade(url)
    with settings_from({"REDIS_URL": UNREACHABLE_REDIS}), caplog.at_level(logging.WARNING):
        store(url, [paper(601, "Kept anyway")])
    with session_scope(url) as session:
        titles = session.execute(sa.text("SELECT title FROM papers")).scalars().all()
    assert titles == ["Kept anyway"]
    assert "cache generation could not move" in caplog.text
    dispose_engines()


def test_the_generation_moves_once_per_commit_that_changes_papers(writer: None) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    before = int(client.get(generation_key(CACHE_PG_URL)) or 0)

    store(CACHE_PG_URL, [paper(701, "One commit")])
    with session_scope(CACHE_PG_URL) as session:  # reads only
        session.execute(sa.text("SELECT count(*) FROM papers"))

    assert int(client.get(generation_key(CACHE_PG_URL)) or 0) == before + 1
