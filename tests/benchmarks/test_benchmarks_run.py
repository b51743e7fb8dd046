"""Every benchmark script runs end to end (at toy sizes) and prints one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    figures = json.loads(lines[0])
    assert isinstance(figures, dict)
    return figures


def test_crawl_economy_benchmark(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/refnet_bench_smoke"
    figures = run_benchmark(
        "benchmarks.crawl_economy",
        "--graph", "600", "--papers", "120", "--interval", "0.02", "--database-url", url,
    )  # fmt: skip
    assert figures["identical_under_faults"] is True
    assert figures["clean"]["papers"] == 120  # type: ignore[index]


def test_search_latency_benchmark(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/refnet_search_bench_smoke"
    figures = run_benchmark(
        "benchmarks.search_latency",
        "--papers", "1500", "--upsert-papers", "500", "--terms", "3", "--rounds", "1",
        "--database-url", url,
    )  # fmt: skip
    assert figures["papers"] == 1500
    assert figures["rare"]["queries"] == 3  # type: ignore[index]


def test_vault_generation_benchmark() -> None:
    figures = run_benchmark(
        "benchmarks.vault_generation", "--papers", "200", "--stubs", "20", "--seeds", "2"
    )
    assert figures["sqlite"]["title_change"]["exact"] is True  # type: ignore[index]


def test_backup_restore_benchmark(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/refnet_backup_bench_smoke"
    figures: Any = run_benchmark(
        "benchmarks.backup_restore", "--papers", "300", "--seeds", "2", "--database-url", url
    )
    for dialect in ("sqlite", "postgresql"):
        database = figures[dialect]
        assert database["rows"]["papers"] == 360  # 300 collected and 60 stubs
        assert database["database_bytes"] > 0
        assert database["create"]["bytes"] > 0
        for phase in ("create", "verify", "restore"):
            assert {"seconds", "baseline_seconds", "overhead_ratio", "peak_rss_mb"} <= set(
                database[phase]
            ), (dialect, phase)
        assert database["restore"]["counts_differed_before"] is True
        assert database["restore"]["counts_match"] is True
    vault = figures["vault"]
    assert vault["notes"] >= 300
    assert vault["create"]["bytes"] > 0
    for phase in ("create", "verify", "restore"):
        assert {"seconds", "baseline_seconds", "overhead_ratio", "peak_rss_mb"} <= set(vault[phase])
    assert vault["restore"]["files_match"] is True


def test_extractive_summarizer_benchmark() -> None:
    figures = run_benchmark(
        "benchmarks.extractive_summarizer", "--papers", "2", "--pages", "2", "--storm-papers", "10"
    )
    assert float(figures["extract_and_summarize_pages_per_s"]) > 0  # type: ignore[arg-type]
    storm = figures["pipeline_20pct_pdf_failures"]
    assert storm == {**storm, "summarized": 10, "from_abstract": 2, "notes_written": 10}


def test_metrics_scrape_benchmark(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/refnet_metrics_bench_smoke"
    figures: Any = run_benchmark(
        "benchmarks.metrics_scrape",
        *("--papers", "500", "--edges", "2000", "--calls", "3"),
        *("--events", "1000", "--repeats", "1", "--database-url", url),
    )
    scrape = figures["scrape"]
    assert scrape["render"]["bytes"] > scrape["baseline_generate_latest"]["bytes"]
    assert {"p50_ms", "p95_ms"} <= set(scrape["database_figures"])
    assert scrape["statements"]["citation_edges"]["p50_ms"] > 0
    multiprocess = figures["events_multiprocess"]
    assert multiprocess["counted_in_files"] is True
    assert multiprocess["prometheus_client_imported_before_prepare"] is False
    assert figures["events_single"]["http_request_ns"] > 0
