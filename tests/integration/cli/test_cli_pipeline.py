"""`refnet crawl` hands off to summaries and the vault; `summarize` and `generate` on their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from refnet.cli import app
from refnet.core.config import get_settings
from tests.support.vault import paper_notes

runner = CliRunner()
RAG = "ARXIV:2005.11401"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER__FETCH_PDFS", "false")  # the sample's PDFs are on arxiv.org


def refnet(*args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_crawl_summarizes_and_writes_the_vault(tmp_path: Path) -> None:
    code, output = refnet("crawl", "--source", "sample", "--depth", "1", RAG)

    assert code == 0, output
    notes = paper_notes(tmp_path / "vault")
    assert len(notes) == 23
    assert {n.properties["summary_source"] for n in notes.values()} == {"abstract"}
    assert {n.properties["summary_provider"] for n in notes.values()} == {"extractive"}


def test_summarize_pending_then_generate(tmp_path: Path) -> None:
    code, output = refnet("crawl", "--source", "sample", "--depth", "1", "--no-pipeline", RAG)
    assert code == 0, output
    assert not (tmp_path / "vault").exists()

    code, output = refnet("summarize", "--pending")
    assert code == 0, output
    assert "23 done" in output

    code, output = refnet("generate")
    assert code == 0, output
    assert "0 notes written, 23 unchanged" in output  # summarize already updated the vault

    code, output = refnet("summarize", RAG)
    assert code == 0 and "1 done" in output


def test_summarize_needs_papers_or_pending() -> None:
    code, output = refnet("summarize")
    assert code == 2
    assert "--pending" in output


def test_unknown_provider_is_refused() -> None:
    refnet("crawl", "--source", "sample", "--depth", "0", "--no-pipeline", RAG)
    code, output = refnet("summarize", "--pending", "--provider", "gpt")
    assert code == 2
    assert "anthropic" in output and "extractive" in output


def test_llm_provider_without_a_key_says_which_variable_to_set() -> None:
    code, output = refnet("summarize", "--pending", "--provider", "anthropic")
    assert code == 2
    assert "ANTHROPIC_API_KEY" in output


def test_watch_and_recrawl_from_the_command_line() -> None:
    refnet("crawl", "--source", "sample", "--depth", "1", RAG)

    code, output = refnet("watch", "add", "https://arxiv.org/abs/2005.11401")
    assert code == 0 and "Watching 1 seed(s)" in output

    code, output = refnet("recrawl", "--source", "sample")
    assert code == 0, output
    assert "Crawl job 2 completed" in output  # nothing in the sample is newer than the crawl

    code, output = refnet("watch", "add", "DOI:10.1000/never-crawled")
    assert code == 2 and "crawl them first" in output
