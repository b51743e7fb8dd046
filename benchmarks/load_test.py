"""Load tests with Locust through nginx and TLS, checked against RefNet's service levels.

    python -m benchmarks.load_test [--profile normal|peak|stress|all] [--duration S]
                                   [--papers N --edges E] [--processes P]

Builds the whole path on this machine and drives it with `tests/load/locustfile.py`:

- a PostgreSQL server of its own (`private_postgres`, with `pg_stat_statements`) holding the
  benchmark network of `api_dataset` (100,000 papers and 1,000,000 edges by default, generated
  from a seed, so every run has the same data), and the vault written for it (`refnet generate`);
- `refnet serve --workers 2` on it, with Redis (`--redis-url`) for rate limits, the response
  cache and the task queue (no worker runs: summary requests are queued, as the API's part of
  the work is what is measured);
- the shipped nginx configuration in front of it on loopback, with a certificate from
  `scripts/generate-ssl-cert.sh` that Locust verifies; nginx's and the API's per-address rate
  limits are lifted, as every simulated user comes from the same address;
- Locust, headless, in distributed mode (`--processes`: a master and that many workers), for each
  profile: normal (10 users, 1 new per second), peak (50, 5/s), stress (100, 10/s).

While a profile runs, the CPU and memory of each component (the API's processes, nginx,
PostgreSQL, Redis, and the load generator itself) are sampled every second, and the API's
database pools from its `/metrics`; afterwards `pg_stat_statements` gives each statement's mean
and spread. Each profile prints one JSON line: latency percentiles, requests/s and errors
overall and per request, the resources, pool use and the slowest statements, and `levels`: each
service level with the measured figure and whether it was met:

    p95 < 500 ms, p99 < 1 s, >= 100 requests/s, errors < 1%, CPU < 80% and memory < 85% of the
    machine for each component, database pool use < 80%, query p95 < 100 ms.

A statement's p95 is estimated from `pg_stat_statements` as mean + 1.645 standard deviations
(it keeps no percentiles); `query_p95_ms` is the largest among statements run 20 times or more.

With `--target URL` (and `--username`, the password in `REFNET_LOAD_PASSWORD`, `--ca`) the
profiles run against a deployment that is already up, such as the Compose stack, instead; what
to ask for is read from it (its most cited papers, words of their titles, papers with notes).
Latency, rate and errors are measured there, and with `--compose-project NAME` (the stack on
this machine) the CPU and memory of each of its containers; pool use and query p95 are not
(`unmeasured` lists them). Its per-address and per-user rate limits apply: every simulated user
is one address and one account.

Bounded: every profile stops after `--duration` seconds, Locust is given a hard timeout besides,
and load is only sent to this machine or its private networks (a `--target` elsewhere is
refused, as is one that does not answer). Exits 0 when every level of every profile was met, 1 when
one was missed, 2 when the run could not start (a missing tool, a server that did not come up).
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis

from benchmarks import api_dataset
from benchmarks.api_throughput import ensure_reader, server_env
from benchmarks.api_wrk import free_port, server
from benchmarks.nginx_front import dev_certificate, nginx_binary, nginx_in_front
from benchmarks.private_postgres import PrivatePostgres, private_postgres

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "tests" / "load" / "locustfile.py"
PROFILES = {"normal": (10, 1), "peak": (50, 5), "stress": (100, 10)}
LEVELS = {
    "p95_ms": 500,
    "p99_ms": 1000,
    "rps": 100,
    "error_rate": 0.01,
    "cpu_pct": 80,
    "memory_pct": 85,
    "pool_use": 0.8,
    "query_p95_ms": 100,
}
USERNAME = "loadtester"
QUERY_MIN_CALLS = 20
SAMPLE_SIZE = 2_000


class CannotRun(Exception):
    """The run could not start; the message says why and what to do."""


# --- the path under load ------------------------------------------------------------------------


@dataclass
class Target:
    """What a profile runs against: the URL Locust is given and what it measures besides."""

    https_url: str
    api_url: str | None  # the API directly, for its /metrics (None: not reachable)
    database: PrivatePostgres | None  # None: a deployment's, whose statistics are not read
    components: dict[str, int] = field(default_factory=dict)  # name: root process id


def write_sample(sample: api_dataset.Sample, workdir: Path, with_notes: list[str]) -> Path:
    terms = [term for kind in ("rare", "medium", "common") for term in sample.terms[kind]]
    papers = sample.random_papers[:SAMPLE_SIZE] + sample.well_cited
    path = workdir / "sample.json"
    path.write_text(json.dumps({"terms": terms, "papers": papers, "with_notes": with_notes}))
    return path


def papers_with_notes(url: str, wanted: list[str]) -> list[str]:
    with psycopg.connect(api_dataset.libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT p.s2_id FROM papers p JOIN vault_files v ON v.paper_id = p.id"
            " WHERE v.kind = 'note' AND p.s2_id = ANY(%s)",
            (wanted,),
        ).fetchall()
    return [row[0] for row in rows]


def refnet_env(database_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    """The benchmark server's settings, every rate limit lifted: every simulated user comes
    from 127.0.0.1."""
    unlimited = "1000000/second"
    return server_env(
        database_url,
        redis_url,
        str(workdir / "data"),
        VAULT_DIR=str(workdir / "vault"),
        RATE_LIMIT__WRITE=unlimited,
        RATE_LIMIT__CRAWL=unlimited,
        RATE_LIMIT__LOGIN=unlimited,
    )


def generate_vault(env: Mapping[str, str], workdir: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "refnet"), "generate"],
        env=dict(env),
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise CannotRun(f"refnet generate failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def redis_pid(redis_url: str) -> int | None:
    port = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs.get("port", 6379)
    for connection in psutil.net_connections("tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return connection.pid
    return None


POOL_LINE = re.compile(r'refnet_db_pool_(size|in_use)_connections\{pool="(\w+)"\} (\S+)')


def pool_use(api_url: str) -> dict[str, float]:
    """In use / capacity of each database pool, summed over the API's processes."""
    with urllib.request.urlopen(api_url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    figures: dict[tuple[str, str], float] = {}
    for kind, pool, value in POOL_LINE.findall(text):
        figures[kind, pool] = float(value)
    return {
        pool: figures.get(("in_use", pool), 0.0) / size
        for (kind, pool), size in figures.items()
        if kind == "size" and size > 0
    }


class Sampler(threading.Thread):
    """Every second: CPU and memory of each component's processes, and the API's pool use."""

    def __init__(self, components: dict[str, int], api_url: str | None) -> None:
        super().__init__(daemon=True)
        self.components = components
        self.api_url = api_url
        self.cores = psutil.cpu_count() or 1
        self.memory = psutil.virtual_memory().total
        self.cpu: dict[str, list[float]] = {name: [] for name in components}
        self.memory_used: dict[str, list[int]] = {name: [] for name in components}
        self.pools: dict[str, list[float]] = {}
        self.machine: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        last = {name: self._cpu_seconds(tree(pid)) for name, pid in self.components.items()}
        last_at = time.monotonic()
        psutil.cpu_percent()
        while not self.halt.wait(1.0):
            now = time.monotonic()
            self.machine.append(psutil.cpu_percent())
            for name, pid in self.components.items():
                processes = tree(pid)
                seconds = self._cpu_seconds(processes)
                # A process started since the last sample counts whole; one that has ended since
                # is left out (its last second cannot be read any more).
                used = sum(total - last[name].get(p, 0.0) for p, total in seconds.items())
                self.cpu[name].append(100 * used / ((now - last_at) * self.cores))
                self.memory_used[name].append(sum(self._memory(p) for p in processes))
                last[name] = seconds
            last_at = now
            if self.api_url is None:
                continue
            try:
                for pool, share in pool_use(self.api_url).items():
                    self.pools.setdefault(pool, []).append(share)
            except OSError:
                pass

    @staticmethod
    def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
        seconds = {}
        for process in processes:
            try:
                times = process.cpu_times()
                seconds[process.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return seconds

    @staticmethod
    def _memory(process: psutil.Process) -> int:
        """Proportional set size: shared memory (PostgreSQL's buffers) counted once in all."""
        try:
            return int(process.memory_full_info().pss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return 0

    def figures(self) -> dict[str, Any]:
        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        return {
            "cpu_pct": {name: round(mean(values), 1) for name, values in self.cpu.items()},
            "cpu_pct_max": {
                name: round(max(values, default=0.0), 1) for name, values in self.cpu.items()
            },
            "memory_mb": {
                name: round(max(values, default=0) / 2**20)
                for name, values in self.memory_used.items()
            },
            "memory_pct": {
                name: round(100 * max(values, default=0) / self.memory, 2)
                for name, values in self.memory_used.items()
            },
            "machine_cpu_pct": round(mean(self.machine), 1),
            "pool_use_max": {pool: round(max(values), 3) for pool, values in self.pools.items()},
        }


def reset_statements(url: str) -> None:
    with psycopg.connect(api_dataset.libpq_url(url), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        connection.execute("SELECT pg_stat_statements_reset()")


def slowest_statements(url: str) -> list[dict[str, Any]]:
    """Statements of the run with an estimated p95, slowest first."""
    with psycopg.connect(api_dataset.libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT calls, mean_exec_time, stddev_exec_time, left(regexp_replace(query, '\\s+',"
            " ' ', 'g'), 120) FROM pg_stat_statements WHERE calls >= %s"
            " AND query !~* 'pg_stat_statements'",
            (QUERY_MIN_CALLS,),
        ).fetchall()
    statements = [
        {
            "calls": calls,
            "mean_ms": round(mean, 3),
            "p95_ms_estimated": round(mean + 1.645 * stddev, 3),
            "query": query,
        }
        for calls, mean, stddev, query in rows
    ]
    return sorted(statements, key=lambda s: -s["p95_ms_estimated"])


def locust_figures(stats_csv: Path) -> dict[str, Any]:
    with stats_csv.open() as opened:
        rows = list(csv.DictReader(opened))

    def figures(row: dict[str, str]) -> dict[str, Any]:
        requests = int(row["Request Count"])
        failures = int(row["Failure Count"])
        return {
            "requests": requests,
            "failures": failures,
            "rps": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]),
            "error_rate": round(failures / requests, 4) if requests else 1.0,
        }

    total = next(row for row in rows if row["Name"] == "Aggregated")
    return {
        **figures(total),
        "by_request": {
            f"{row['Type']} {row['Name']}": figures(row)
            for row in rows
            if row["Name"] != "Aggregated"
        },
    }


def locust_command(
    host: str, users: int, spawn_rate: int, args: argparse.Namespace, out: Path
) -> list[str]:
    return [
        str(BIN / "locust"), "-f", str(args.locustfile), "--headless",
        "-u", str(users), "-r", str(spawn_rate), "-t", f"{args.duration}s",
        "--host", host, "--processes", str(args.processes), "--csv", str(out / "locust"),
        "--only-summary", "--stop-timeout", "5", "--exit-code-on-error", "0",
        "--loglevel", "WARNING", *args.user_classes,
    ]  # fmt: skip


def levels(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each service level with the figure measured (None where this run could not measure it)
    and whether it was met."""
    resources = figures["resources"]

    def worst(values: dict[str, float]) -> float | None:
        served = [value for name, value in values.items() if name != "locust"]
        return max(served) if served else None

    measured = {
        "p95_ms": figures["p95_ms"],
        "p99_ms": figures["p99_ms"],
        "rps": figures["rps"],
        "error_rate": figures["error_rate"],
        "cpu_pct": worst(resources["cpu_pct"]),
        "memory_pct": worst(resources["memory_pct"]),
        "pool_use": max(resources["pool_use_max"].values(), default=None),
        "query_p95_ms": figures["query_p95_ms"],
    }
    return {
        name: {
            "measured": value,
            "level": LEVELS[name],
            "met": None
            if value is None
            else value >= LEVELS[name]
            if name == "rps"
            else value < LEVELS[name],
        }
        for name, value in measured.items()
    }


# --- the run ------------------------------------------------------------------------------------


def run_profile(
    name: str, target: Target, args: argparse.Namespace, env: Mapping[str, str], workdir: Path
) -> dict[str, Any]:
    users, spawn_rate = PROFILES[name]
    out = workdir / name
    out.mkdir()
    if target.database is not None:
        reset_statements(target.database.url)
    log = out / "locust.log"
    with log.open("wb") as output:
        locust = subprocess.Popen(
            locust_command(target.https_url, users, spawn_rate, args, out),
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    sampler = Sampler({**target.components, "locust": locust.pid}, target.api_url)
    sampler.start()
    try:
        code = locust.wait(timeout=args.duration + 120)
    except subprocess.TimeoutExpired:
        locust.kill()
        raise CannotRun(f"locust did not stop within {args.duration + 120} s") from None
    finally:
        sampler.halt.set()
        sampler.join()
    stats = out / "locust_stats.csv"
    if code != 0 or not stats.is_file():
        raise CannotRun(f"locust failed ({code}): {log.read_text(errors='replace')[-3000:]}")
    figures = locust_figures(stats)
    failures = (out / "locust_failures.csv").read_text()[:2000]
    statements = slowest_statements(target.database.url) if target.database else []
    figures |= {
        "resources": sampler.figures(),
        "query_p95_ms": statements[0]["p95_ms_estimated"] if statements else None,
        "slowest_statements": statements[:5],
    }
    report = {
        "benchmark": "load_test",
        "profile": name,
        "users": users,
        "spawn_rate": spawn_rate,
        "duration_s": args.duration,
        "locust_processes": args.processes,
        **figures,
        "levels": levels(figures),
    }
    report["meets_levels"] = all(level["met"] is not False for level in report["levels"].values())
    report["unmeasured"] = [
        name for name, level in report["levels"].items() if level["met"] is None
    ]
    if failures.count("\n") > 1:
        report["failures"] = failures
    return report


@contextmanager
def stack(
    args: argparse.Namespace, workdir: Path
) -> Iterator[tuple[Target, dict[str, str], dict[str, Any]]]:
    """Everything the profiles run against; yields it, Locust's environment and set-up figures."""
    setup: dict[str, Any] = {}
    tls_dir = dev_certificate(workdir / "tls")
    with private_postgres() as database:
        sample, loaded = api_dataset.load_timed(database.url, args.papers, args.edges, args.seed)
        setup["dataset_load_s"] = loaded["total_s"]
        redis.Redis.from_url(args.redis_url).flushdb()
        env = refnet_env(database.url, args.redis_url, workdir)
        setup["vault_generate_s"] = round(generate_vault(env, workdir), 1)
        password = ensure_reader(env, str(workdir), USERNAME, "operator")
        wanted = sample.random_papers[:SAMPLE_SIZE] + sample.well_cited
        sample_file = write_sample(sample, workdir, papers_with_notes(database.url, wanted))
        api_port = free_port()
        serve = [
            str(BIN / "refnet"), "serve", "--host", "127.0.0.1", "--port", str(api_port),
            "--workers", str(args.api_workers),
        ]  # fmt: skip
        api_url = f"http://127.0.0.1:{api_port}"
        with (
            server(serve, env, api_url + "/ready", cwd=str(workdir)) as api,
            nginx_in_front(f"127.0.0.1:{api_port}", workdir, tls_dir) as (https_port, nginx_pid),
        ):
            components = {"api": api.pid, "nginx": nginx_pid, "postgres": database.pid()}
            if (redis_process := redis_pid(args.redis_url)) is not None:
                components["redis"] = redis_process
            locust_env = {
                **os.environ,
                "REFNET_LOAD_SAMPLE": str(sample_file),
                "REFNET_LOAD_USERNAME": USERNAME,
                "REFNET_LOAD_PASSWORD": password,
                "REFNET_LOAD_CA": str(tls_dir / "fullchain.pem"),
            }
            target = Target(f"https://localhost:{https_port}", api_url, database, components)
            yield target, locust_env, setup


def local_addresses(url: str) -> list[str]:
    """The addresses `url`'s host names, each on this machine (loopback) or a private network
    (the stack's own containers); CannotRun otherwise."""
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        raise CannotRun(f"--target {url!r} is not a URL; give e.g. https://localhost:8443")
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise CannotRun(f"--target: cannot resolve {host!r}: {exc}") from None
    outside = sorted(a for a in found if not ipaddress.ip_address(a).is_private)
    if outside:
        raise CannotRun(
            f"--target {host} resolves to {', '.join(outside)}: load is only sent to this "
            "machine or its private networks (loopback, the stack's containers)"
        )
    return sorted(found)


def deployment_sample(url: str, token: str, ca: str | None, workdir: Path) -> Path:
    """What the users ask for, read from the deployment itself: its most cited papers, words of
    their titles, and which of them have notes."""
    with httpx.Client(base_url=url, verify=ca or True, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        listed = client.get("/api/papers", params={"sort": "-citations", "limit": 100})
        listed.raise_for_status()
        items = listed.json()["items"]
        if not items:
            raise CannotRun(f"{url} holds no papers to ask for; crawl some first")
        papers = [item["s2_id"] for item in items]
        words = {
            w.lower() for item in items for w in re.findall(r"[A-Za-z]{5,}", item["title"] or "")
        }
        with_notes = [
            p for p in papers[:40] if client.get(f"/api/papers/{p}/note").status_code == 200
        ]
    if not with_notes:
        raise CannotRun(f"{url} has no notes yet; run POST /api/tasks/generate first")
    path = workdir / "sample.json"
    path.write_text(
        json.dumps({"terms": sorted(words), "papers": papers, "with_notes": with_notes})
    )
    return path


@contextmanager
def deployment(
    args: argparse.Namespace, workdir: Path
) -> Iterator[tuple[Target, dict[str, str], dict[str, Any]]]:
    """A running deployment (`--target`), checked to answer before any load is sent."""
    url = args.target.rstrip("/")
    addresses = local_addresses(url)
    ca = str(args.ca) if args.ca else None
    try:
        answer = httpx.get(url + "/health", verify=ca or True, timeout=10)
    except httpx.HTTPError as exc:
        raise CannotRun(
            f"no RefNet answers at {url} ({exc}); start the stack first (make up) "
            "or leave out --target"
        ) from None
    if answer.status_code != 200:
        raise CannotRun(f"{url}/health answered {answer.status_code}: {answer.text[:200]}")
    password = os.environ.get("REFNET_LOAD_PASSWORD", "")
    with httpx.Client(base_url=url, verify=ca or True, timeout=30) as client:
        signed_in = client.post(
            "/auth/login", json={"username": args.username, "password": password}
        )
    if signed_in.status_code != 200:
        raise CannotRun(
            f"{args.username!r} cannot sign in at {url} ({signed_in.status_code}); give an "
            "operator's name with --username and the password in REFNET_LOAD_PASSWORD"
        )
    sample = deployment_sample(url, signed_in.json()["access_token"], ca, workdir)
    env = {
        **os.environ,
        "REFNET_LOAD_SAMPLE": str(sample),
        "REFNET_LOAD_USERNAME": args.username,
        "REFNET_LOAD_PASSWORD": password,
        "REFNET_LOAD_CA": ca or "",
    }
    components = containers(args.compose_project) if args.compose_project else {}
    setup = {"target": url, "addresses": addresses, "containers": sorted(components)}
    yield Target(url, None, None, components), env, setup


def containers(project: str) -> dict[str, int]:
    """Each running container of Compose project `project`: its service and its main process on
    this machine (the sampler follows its process tree, as for the processes it starts)."""
    docker = shutil.which("docker")
    if docker is None:
        raise CannotRun("--compose-project needs the docker CLI (and DOCKER_HOST for its engine)")
    listed = subprocess.run(
        [docker, "ps", "--quiet", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True,
    )  # fmt: skip
    if listed.returncode != 0:
        raise CannotRun(f"docker ps failed: {listed.stderr.strip()[:500]}")
    if not listed.stdout.split():
        raise CannotRun(f"no running container of Compose project {project!r}")
    found = subprocess.run(
        [
            docker, "inspect", "--format",
            '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Pid}}',
            *listed.stdout.split(),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    services = dict(line.split() for line in found.stdout.splitlines() if line.strip())
    return {service: int(pid) for service, pid in services.items()}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not (BIN / "locust").is_file():
        raise CannotRun("locust is not installed: `make install-dev`")
    profiles = list(PROFILES) if args.profile == "all" else [args.profile]
    with tempfile.TemporaryDirectory(prefix="refnet-load-") as directory:
        workdir = Path(directory)
        workdir.chmod(0o755)  # nginx's workers (an unprivileged user) read below it
        if args.target is None:
            nginx_binary()
        under_test = stack(args, workdir) if args.target is None else deployment(args, workdir)
        with under_test as (target, env, setup):
            reports = []
            for name in profiles:
                started = len(reports)
                report = run_profile(name, target, args, env, workdir)
                if started == 0:
                    report["setup"] = setup
                reports.append(report)
                print(json.dumps(report), flush=True)
    return reports


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    parser.add_argument("--duration", type=int, default=60, help="seconds per profile (5-3600)")
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2, help="Locust worker processes")
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--locustfile", type=Path, default=LOCUSTFILE)
    parser.add_argument(
        "--target",
        help="a running deployment's HTTPS URL (e.g. the Compose stack's https://localhost:8443) "
        "instead of building one; latency, rate and errors are measured there",
    )
    parser.add_argument("--username", default="admin", help="with --target: an operator or admin")
    parser.add_argument("--ca", type=Path, help="with --target: the certificate to trust")
    parser.add_argument(
        "--compose-project",
        help="with --target on this machine: the Compose project whose containers' CPU and "
        "memory are sampled (e.g. refnet)",
    )
    parser.add_argument(
        "--user-class", dest="user_classes", action="append", default=[],
        help="only these Locust user classes (default: all of the locustfile's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 5 <= args.duration <= 3600:
        parser.error(f"--duration {args.duration}: give 5 to 3600 seconds")
    if not 1 <= args.processes <= 16:
        parser.error(f"--processes {args.processes}: give 1 to 16")
    if args.compose_project and not args.target:
        parser.error("--compose-project goes with --target (without it, no containers run)")
    if args.papers < 100 or args.edges < args.papers:
        parser.error("--papers must be at least 100, and --edges at least as many as --papers")
    return args


def main() -> None:
    args = parse_args()
    try:
        reports = run(args)
    except (CannotRun, RuntimeError) as exc:
        print(f"load test could not run: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if all(report["meets_levels"] for report in reports) else 1)


if __name__ == "__main__":
    main()
