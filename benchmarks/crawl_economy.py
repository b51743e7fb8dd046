"""Crawl economy: requests, papers per request and wall time at the API's 1 request/s.

Builds a 20,000-paper synthetic graph behind the fake Semantic Scholar server (which answers 429
to anything faster than 1 request/s), then runs the real `refnet crawl` command against it for
5,000 papers at depth 2: once cleanly, once with 20% of responses faulted. Prints one JSON line.

The baseline, measured in the same run, is the clean crawl: the faulted crawl must store the
identical network, and the clean crawl's wall time is compared with requests x 1 s (the least the
rate limit allows). `naive_requests` is what one request per collected paper would have cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from refnet.db.session import dispose_engines
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar, Faults
from tests.support.network import Network, stored_network

ROOT = Path(__file__).resolve().parents[1]
REFNET = ROOT / ".venv" / "bin" / "refnet"
API_KEY = "benchmark-key-0123456789"


def reset_database(url: str) -> None:
    dispose_engines()
    engine = sa.create_engine(url)
    if url.startswith("postgresql"):
        admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)')
            )
            connection.execute(sa.text(f'CREATE DATABASE "{engine.url.database}"'))
        admin.dispose()
    elif engine.url.database:
        Path(engine.url.database).unlink(missing_ok=True)
    engine.dispose()


def pick_seed(graph: SyntheticGraph) -> str:
    """A well-cited paper that cites others: what a user would start from."""
    citing = [p for p in graph.papers if sum(r is not None for r in graph.references[p]) >= 20]
    return max(citing, key=lambda p: (len(graph.citations_of(p)), p))


def run_crawl(fake: FakeSemanticScholar, url: str, seed: str, papers: int) -> dict[str, float]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SEMANTIC_SCHOLAR_API_URL": fake.base_url,
        "SEMANTIC_SCHOLAR_API_KEY": API_KEY,
        "SEMANTIC_SCHOLAR_TIMEOUT": "2",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([str(REFNET), "db", "upgrade"], env=env, check=True, capture_output=True)
    fake.reset_counters()
    started = time.monotonic()
    child = subprocess.Popen(
        [str(REFNET), "crawl", seed, "--depth", "2", "--max-papers", str(papers), "--no-pipeline"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        stderr = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"refnet crawl failed ({status}): {stderr[-2000:]}")
    return {
        "requests": fake.total_requests,
        "faulted_requests": fake.faulted_requests,
        "rate_violations": fake.rate_violations,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def summarize(run: dict[str, float], network: Network) -> dict[str, float]:
    return {
        **run,
        "papers": len(network.papers),
        "edges": len(network.edges),
        "papers_per_request": round(len(network.papers) / max(run["requests"], 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--graph", type=int, default=20_000)
    parser.add_argument("--papers", type=int, default=5_000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--interval", type=float, default=1.0, help="the fake's min interval")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "REFNET_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/refnet_bench"
        ),
    )
    args = parser.parse_args()

    graph = make_graph(args.graph, seed=42)
    seed = pick_seed(graph)
    os.environ["SEMANTIC_SCHOLAR_RATE"] = str(1 / args.interval)
    with FakeSemanticScholar(graph, min_interval=args.interval, required_api_key=API_KEY) as fake:
        reset_database(args.database_url)
        clean_run = run_crawl(fake, args.database_url, seed, args.papers)
        clean_network = stored_network(args.database_url)
        fake.faults = Faults(
            rate=args.fault_rate, retry_after=1.0, timeout_seconds=3.0, max_consecutive=2, seed=1
        )
        reset_database(args.database_url)
        faulted_run = run_crawl(fake, args.database_url, seed, args.papers)
        faulted_network = stored_network(args.database_url)
    clean = summarize(clean_run, clean_network)
    faulted = summarize(faulted_run, faulted_network)
    result = {
        "benchmark": "crawl_economy",
        "graph_papers": args.graph,
        "database": sa.make_url(args.database_url).get_backend_name(),
        "interval_s": args.interval,
        "clean": clean,
        "wall_over_min": round(clean["wall_s"] / (clean["requests"] * args.interval), 3),
        "naive_requests": clean["papers"],
        f"faulted_{int(args.fault_rate * 100)}pct": faulted,
        "identical_under_faults": faulted_network == clean_network,
    }
    print(json.dumps(result))
    sys.exit(0 if result["identical_under_faults"] else 1)


if __name__ == "__main__":
    main()
