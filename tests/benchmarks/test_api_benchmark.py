"""The API load benchmark runs end to end at toy size: dataset, users, `refnet serve`, wrk.

wrk must be installed (`.ci/run` installs it): a skipped run would prove nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]


def test_api_throughput_benchmark(pg_url: str, redis_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/refnet_api_bench_smoke"
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.api_throughput", "--papers", "2000",
            "--edges", "10000", "--duration", "2", "--warmup", "1", "--database-url", url,
            "--redis-url", redis_url, "--drop",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"{result.stdout}\n{result.stderr[-3000:]}"
    figures = json.loads(lines[0])
    for measured in (
        figures["ceiling"],
        *(figures[name] for name in ("detail", "search", "graph")),
        *figures["uncached"].values(),
    ):
        assert measured["requests"] > 0, figures
        assert measured["errors"] == 0, figures  # every answer 2xx, no socket error
    assert set(figures["uncached"]) == {"detail", "search", "graph"}
    assert result.returncode == 0, result.stderr[-3000:]
    assert (figures["papers"], figures["edges"]) == (2000, 10000)
    # Many different papers and queries, not one URL.
    assert min(figures["distinct_paths"].values()) > 100, figures["distinct_paths"]
    assert figures["detail"]["bytes_per_response"] > figures["ceiling"]["bytes_per_response"]
    assert isinstance(figures["meets_floors"], bool)
    assert isinstance(figures["meets_floors_uncached"], bool)
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"))
    with admin.connect() as connection:
        left = connection.scalar(
            sa.text("SELECT count(*) FROM pg_database WHERE datname = 'refnet_api_bench_smoke'")
        )
    admin.dispose()
    assert left == 0, "--drop left the scratch database behind"
