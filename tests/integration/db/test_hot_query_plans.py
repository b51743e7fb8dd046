"""Every query of the API's hot paths, and of the summary and note work they trigger, is served
by an index: no sequential scan of a large table.

The API runs in this process on a generated network. Its database has sequential scans switched
off and `auto_explain` on, so each statement's actual plan comes back to the connection that ran
it as a notice; a plan that scans a large table from end to end although sequential scans cost
the planner a fortune is a query no index can serve.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from benchmarks import api_dataset
from refnet.api.main import create_app
from refnet.core.config import settings_from
from refnet.db.session import dispose_engines, session_scope
from refnet.security.accounts import create_user
from refnet.security.audit import Actor
from refnet.security.roles import Role
from tests.conftest import PG_URL
from tests.fakes.s2_graph import make_graph
from tests.fakes.s2_server import FakeSemanticScholar

EXPLAIN_PG_URL = f"{PG_URL}_plans"
LARGE_TABLES = frozenset(
    {
        "papers",
        "citations",
        "authors",
        "paper_authors",
        "summaries",
        "pdf_documents",
        "vault_files",
        "audit_events",
        "crawl_frontier",
        "task_requests",
    }
)
EXPLAINED = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_format": "json",
    "auto_explain.log_level": "notice",
    "auto_explain.log_nested_statements": "on",
    "enable_seqscan": "off",
}
PASSWORD = "plans-password-1"


@dataclass(frozen=True)
class Plan:
    query: str
    plan: dict[str, Any]

    def scanned_tables(self) -> set[str]:
        found = set()
        nodes = [self.plan]
        while nodes:
            node = nodes.pop()
            if node.get("Node Type") == "Seq Scan":
                found.add(node.get("Relation Name", "?"))
            nodes.extend(node.get("Plans", []))
        return found


def plan_of(notice: psycopg.errors.Diagnostic) -> Plan | None:
    message = notice.message_primary or ""
    _, marker, document = message.partition("plan:")
    if not marker:
        return None
    explained = json.loads(document)
    return Plan(explained.get("Query Text", ""), explained["Plan"])


@pytest.fixture(scope="module")
def network() -> Iterator[api_dataset.Sample]:
    sample = api_dataset.load(EXPLAIN_PG_URL, papers=3_000, edges=20_000, seed=7)
    database = sa.make_url(EXPLAIN_PG_URL).database
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name, value in EXPLAINED.items():
            connection.execute(sa.text(f"ALTER DATABASE \"{database}\" SET {name} = '{value}'"))
    admin.dispose()
    create_user(
        database_url=EXPLAIN_PG_URL,
        username="plans-operator",
        password=PASSWORD,
        role=Role.OPERATOR,
        actor=Actor.cli(),
    )
    yield sample


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Plan]]:
    """The plan of every statement run on a connection opened from now on."""
    captured: list[Plan] = []

    def collect(notice: psycopg.errors.Diagnostic) -> None:
        plan = plan_of(notice)
        if plan is not None:
            captured.append(plan)

    sync_connect = psycopg.Connection.connect
    async_connect = psycopg.AsyncConnection.connect

    def connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        connection = sync_connect(*args, **kwargs)
        connection.add_notice_handler(collect)
        return connection

    async def connect_async(*args: Any, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        connection = await async_connect(*args, **kwargs)
        connection.add_notice_handler(collect)
        return connection

    dispose_engines()  # pooled connections opened before would report nothing
    monkeypatch.setattr(psycopg, "connect", connect)
    monkeypatch.setattr(psycopg.Connection, "connect", connect)
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", connect_async)
    yield captured
    dispose_engines()


@pytest.fixture(scope="module")
def s2() -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(make_graph(400, seed=11)) as server:
        yield server


@pytest.fixture
def client(
    network: api_dataset.Sample, plans: list[Plan], s2: FakeSemanticScholar, tmp_path: Path
) -> Iterator[TestClient]:
    environment = {
        "DATABASE_URL": EXPLAIN_PG_URL,
        "REDIS_URL": None,  # tasks run in this process, where their plans are seen too
        "CELERY_BROKER_URL": None,
        "REFNET_DATA_DIR": str(tmp_path / "data"),
        "VAULT_DIR": str(tmp_path / "vault"),
        "JWT_SECRET": "plans-" + "s" * 40,
        "SEMANTIC_SCHOLAR_API_URL": s2.base_url,
        "SEMANTIC_SCHOLAR_RATE": "200",
        "SUMMARIZER__FETCH_PDFS": "false",
    }
    with (
        settings_from(environment) as settings,
        TestClient(create_app(settings), base_url="http://localhost") as test_client,
    ):
        answer = test_client.post(
            "/auth/login", json={"username": "plans-operator", "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        test_client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield test_client


def hot_paths(sample: api_dataset.Sample) -> list[str]:
    hub, other = sample.well_cited[0], sample.random_papers[0]
    paths = ["/auth/me", "/api/jobs", "/api/queue/status"]
    for paper in (hub, other, f"CorpusId:{1}"):
        base = f"/api/papers/{quote(paper, safe=':')}"
        paths += [base, f"{base}/references", f"{base}/citations", f"{base}/graph"]
        paths += [f"{base}/note"]
    for kind in ("rare", "medium", "common"):
        term = sample.terms[kind][0]
        paths += [f"/api/papers/search?q={term}", f"/api/papers/search?q={term}&offset=20"]
    paths += ['/api/papers/search?q="' + " ".join(sample.terms["common"][:2]) + '"']
    for sort in ("-citations", "-year", "title"):
        paths += [f"/api/papers?sort={sort}", f"/api/papers?sort={sort}&year_min=2015"]
    paths += ["/api/papers?min_citations=10", "/api/papers?seed=true"]
    return paths


def assert_no_large_scans(plans: list[Plan]) -> None:
    assert plans, "no plan came back: auto_explain is not on"
    scans = {
        (table, plan.query.strip()[:300])
        for plan in plans
        for table in plan.scanned_tables() & LARGE_TABLES
    }
    assert not scans, "sequential scans of large tables:\n" + "\n".join(map(str, sorted(scans)))


def test_a_query_no_index_serves_is_caught(network: api_dataset.Sample, plans: list[Plan]) -> None:
    with session_scope(EXPLAIN_PG_URL) as session:
        session.execute(sa.text("SELECT id FROM papers WHERE abstract LIKE '%graph%'")).all()
    with pytest.raises(AssertionError, match=r"papers.*abstract LIKE"):
        assert_no_large_scans(plans)


def test_every_hot_read_uses_an_index(
    client: TestClient, network: api_dataset.Sample, plans: list[Plan]
) -> None:
    for path in hot_paths(network):
        answer = client.get(path)
        assert answer.status_code in (200, 404), f"{path}: {answer.status_code} {answer.text}"
    assert_no_large_scans(plans)


def test_summaries_and_notes_triggered_from_the_api_use_indexes(
    client: TestClient, network: api_dataset.Sample, plans: list[Plan]
) -> None:
    papers = network.random_papers[:5]
    for path, body in (
        ("/api/tasks/summarize", {"paper_id": papers}),
        ("/api/tasks/generate", {}),
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 202, answer.text
        wait_done(client, answer.json()["location"])
    assert_no_large_scans(plans)


def test_a_crawl_and_the_work_it_hands_on_use_indexes(
    client: TestClient, s2: FakeSemanticScholar, plans: list[Plan]
) -> None:
    paper = max(s2.graph.papers, key=lambda p: (len(s2.graph.citations_of(p)), p))
    answer = client.post(
        "/api/papers/crawl", json={"paper_id": paper, "depth": 1, "max_papers": 40}
    )
    assert answer.status_code == 202, answer.text
    wait_done(client, answer.json()["location"], done="completed")
    deadline = time.monotonic() + 60
    while client.get(f"/api/papers/{paper}/note").status_code != 200:  # summarized and written
        assert time.monotonic() < deadline, "the crawled paper's note was never written"
        time.sleep(0.2)
    assert_no_large_scans(plans)


def wait_done(client: TestClient, location: str, done: str = "done", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(location).json()["status"]
        if status not in ("queued", "running", "pending"):
            assert status == done, status
            return
        time.sleep(0.2)
    raise AssertionError(f"{location} still not {done} after {timeout} s")
