"""The whole job through the API on the embedded default: a Semantic Scholar paper URL in, the
paper's note in the vault out (crawl → summarize → generate, in the API's own process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from refnet.security.roles import Role
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import ApiServer, api_server


@pytest.fixture
def fake() -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(make_graph(400, seed=5)) as server:
        yield server


def well_cited(graph: SyntheticGraph) -> str:
    return max(graph.papers, key=lambda p: (len(graph.citations_of(p)), p))


def poll(server: ApiServer, path: str, until: str, seconds: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        answer = server.get(path)
        body: dict[str, object] = answer.json() if answer.status_code == 200 else {}
        if body.get("status") in (until, "failed"):
            return body
        assert time.monotonic() < deadline, f"{path} never reached {until}: {body}"
        time.sleep(0.3)


def test_a_paper_url_becomes_a_note_in_the_vault(tmp_path: Path, fake: FakeSemanticScholar) -> None:
    paper = well_cited(fake.graph)
    env = {
        "SEMANTIC_SCHOLAR_API_URL": fake.base_url,
        "SEMANTIC_SCHOLAR_RATE": "200",
        "SUMMARIZER__FETCH_PDFS": "false",
    }
    with api_server(tmp_path, env) as server:
        url = f"https://www.semanticscholar.org/paper/some-title/{paper}"
        answer = server.post(
            "/api/papers/crawl", json={"paper_url": url, "depth": 1, "max_papers": 30}
        )
        assert answer.status_code == 202, answer.text
        job = poll(server, answer.headers["location"], until="completed")
        assert job["status"] == "completed", job
        assert job["progress"]["papers_collected"] > 1  # type: ignore[index]

        deadline = time.monotonic() + 90
        while (note := server.get(f"/api/papers/{paper}/note")).status_code != 200:
            assert time.monotonic() < deadline, note.text
            time.sleep(0.3)
        detail = server.get(f"/api/papers/{paper}").json()
        assert detail["summary"] is not None
        assert (tmp_path / "vault" / detail["note_path"]).read_text() == note.text
        assert server.get("/api/queue/status", role=Role.READER).json()["mode"] == "embedded"
