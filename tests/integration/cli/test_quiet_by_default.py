"""Logging is configured once, by the entry point: importing RefNet changes nothing, and a plain
`refnet crawl` shows its progress and results, not log lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REFNET = Path(sys.executable).parent / "refnet"

IMPORT_EVERYTHING = """
import logging, structlog
before = (list(logging.getLogger().handlers), logging.getLogger().level, structlog.is_configured())
import refnet.worker.celery_app, refnet.cli, refnet.crawler.tasks, refnet.summarizer.tasks
import refnet.generator.tasks
after = (list(logging.getLogger().handlers), logging.getLogger().level, structlog.is_configured())
assert before == after, (before, after)
print("unchanged")
"""


def test_importing_refnet_leaves_logging_alone() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unchanged"


def test_a_plain_crawl_prints_no_log_lines(tmp_path: Path) -> None:
    env = {**os.environ, "SUMMARIZER__FETCH_PDFS": "false", "LOG_LEVEL": "INFO"}
    result = subprocess.run(
        [str(REFNET), "crawl", "--source", "sample", "--depth", "1", "ARXIV:2005.11401"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Crawl job 1 completed" in result.stdout
    assert "Summaries: 23 from abstracts." in result.stdout
    assert result.stderr == ""  # nothing went wrong, so there is nothing to log
