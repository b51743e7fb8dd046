"""The `refnet` command as a user runs it: messages, exit codes, and what ends up stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from refnet.cli import app
from refnet.core.config import get_settings
from refnet.db.session import get_engine
from tests.conftest import PG_URL, empty_database

runner = CliRunner()
RAG = "ARXIV:2005.11401"


def refnet(*args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def embedded_jobs(tmp_path: Path) -> list[tuple[str, str | None]]:
    engine = get_engine(f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}")
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(sa.text("SELECT status, error FROM crawl_jobs"))
        ]  # type: ignore[misc]


def test_malformed_seed_is_refused_with_the_accepted_forms(tmp_path: Path) -> None:
    code, output = refnet("crawl", "--source", "sample", "CorpusId:abc")
    assert code == 2
    assert "CorpusId:abc" in output
    assert "arXiv" in output and "DOI" in output
    assert "Traceback" not in output
    assert not (tmp_path / "data").exists()  # nothing was started


def test_unknown_source_is_refused() -> None:
    code, output = refnet("crawl", "--source", "elsewhere", RAG)
    assert code == 2
    assert "snapshot:PATH" in output


def test_seed_the_source_does_not_know_fails_the_job_with_a_reason(tmp_path: Path) -> None:
    code, output = refnet("crawl", "--source", "sample", "ARXIV:2101.00001")
    assert code == 1
    assert "does not know these seeds: ARXIV:2101.00001" in output
    [(status, error)] = embedded_jobs(tmp_path)
    assert status == "failed"
    assert error is not None and "ARXIV:2101.00001" in error


def test_crawl_then_show_and_stats() -> None:
    code, output = refnet("crawl", "--source", "sample", "--depth", "1", RAG)
    assert code == 0, output
    assert "completed" in output

    code, output = refnet("papers", "show", "https://arxiv.org/abs/2005.11401v4")
    assert code == 0, output
    assert "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks" in output
    assert "Dense Passage Retrieval" in output  # a stored reference

    code, output = refnet("stats")
    assert code == 0
    assert "papers collected" in output and "citation links" in output


def test_show_of_a_paper_not_stored_says_so() -> None:
    code, output = refnet("papers", "show", "DOI:10.1000/not-here")
    assert code == 1
    assert "no stored paper matches" in output


def test_crawl_by_title_resolves_through_title_match() -> None:
    code, output = refnet(
        "crawl", "--source", "sample", "--depth", "0", "attention is all you need"
    )
    assert code == 0, output
    code, output = refnet("papers", "show", "ARXIV:1706.03762")
    assert code == 0 and "Attention Is All You Need" in output


def test_demo_crawls_the_sample_and_reports_it(tmp_path: Path) -> None:
    code, output = refnet("demo")
    assert code == 0, output
    assert re.search(r"papers collected\s*│\s*69", output)
    assert re.search(r"summaries done\s*│\s*69", output)
    assert re.search(r"notes in the vault\s*│\s*69", output)
    assert "Open it in Obsidian" in output
    assert (tmp_path / "data" / "refnet.sqlite3").exists()
    assert len(list((tmp_path / "vault" / "papers").glob("*.md"))) == 69
    assert (tmp_path / "vault" / "RefNet Index.md").exists()


@pytest.fixture
def empty_pg(pg_migrated: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = PG_URL.rsplit("/", 1)[0] + "/refnet_test_cli"
    empty_database(url)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.mark.parametrize("command", [["stats"], ["db", "upgrade"], ["db", "current"]])
def test_unreachable_database_is_a_message_not_a_traceback(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/refnet")
    code, output = refnet(*command)
    assert code == 75  # EX_TEMPFAIL: a server that does not answer may answer later
    assert "database unavailable" in output and "Connection refused" in output
    assert "Traceback" not in output


def test_server_database_with_old_schema_is_refused_until_upgraded(empty_pg: str) -> None:
    code, output = refnet("stats")
    assert code == 1
    assert "refnet db upgrade" in output

    code, output = refnet("db", "upgrade")
    assert code == 0 and "migrated" in output

    code, output = refnet("stats")
    assert code == 0, output
