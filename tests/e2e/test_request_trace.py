"""One crawl asked for over HTTP can be followed through every process: the request id the API
gave it is on the log lines of the crawler, the summarizer and the generator that did its work."""

from __future__ import annotations

import json
from pathlib import Path

from refnet.security.roles import Role
from tests.fakes.s2_graph import make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import api_server
from tests.support.workers import REFNET, running_workers, wait_for, wait_idle

REQUEST_ID = "trace-crawl-0001"


def lines_with(log: Path, request_id: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("request_id") == request_id:
            found.append(entry)
    return found


def test_a_crawls_request_id_reaches_every_worker(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    graph = make_graph(120, seed=4)
    seed = max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))
    with FakeSemanticScholar(graph) as s2:
        env = {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "REFNET_DATA_DIR": str(tmp_path / "data"),
            "VAULT_DIR": str(tmp_path / "vault"),
            "SEMANTIC_SCHOLAR_API_URL": s2.base_url,
            "SEMANTIC_SCHOLAR_RATE": "100",
            "SUMMARIZER__FETCH_PDFS": "false",
            "LOG_LEVEL": "INFO",
        }
        commands = [
            [REFNET, "worker", "--queue", queue] for queue in ("crawler", "summarizer", "generator")
        ]
        with running_workers(commands, env, tmp_path) as app, api_server(tmp_path, env) as api:
            with api.client(api.token(Role.OPERATOR)) as client:
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
            api_log = api.log

    assert lines_with(api_log, REQUEST_ID)
    for number, task in enumerate(("crawl_seeds", "summarize_papers", "generate_vault")):
        traced = lines_with(tmp_path / f"worker{number}.log", REQUEST_ID)
        assert any(str(entry.get("task", "")).endswith(task) for entry in traced), task
