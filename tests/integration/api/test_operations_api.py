"""Operations over HTTP: the tasks that failed for good (`GET /api/tasks/failed`) and the beat
schedule's last runs (`GET /api/schedule`), for operators only, on the stack and embedded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from refnet.db.queries.operations import (
    claim_for_retry,
    list_failures,
    record_failure,
    record_finished,
    record_fired,
    record_started,
    register_entries,
)
from refnet.db.session import session_scope
from refnet.security.roles import Role
from tests.support.api import ApiServer


@pytest.fixture
def prefix(api: ApiServer) -> Iterator[str]:
    """A prefix for the task ids and entry names this test writes, deleted afterwards: the
    servers are shared by the package."""
    mark = f"ops-test-{uuid.uuid4().hex[:8]}"
    try:
        yield mark
    finally:
        with session_scope(api.database_url) as session:
            pattern = {"pattern": f"{mark}%"}
            session.execute(
                sa.text("DELETE FROM task_failures WHERE task_id LIKE :pattern"), pattern
            )
            session.execute(sa.text("DELETE FROM schedule_runs WHERE entry LIKE :pattern"), pattern)


def record(
    server: ApiServer, task_id: str, task_name: str, kwargs: dict[str, Any], reason: str
) -> int:
    """A failure as a worker records it; its id."""
    with session_scope(server.database_url) as session:
        record_failure(
            session=session,
            task_id=task_id,
            task_name=task_name,
            queue=task_name.split(".")[1],
            kwargs=kwargs,
            error_type=reason.split(":")[0],
            reason=reason,
            retries=3,
        )
    with session_scope(server.database_url) as session:
        found = list_failures(session=session, include_retried=True, limit=1000)
    return next(failure.id for failure in found if failure.task_id == task_id)


def ours(answer: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [failure for failure in answer if failure["task_id"].startswith(prefix)]


def failed(server: ApiServer, prefix: str, query: str = "") -> list[dict[str, Any]]:
    answer = server.get(f"/api/tasks/failed{query}", Role.OPERATOR)
    assert answer.status_code == 200, answer.text
    return ours(answer.json(), prefix)


def test_an_operator_sees_failed_tasks_newest_first_with_reason_and_arguments(
    api: ApiServer, prefix: str
) -> None:
    record(
        api, f"{prefix}-a", "refnet.crawler.crawl_seeds", {"job_id": 41}, "PermanentError: no seeds"
    )
    record(
        api,
        f"{prefix}-b",
        "refnet.summarizer.summarize_papers",
        {"paper_ids": [1, 2], "request_id": None},
        "gave up after 8 retries: the LLM answered 529",
    )
    listed = failed(api, prefix)
    assert [f["task_id"] for f in listed] == [f"{prefix}-b", f"{prefix}-a"]
    newest, oldest = listed
    assert newest["task_name"] == "refnet.summarizer.summarize_papers"
    assert newest["arguments"] == {"paper_ids": [1, 2], "request_id": None}
    assert newest["reason"] == "gave up after 8 retries: the LLM answered 529"
    assert newest["status"] == "failed"
    assert newest["retried_at"] is None
    assert newest["queue"] == "summarizer"
    assert oldest["arguments"] == {"job_id": 41}
    assert oldest["reason"] == "PermanentError: no seeds"
    assert oldest["error_type"] == "PermanentError"
    assert newest["failed_at"] >= oldest["failed_at"]


def test_a_failure_recorded_twice_is_listed_once(api: ApiServer, prefix: str) -> None:
    for _ in range(2):
        record(api, f"{prefix}-x", "refnet.generator.generate_vault", {}, "OSError: disk full")
    assert [f["task_id"] for f in failed(api, prefix)] == [f"{prefix}-x"]


def test_retried_failures_are_listed_only_with_all(api: ApiServer, prefix: str) -> None:
    retried = record(
        api, f"{prefix}-r", "refnet.generator.generate_vault", {}, "OSError: disk full"
    )
    record(api, f"{prefix}-w", "refnet.crawler.crawl_seeds", {"job_id": 1}, "PermanentError: gone")
    with session_scope(api.database_url) as session:
        claimed = claim_for_retry(session=session, failure_ids=[retried])
    assert [c.id for c in claimed] == [retried]

    assert [f["task_id"] for f in failed(api, prefix)] == [f"{prefix}-w"]
    everything = {f["task_id"]: f for f in failed(api, prefix, "?all=true")}
    assert set(everything) == {f"{prefix}-r", f"{prefix}-w"}
    assert everything[f"{prefix}-r"]["status"] == "retried"
    assert everything[f"{prefix}-r"]["retried_at"] is not None
    assert everything[f"{prefix}-w"]["status"] == "failed"


def test_the_limit_keeps_the_newest(api: ApiServer, prefix: str) -> None:
    for n in range(3):
        record(api, f"{prefix}-{n}", "refnet.crawler.crawl_seeds", {"job_id": n}, f"E: {n}")
    answer = api.get("/api/tasks/failed?limit=1", Role.OPERATOR)
    assert answer.status_code == 200, answer.text
    assert [f["task_id"] for f in answer.json()] == [f"{prefix}-2"]
    assert api.get("/api/tasks/failed?limit=0", Role.OPERATOR).status_code == 422


@pytest.mark.parametrize("path", ["/api/tasks/failed", "/api/schedule"])
def test_only_operators_see_operations(api: ApiServer, path: str) -> None:
    reader = api.get(path, Role.READER)
    assert reader.status_code == 403, reader.text  # not 422: `failed` is no task id
    with api.client() as client:
        assert client.get(path).status_code == 401
    assert api.get(path, Role.ADMIN).status_code == 200


def test_failed_is_not_taken_for_a_task_id(api: ApiServer) -> None:
    answer = api.get("/api/tasks/failed", Role.OPERATOR)
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), list)
    # A real task id still reaches the task route.
    assert api.get("/api/tasks/987654321", Role.OPERATOR).status_code == 404


def test_the_schedule_shows_each_entry_and_its_last_run(api: ApiServer, prefix: str) -> None:
    waiting, fired, done = f"{prefix}-health", f"{prefix}-recrawl", f"{prefix}-backup"
    with session_scope(api.database_url) as session:
        register_entries(
            session=session,
            entries={
                waiting: "refnet.maintenance.check_health",
                fired: "refnet.crawler.recrawl_watched",
                done: "refnet.maintenance.backup_database",
            },
        )
    with session_scope(api.database_url) as session:
        record_fired(session=session, entry=fired, task_name="refnet.crawler.recrawl_watched")
        record_fired(
            session=session,
            entry=done,
            task_name="refnet.maintenance.backup_database",
        )
    with session_scope(api.database_url) as session:
        record_started(session=session, entry=done, task_name="refnet.maintenance.backup_database")
    with session_scope(api.database_url) as session:
        record_finished(session=session, entry=done, outcome="failed", detail="OSError: disk full")

    answer = api.get("/api/schedule", Role.OPERATOR)
    assert answer.status_code == 200, answer.text
    runs = {run["entry"]: run for run in answer.json() if run["entry"].startswith(prefix)}
    assert set(runs) == {waiting, fired, done}

    assert runs[waiting]["task_name"] == "refnet.maintenance.check_health"
    assert runs[waiting]["fired_count"] == 0
    assert runs[waiting]["last_fired_at"] is None
    assert runs[waiting]["last_outcome"] is None

    assert runs[fired]["task_name"] == "refnet.crawler.recrawl_watched"
    assert runs[fired]["fired_count"] == 1
    assert runs[fired]["last_fired_at"] is not None
    assert runs[fired]["completed_count"] == 0

    assert runs[done]["fired_count"] == 1
    assert runs[done]["completed_count"] == 1
    assert runs[done]["last_outcome"] == "failed"
    assert runs[done]["last_detail"] == "OSError: disk full"
    assert runs[done]["last_started_at"] is not None
    assert runs[done]["last_finished_at"] is not None
