"""Reading PDFs in a child process: a hostile PDF costs the child, never the worker."""

from __future__ import annotations

import os
import resource
import signal
from pathlib import Path

import pytest

from refnet.summarizer import isolation
from refnet.summarizer.extract import ExtractionError, extract_text
from refnet.summarizer.isolation import extract_isolated
from tests.support.pdfs import make_operator_bomb_pdf, make_paper_pdf

MB = 1024 * 1024


def test_a_normal_pdf_reads_the_same_as_in_process(tmp_path: Path) -> None:
    paper = make_paper_pdf(tmp_path / "paper.pdf", pages=3)

    isolated = extract_isolated(paper.path, max_pages=40, timeout=30, memory_bytes=512 * MB)

    assert isolated == extract_text(paper.path, max_pages=40)


def test_a_pdf_that_needs_too_much_memory_fails_in_the_child(tmp_path: Path) -> None:
    bomb = make_operator_bomb_pdf(tmp_path / "bomb.pdf", pages=1, operators=2_000_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pytest.raises(ExtractionError, match="more than 16 MB") as refused:
        extract_isolated(bomb, max_pages=40, timeout=60, memory_bytes=16 * MB)

    assert refused.value.kind == "memory"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50  # the worker itself never held the PDF's objects


def test_a_pdf_that_takes_too_long_is_stopped(tmp_path: Path) -> None:
    bomb = make_operator_bomb_pdf(tmp_path / "slow.pdf", pages=3, operators=2_000_000)

    with pytest.raises(ExtractionError, match="longer than 1s") as stopped:
        extract_isolated(bomb, max_pages=40, timeout=1.0, memory_bytes=2048 * MB)

    assert stopped.value.kind == "timeout"


def test_a_reader_that_dies_is_reported_as_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper = make_paper_pdf(tmp_path / "paper.pdf", pages=1)

    def segfault(path: Path, *, max_pages: int) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)  # in the child: the parent only sees it die

    monkeypatch.setattr(isolation, "extract_text", segfault)
    with pytest.raises(ExtractionError, match="SIGSEGV") as crashed:
        extract_isolated(paper.path, max_pages=40, timeout=30, memory_bytes=512 * MB)

    assert crashed.value.kind == "crashed"
