"""API throughput: requests/s and latency of `refnet serve` on 100,000 papers and 1,000,000 edges.

Loads the dataset of `api_dataset` into a scratch PostgreSQL database (or, with `--reuse`,
keeps the one a previous run loaded when its counts match), creates a reader with
`refnet users create`, starts `refnet serve --workers 2` with rate limits far above the load,
signs in, and drives it with wrk on loopback (32 connections, 2 threads) for `--duration`
seconds per scenario after a short warm-up, rotating over many papers and queries:

- `detail`: GET /api/papers/{s2_id}, random collected papers, one in ten among the most cited;
- `search`: GET /api/papers/search?q=TERM&limit=10, words found in few, some and very many
  papers, a third each;
- `graph`: GET /api/papers/{s2_id}/graph?depth=1&limit=100, the most cited and random papers,
  half each.

Each scenario runs twice: on the server as shipped, whose Redis response cache keeps answers of
detail, search and graph until paper data changes (a rotation over hundreds of queries and
papers is then mostly served from it), and on one with the cache off
(`API__RESPONSE_CACHE_SECONDS=0`: every request reads the database), reported under `uncached`.

The baseline, measured in the same run and the same way, is the ceiling: a bare FastAPI app
with one route returning a constant (`api_ceiling`), served by uvicorn with the same workers,
uvloop and httptools. It runs first and again last (`ceiling_rps_after`), so a machine that got
busier during the run shows. `errors` counts socket errors and every response that is not 2xx.
Prints one JSON line; exits 1 when any request failed. Every process it starts is stopped,
even on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import ssl
import string
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from benchmarks import api_dataset
from benchmarks.api_dataset import Sample
from benchmarks.api_wrk import FIGURES, free_port, run_wrk, server, wrk_binary
from benchmarks.nginx_front import dev_certificate, nginx_in_front
from benchmarks.search_latency import drop_database
from refnet.db import migrate
from refnet.db.session import dispose_engines

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FLOORS = {"detail_rps": 1000, "search_rps": 300, "p99_ms": 100}
USERNAME = "bencher"
SCENARIOS = ("detail", "search", "graph")


def scenario_paths(sample: Sample, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    detail = [
        sample.well_cited[(n // 10) % len(sample.well_cited)] if n % 10 == 9 else paper
        for n, paper in enumerate(sample.random_papers)
    ]
    graph_papers = [
        paper
        for pair in zip(sample.well_cited, sample.random_papers[::7], strict=False)
        for paper in pair
    ]
    terms = sample.terms
    per_kind = max(len(words) for words in terms.values())
    queries = [words[n % len(words)] for words in terms.values() if words for n in range(per_kind)]
    paths = {
        "detail": [f"/api/papers/{paper}" for paper in detail],
        "search": [f"/api/papers/search?q={urllib.parse.quote(term)}&limit=10" for term in queries],
        "graph": [f"/api/papers/{paper}/graph?depth=1&limit=100" for paper in graph_papers],
    }
    for listed in paths.values():
        rng.shuffle(listed)
    return paths


def prepare_dataset(args: argparse.Namespace) -> tuple[Sample, dict[str, Any]]:
    """The dataset's sample, and whether it was loaded now (how long it took) or reused."""
    sample = api_dataset.stored_sample(args.database_url) if args.reuse else None
    wanted = (args.papers, args.edges, args.seed)
    if sample is not None and (sample.papers, sample.edges, sample.seed) == wanted:
        figures: dict[str, Any] = {"reused": True}
    else:
        sample, loaded = api_dataset.load_timed(args.database_url, *wanted)
        figures = {"reused": False, "load_s": loaded["total_s"]}
    migrate.upgrade(args.database_url)  # a newer RefNet may have added a revision since
    dispose_engines()
    return sample, figures


def server_env(
    database_url: str, redis_url: str, data_dir: str, **overrides: str
) -> dict[str, str]:
    """What a benchmark's `refnet serve` and commands run with: a fresh JWT secret, reads not
    rate-limited, nginx on loopback trusted (with --through-nginx); then `overrides`."""
    alphabet = string.ascii_letters + string.digits
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": "".join(secrets.choice(alphabet) for _ in range(48)),
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "REFNET_DATA_DIR": data_dir,
        "RATE_LIMIT__READ": "1000000/second",
        "RATE_LIMIT__LOGIN": "1000/second",
        "API__TRUSTED_PROXIES": "127.0.0.1/32",
        **overrides,
    }


def ensure_reader(
    env: dict[str, str], workdir: str, username: str = USERNAME, role: str = "reader"
) -> str:
    """The benchmark's user, created (or, from an earlier run, given a new password)."""
    password = secrets.token_urlsafe(24)
    command = [str(BIN / "refnet"), "users", "create", username, "--role", role]
    result = subprocess.run(
        command, env=env, cwd=workdir, input=password + "\n", capture_output=True, text=True
    )
    if result.returncode != 0 and "already exists" in result.stdout + result.stderr:
        command = [str(BIN / "refnet"), "users", "reset-password", username]
        result = subprocess.run(
            command, env=env, cwd=workdir, input=password + "\n", capture_output=True, text=True
        )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed: {result.stdout}{result.stderr}")
    return password


