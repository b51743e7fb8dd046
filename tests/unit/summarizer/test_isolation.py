"""Reading PDFs in a child process: a hostile PDF costs the child, never the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


BOMB_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
from refnet.summarizer.extract import ExtractionError, extract_text
from refnet.summarizer.isolation import extract_isolated
bomb = Path(sys.argv[1])
if sys.argv[2] == "isolated":
    try:
        extract_isolated(bomb, max_pages=40, timeout=60, memory_bytes=16 * 1024 * 1024)
    except ExtractionError as exc:
        print(exc.kind, end=" ")
else:
    try:
        extract_text(bomb, max_pages=40)
    except ExtractionError as exc:
        print(exc.kind, end=" ")
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the process that started this one.
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(peak_kb // 1024)
"""


def peak_mb_reading(bomb: Path, how: str) -> tuple[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", BOMB_IN_A_FRESH_PROCESS, str(bomb), how],
        capture_output=True,
        text=True,
        check=True,
    )
    kind, peak = result.stdout.split()
    return kind, int(peak)


def test_a_pdf_that_needs_too_much_memory_fails_in_the_child(tmp_path: Path) -> None:
    bomb = make_operator_bomb_pdf(tmp_path / "bomb.pdf", pages=1, operators=2_000_000)

    with pytest.raises(ExtractionError, match="more than 16 MB") as refused:
        extract_isolated(bomb, max_pages=40, timeout=60, memory_bytes=16 * MB)
    assert refused.value.kind == "memory"

    _, peak_in_process = peak_mb_reading(bomb, "in-process")
    kind, peak_isolated = peak_mb_reading(bomb, "isolated")
    assert kind == "memory"
    assert peak_in_process > peak_isolated + 100  # the reader, not the worker, paid for it


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
