"""One crawl asked for over HTTP, on the stack with known secrets planted wherever secrets live
(settings, the login, the tokens, the headers sent to Semantic Scholar and the LLM): every process
writes JSON lines only, the request id the API gave the crawl is on the log lines of the crawler,
the summarizer and the generator that did its work, and no line in any process shows a secret,
not even one a client sent as its request id."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import make_url

from refnet.core.log_scrub import REDACTED
from refnet.security.roles import Role
from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.s2_graph import make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import api_server
from tests.support.workers import (
    REFNET,
    running_workers,
    stack_environment,
    summarizer_on,
    wait_for,
    wait_idle,
)

REQUEST_ID = "trace-crawl-0001"
# Planted: each is in a setting, a header or a request body during the run.
JWT_SECRET = "planted-jwt-secret-5c1f0a9e7d3b4c28a6e1f0d9b8c7a654"
ADMIN_PASSWORD = "planted-admin-password-7e2d4f"
S2_API_KEY = "planted-s2-api-key-3b9a61c0"
LLM_API_KEY = "planted-llm-api-key-d0e4c7a2"
DB_PASSWORD = "planted-database-password-81f3"
FLOWER_PASSWORD = "planted-flower-password-4a7c9e"


def entries(log: Path) -> list[dict[str, object]]:
    """Every line of `log`, each of which must be one JSON object."""
    found = []
    for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        assert isinstance(entry, dict), f"{log.name}:{number} is not a JSON object: {line}"
        found.append(entry)
    return found


def with_request_id(log: Path, request_id: str) -> list[dict[str, object]]:
    return [entry for entry in entries(log) if entry.get("request_id") == request_id]


def test_one_crawl_is_traced_through_every_process_and_logs_no_secret(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    graph = make_graph(120, seed=4)
    seed = max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))
    database_url = make_url(pg_url).set(password=DB_PASSWORD)  # trust auth ignores it
    with (
        FakeSemanticScholar(graph, required_api_key=S2_API_KEY) as s2,
        FakeOpenAI(api_key=LLM_API_KEY) as llm,
    ):
        env = stack_environment(
            database_url.render_as_string(hide_password=False),
            redis_url,
            tmp_path,
            s2_url=s2.base_url,
            SEMANTIC_SCHOLAR_API_KEY=S2_API_KEY,
            **summarizer_on(llm),
            JWT_SECRET=JWT_SECRET,
            FLOWER_USER="operator",
            FLOWER_PASSWORD=FLOWER_PASSWORD,
            LOG_LEVEL="DEBUG",  # every line a library would write, to find a leak
        )
        commands = [
            [REFNET, "worker", "--queue", queue] for queue in ("crawler", "summarizer", "generator")
        ]
        with running_workers(commands, env, tmp_path) as app, api_server(tmp_path, env) as api:
            tokens = api.login(api.new_user(Role.ADMIN, ADMIN_PASSWORD), ADMIN_PASSWORD)
            with api.client(tokens["access_token"]) as client:
                answer = client.post(
                    "/api/papers/crawl",
                    json={"paper_id": seed, "depth": 1, "max_papers": 20},
                    headers={"X-Request-Id": REQUEST_ID},
                )
            assert answer.status_code == 202, answer.text
            assert answer.headers["x-request-id"] == REQUEST_ID
            notes = tmp_path / "vault" / "papers"
            wait_for(
                lambda: notes.exists() and len(list(notes.glob("*.md"))) == 20,
                seconds=120,
                what="the crawl's notes",
                logs=tmp_path,
            )
            wait_idle(app, redis_url, tmp_path)
            # The request id is the client's to choose and every line carries it: a client that
            # sends a secret there puts it on lines in the API and in the worker it reaches.
            generator_log = tmp_path / "worker2.log"
            runs = generator_log.read_text().count('"vault_generated"')
            with api.client(tokens["access_token"]) as client:
                echoed = client.post("/api/tasks/generate", headers={"X-Request-Id": DB_PASSWORD})
            assert echoed.status_code == 202, echoed.text
            wait_for(
                lambda: generator_log.read_text().count('"vault_generated"') > runs,
                seconds=60,
                what="the vault request's run",
                logs=tmp_path,
            )
            wait_idle(app, redis_url, tmp_path)
            api_log = api.log
        assert s2.api_keys_seen == {S2_API_KEY}
        assert llm.request_count > 0  # the summaries were paid for with the planted key

    worker_logs = [tmp_path / f"worker{number}.log" for number in range(3)]
    assert with_request_id(api_log, REQUEST_ID)
    tasks = ("crawl_seeds", "summarize_papers", "generate_vault")
    for log, task in zip(worker_logs, tasks, strict=True):
        traced = with_request_id(log, REQUEST_ID)
        assert any(str(entry.get("task", "")).endswith(task) for entry in traced), task

    # Where the secret went, its lines say "[redacted]" instead (and the checks below find it
    # nowhere).
    assert with_request_id(api_log, REDACTED)
    vault_request = with_request_id(generator_log, REDACTED)
    assert any(entry["event"] == "vault_generated" for entry in vault_request)

    planted = {
        "JWT_SECRET": JWT_SECRET,
        "admin password": ADMIN_PASSWORD,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "Semantic Scholar API key": S2_API_KEY,
        "LLM API key": LLM_API_KEY,
        "database password": DB_PASSWORD,
        "FLOWER_PASSWORD": FLOWER_PASSWORD,
    }
    for log in [api_log, *worker_logs]:
        text = log.read_text(errors="replace")
        assert len(text.splitlines()) > 20, f"{log.name} says too little to prove anything"
        shown = [name for name, secret in planted.items() if secret in text]
        assert not shown, f"{log.name} shows the {', '.join(shown)}"