def login(base_url: str, password: str) -> str:
    body = json.dumps({"username": USERNAME, "password": password}).encode()
    request = urllib.request.Request(
        base_url + "/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    # Through nginx the certificate is the benchmark's own, made for loopback (wrk does not
    # verify one either).
    context = ssl._create_unverified_context() if base_url.startswith("https:") else None
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        token: str = json.load(response)["access_token"]
    return token


def measure(base_url: str, paths: list[str], token: str | None, args: argparse.Namespace) -> Any:
    """A warm-up (caches, connection pools, plans), then the measured run."""
    options = {"connections": args.connections, "threads": args.threads, "check": True}
    run_wrk(base_url, paths, token=token, seconds=args.warmup, **options)
    figures = run_wrk(base_url, paths, token=token, seconds=args.duration, **options)
    non_2xx = sum(count for status, count in figures["statuses"].items() if status[0] != "2")
    figures["errors"] = figures["socket_errors"] + non_2xx
    shown = {name: figures[name] for name in FIGURES}
    shown["requests"] = figures["requests"]
    shown["bytes_per_response"] = figures["bytes"] // max(figures["requests"], 1)
    if non_2xx:
        shown["statuses"] = figures["statuses"]
    return shown


@contextmanager
def edge(base: str, args: argparse.Namespace) -> Iterator[str]:
    """`base` itself, or with `--through-nginx` the shipped nginx with TLS in front of it."""
    if not args.through_nginx:
        yield base
        return
    with tempfile.TemporaryDirectory(prefix="refnet-bench-edge-") as directory:
        workdir = Path(directory)
        tls_dir = dev_certificate(workdir / "tls")
        with nginx_in_front(base.removeprefix("http://"), workdir, tls_dir) as (port, _):
            yield f"https://localhost:{port}"


@contextmanager
def ceiling_server(args: argparse.Namespace) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.api_ceiling:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(args.workers), "--loop", "uvloop",
        "--http", "httptools", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with server(command, env, base + "/ceiling"), edge(base, args) as url:
        yield url


@contextmanager
def refnet_server(env: dict[str, str], workdir: str, args: argparse.Namespace) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(BIN / "refnet"), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(args.workers),
    ]  # fmt: skip
    with server(command, env, base + "/ready", cwd=workdir), edge(base, args) as url:
        yield url


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk_binary()  # before the load, not after it
    load_before = os.getloadavg()[0]
    sample, dataset = prepare_dataset(args)
    paths = scenario_paths(sample, args.seed)
    with ceiling_server(args) as base:
        ceiling = measure(base, ["/ceiling"], None, args)
    with tempfile.TemporaryDirectory(prefix="refnet-bench-api-") as workdir:
        env = server_env(args.database_url, args.redis_url, workdir)
        redis.Redis.from_url(args.redis_url).flushdb()  # rate-limit and lockout counters
        password = ensure_reader(env, workdir)
        figures = run_scenarios(env, workdir, password, paths, args)
        uncached = run_scenarios(
            {**env, "API__RESPONSE_CACHE_SECONDS": "0"}, workdir, password, paths, args
        )
    with ceiling_server(args) as base:
        ceiling_after = measure(base, ["/ceiling"], None, args)
    errors = sum(
        f["errors"] for f in (ceiling, ceiling_after, *figures.values(), *uncached.values())
    )
    return {
        "benchmark": "api_throughput",
        "papers": args.papers,
        "edges": args.edges,
        "workers": args.workers,
        "through_nginx": args.through_nginx,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "duration_s": args.duration,
        "dataset": dataset,
        "load_average_before": round(load_before, 2),
        "ceiling": ceiling,
        "ceiling_rps_after": ceiling_after["rps"],
        **figures,
        "uncached": uncached,
        "distinct_paths": {name: len(set(paths[name])) for name in SCENARIOS},
        "detail_fraction_of_ceiling": round(figures["detail"]["rps"] / ceiling["rps"], 3),
        "floors": FLOORS,
        "meets_floors": meets_floors(figures) and errors == 0,
        "meets_floors_uncached": meets_floors(uncached) and errors == 0,
    }


def run_scenarios(
    env: dict[str, str],
    workdir: str,
    password: str,
    paths: dict[str, list[str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    with refnet_server(env, workdir, args) as base:
        token = login(base, password)
        return {name: measure(base, paths[name], token, args) for name in SCENARIOS}


def meets_floors(figures: dict[str, Any]) -> bool:
    return (
        figures["detail"]["rps"] >= FLOORS["detail_rps"]
        and figures["search"]["rps"] >= FLOORS["search_rps"]
        and max(figures[name]["p99_ms"] for name in SCENARIOS) <= FLOORS["p99_ms"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=api_dataset.DEFAULT_URL)
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/12",
        help="a Redis database of its own: the benchmark empties it",
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep a loaded dataset of this size")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--through-nginx",
        action="store_true",
        help="drive both servers through the shipped nginx configuration with TLS",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    try:
        result = run(args)
    finally:
        if args.drop:
            drop_database(args.database_url)
    print(json.dumps(result))
    errors = sum(result[name]["errors"] for name in ("ceiling", *SCENARIOS)) + sum(
        figures["errors"] for figures in result["uncached"].values()
    )
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
