"""Starting work over HTTP: crawl, summary and vault triggers, jobs, queue status and seeds.

The stack server has a broker (Redis) but no workers, so what a trigger queued stays in the
queue where the test can see it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from refnet.db.session import get_engine
from refnet.security.roles import Role
from tests.integration.api.conftest import API_PG_URL, API_REDIS_URL
from tests.support.api import RAG, RAG_S2, ApiServer, api_server


def crawler_queue_depth() -> int:
    client = redis.Redis.from_url(API_REDIS_URL)
    try:
        return int(client.llen("crawler"))
    finally:
        client.close()


def test_a_crawl_trigger_queues_one_job_and_repeats_return_it(stack_api: ApiServer) -> None:
    seed = "ARXIV:1706.03762"
    before = crawler_queue_depth()
    first = stack_api.post("/api/papers/crawl", json={"paper_id": seed, "depth": 1})
    assert first.status_code == 202, first.text
    job = first.json()
    assert first.headers["location"] == f"/api/jobs/{job['id']}" == job["location"]
    assert job["existing"] is False and job["status"] == "pending"
    again = stack_api.post(
        "/api/papers/crawl", json={"paper_url": "https://arxiv.org/abs/1706.03762", "depth": 1}
    )
    assert again.status_code == 202
    assert again.json()["id"] == job["id"] and again.json()["existing"] is True
    assert crawler_queue_depth() == before + 1  # queued once

    shown = stack_api.get(f"/api/jobs/{job['id']}").json()
    assert shown["status"] == "pending" and shown["seeds"] == [seed]
    assert set(shown["progress"]) >= {"papers_collected", "edges_stored"}
    listed = stack_api.get("/api/jobs", params={"status": "pending"}).json()
    assert job["id"] in [item["id"] for item in listed["items"]]

    status = stack_api.get("/api/queue/status").json()
    assert status["mode"] == "workers"
    crawler = next(q for q in status["queues"] if q["name"] == "crawler")
    assert crawler["depth"] >= 1 and crawler["workers"] == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"paper_url": "javascript:alert(1)"}, "http"),
        ({"paper_url": "https://evil.example/paper/1"}, "evil.example"),
        ({"paper_url": "file:///etc/passwd"}, "http"),
        ({"paper_id": "CorpusId:abc"}, "CorpusId"),
        ({"paper_id": RAG, "paper_url": "https://arxiv.org/abs/2005.11401"}, "exactly one"),
        ({}, "exactly one"),
        ({"paper_id": RAG, "depth": 9}, "depth"),
        ({"paper_id": RAG, "max_papers": 0}, "max_papers"),
    ],
)
def test_bad_crawl_requests_are_422s_saying_what_is_accepted(
    api: ApiServer, body: dict[str, object], says: str
) -> None:
    answer = api.post("/api/papers/crawl", json=body)
    assert answer.status_code == 422, answer.text
    assert says.lower() in answer.json()["message"].lower()


def test_sql_in_a_seed_is_only_ever_a_title(api: ApiServer) -> None:
    seed = "'; DROP TABLE crawl_jobs; --"
    answer = api.post("/api/papers/crawl", json={"paper_id": seed, "depth": 0})
    assert answer.status_code == 202, answer.text  # two words: a title to look up
    assert api.get(answer.headers["location"]).json()["seeds"] == [seed]
    assert api.get("/api/jobs").json()["total"] >= 1


def test_triggers_need_an_operator(api: ApiServer) -> None:
    for path, body in (
        ("/api/papers/crawl", {"paper_id": RAG}),
        ("/api/tasks/summarize", {"paper_id": RAG}),
        ("/api/tasks/generate", {}),
        ("/api/seeds", {"paper_id": RAG}),
    ):
        assert api.post(path, role=Role.READER, json=body).status_code == 403
        with api.client() as anonymous:
            assert anonymous.post(path, json=body).status_code == 401


def test_summary_and_vault_triggers_are_queued_once(stack_api: ApiServer) -> None:
    first = stack_api.post("/api/tasks/summarize", json={"paper_id": [RAG, RAG_S2]})
    assert first.status_code == 202, first.text
    request = first.json()
    assert first.headers["location"] == f"/api/tasks/{request['id']}"
    again = stack_api.post("/api/tasks/summarize", json={"paper_id": RAG})
    assert again.json()["id"] == request["id"] and again.json()["existing"] is True
    task = stack_api.get(f"/api/tasks/{request['id']}").json()
    assert task["status"] == "queued" and task["kind"] == "summarize"
    assert len(task["params"]["paper_ids"]) == 1  # two forms of one paper

    vault = stack_api.post("/api/tasks/generate", json={"full": True})
    assert vault.status_code == 202
    assert stack_api.post("/api/tasks/generate", json={"full": True}).json()["existing"] is True
    other = stack_api.post("/api/tasks/generate", json={"full": False}).json()
    assert other["id"] != vault.json()["id"]


def test_summaries_of_papers_not_stored_are_refused_naming_them(api: ApiServer) -> None:
    answer = api.post("/api/tasks/summarize", json={"paper_id": [RAG, "ARXIV:1901.00001"]})
    assert answer.status_code == 404
    assert "ARXIV:1901.00001" in answer.json()["message"]
    too_many = api.post("/api/tasks/summarize", json={"paper_id": [RAG] * 501})
    assert too_many.status_code == 422


def test_unknown_jobs_and_tasks_are_404s_and_bad_ids_422s(api: ApiServer) -> None:
    assert api.get("/api/jobs/999999").status_code == 404
    assert api.get("/api/tasks/999999").status_code == 404
    assert api.get("/api/jobs/abc").status_code == 422
    assert api.get("/api/jobs", params={"status": "sleeping"}).status_code == 422


def test_seeds_are_added_listed_and_removed(api: ApiServer) -> None:
    added = api.post("/api/seeds", json={"paper_id": RAG})
    assert added.status_code == 201, added.text
    seed = added.json()
    assert seed["s2_id"] == RAG_S2 and seed["active"] is True
    assert seed["id"] in [s["id"] for s in api.get("/api/seeds").json()]
    with api.client(api.token(Role.OPERATOR)) as client:
        assert client.delete(f"/api/seeds/{seed['id']}").status_code == 204
        gone = client.delete(f"/api/seeds/{seed['id']}")
    assert gone.status_code == 404
    assert seed["id"] not in [s["id"] for s in api.get("/api/seeds").json() if s["active"]]
    unknown = api.post("/api/seeds", json={"paper_id": "ARXIV:1901.00001"})
    assert unknown.status_code in (404, 422) and "ARXIV:1901.00001" in unknown.json()["message"]


def test_triggers_are_in_the_audit_log(stack_api: ApiServer) -> None:
    stack_api.post("/api/tasks/generate", json={})
    events = stack_api.get(
        "/api/audit", role=Role.ADMIN, params={"action": "generate_trigger"}
    ).json()
    assert events["total"] >= 1
    event = events["items"][0]
    assert event["outcome"] == "success" and event["client_ip"] == "127.0.0.1"
    assert event["request_id"]


def test_an_unreachable_broker_fails_the_trigger_with_a_503_and_no_phantom_job(
    tmp_path: Path, stack_api: ApiServer
) -> None:
    env = {
        "DATABASE_URL": API_PG_URL,
        "REDIS_URL": API_REDIS_URL,
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",  # nothing listens on port 9
    }
    with api_server(tmp_path, env, wait_ready=False) as server:
        answer = server.post("/api/papers/crawl", json={"paper_id": "ARXIV:1810.04805"})
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert "queue" in answer.json()["message"]
        ready = server.client().get("/ready")
        assert ready.status_code == 503 and "broker" in ready.json()["status"]
    with get_engine(API_PG_URL).connect() as connection:
        rows = connection.execute(
            sa.text("SELECT status, error FROM crawl_jobs WHERE seeds::text LIKE '%1810.04805%'")
        ).all()
    assert [row.status for row in rows] == ["failed"]
    assert "unreachable" in rows[0].error
