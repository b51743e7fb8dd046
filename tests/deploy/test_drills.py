"""Failure drills on the running Compose stack (`make drills`): what happens in real life, done to
the real containers while they work, and checked as an operator would.

Most drills repeat one reference crawl (its summaries and notes included) under a fault, and
compare the settled database and vault with those of the same crawl undisturbed (nothing lost,
nothing twice):
- a Semantic Scholar storm (30 % answered 429 or 5xx, some slowly): RefNetS2Failing's expression
  holds on the live Prometheus. It runs first: earlier answers would dilute the ratio;
- a pool process killed with SIGKILL (as the OOM killer would) mid-task, in the crawler, the
  summarizer (while an answer is awaited) and the generator (as a vault update starts);
- Redis stopped during the crawl: `/ready` answers 503 naming it and RefNetRedisDown's
  expression holds, then Redis is started again;
- LLM timeouts and 500s: RefNetLlmFailing's expression holds, and every summary arrives;
- the vault volume full: the notes fail and are recorded, the health check and
  RefNetDiskNearlyFull report the volume, and once space is freed every note is written.

And:
- the maintenance worker's pool process killed mid-backup: exactly one backup is made, by the
  redelivered task, and it verifies;
- a worker's container killed with SIGKILL: Prometheus sees its target down (RefNetTargetDown);
  started again, it is healthy and does its work. (A task it was running waits in Redis for the
  visibility timeout, as docs/operations/unattended.md says);
- PostgreSQL stopped under API load: `/ready` answers 503 naming the database and the API's
  `refnet_operations_up` is 0 while it lasts (RefNetOperationsUnreadable), no request is
  answered with anything but a success or a 503, and nothing stored is lost.

Each drill prints its recovery time (`pytest -s` shows it); docs/benchmarks.md records them.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.s2_graph import SyntheticGraph
from tests.fakes.s2_server import Faults
from tests.support.compose import wait_until
from tests.support.stack import (
    VAULT,
    Stack,
    crawl_to_notes,
    finished_job,
    job_in,
    request_crawl,
    sql,
    vault_copy,
    well_cited,
)

pytestmark = pytest.mark.timeout(1800)
# The vault on a small tmpfs, for the vault-full drill.
EXTRA_COMPOSE_FILES = ("tests/deploy/docker-compose.drills.yml",)

PAPER_TABLES = (
    "papers", "authors", "paper_authors", "citations", "summaries", "pdf_documents",
    "vault_files", "crawl_jobs", "crawl_frontier", "task_requests", "task_failures",
)  # fmt: skip
# Lines of a note that say when it was written, not what it holds.
VOLATILE_LINE = re.compile(r"^(refnet_)?(updated|generated|created|written)\w*:", re.IGNORECASE)


def prometheus_query(stack: Stack, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"http://127.0.0.1:{stack.prometheus_port}/api/v1/query", params={"query": expression}
    )
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def alert_expression(name: str) -> str:
    """The `expr` of alert `name` in the shipped rules, as Prometheus evaluates it."""
    rules = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "rules"
    for path in sorted(rules.glob("*.yml")):
        found = re.search(rf"- alert: {name}\n\s+expr: (.+)\n", path.read_text())
        if found:
            return found.group(1).strip()
    raise AssertionError(f"no alert {name} in {rules}")


def alert_holds(
    stack: Stack, name: str, what: str, seconds: float = 300, **labels: str
) -> list[dict[str, Any]]:
    """Wait until alert `name`'s expression returns a series with `labels` on the live
    Prometheus (as it would fire, less its `for`); those series."""
    found: list[dict[str, Any]] = wait_until(
        lambda: [
            series
            for series in prometheus_query(stack, alert_expression(name))
            if all(series["metric"].get(key) == value for key, value in labels.items())
        ],
        what,
        seconds=seconds,
        interval=5,
    )
    return found


# --- the state a drill compares -----------------------------------------------------------------


def network_state(stack: Stack) -> dict[str, list[str]]:
    """Everything a crawl, its summaries and notes leave, without ids or times."""
    rows = {
        "papers": "SELECT s2_id || ' ' || crawl_state || ' ' || coalesce(title, '') FROM papers",
        "citations": (
            "SELECT a.s2_id || ' -> ' || b.s2_id FROM citations c"
            " JOIN papers a ON a.id = c.citing_id JOIN papers b ON b.id = c.cited_id"
        ),
        "summaries": (
            "SELECT p.s2_id || ' ' || s.status || ' ' || coalesce(s.input_kind, '-')"
            " FROM summaries s JOIN papers p ON p.id = s.paper_id"
        ),
        "authors": "SELECT name FROM authors",
        "jobs": "SELECT status || ' ' || papers_collected || ' ' || edges_stored FROM crawl_jobs",
    }
    return {name: sorted(sql(stack, query).splitlines()) for name, query in rows.items()}


def vault_state(stack: Stack, name: str) -> dict[str, str]:
    """Each note's path and a digest of its content, lines that only say when left out."""
    vault = vault_copy(stack, name)
    state = {}
    for note in sorted(vault.rglob("*.md")):
        kept = [line for line in note.read_text().splitlines() if not VOLATILE_LINE.match(line)]
        state[str(note.relative_to(vault))] = hashlib.sha256("\n".join(kept).encode()).hexdigest()
    return state


def settled_state(stack: Stack, name: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The database and vault once the work a crawl hands on (summaries, notes) is all done:
    no summary waiting, and the same state twice in a row."""
    pending = "SELECT count(*) FROM summaries WHERE status NOT IN ('done', 'failed')"
    previous: list[Any] = [None]

    def settled() -> tuple[dict[str, list[str]], dict[str, str]] | None:
        if sql(stack, pending) != "0":
            return None
        state = network_state(stack), vault_state(stack, f"{name}-{time.monotonic_ns()}")
        done, previous[0] = state == previous[0], state
        return state if done else None

    result: tuple[dict[str, list[str]], dict[str, str]] = wait_until(
        settled, f"{name}: summaries and notes all done", seconds=300, interval=5
    )
    return result


def wipe_paper_data(stack: Stack) -> None:
    """Back to an empty network (users and the schedule kept), the vault and cached answers
    emptied, once every worker is idle."""
    wait_until(
        lambda: (
            sql(stack, "SELECT count(*) FROM task_requests WHERE status IN ('queued', 'running')")
            == "0"
        ),
        "the workers idle",
        seconds=300,
        interval=2,
    )
    sql(stack, f"TRUNCATE {', '.join(PAPER_TABLES)} RESTART IDENTITY CASCADE")
    stack.compose.exec("worker-generator", "sh", "-c", f"rm -rf {VAULT}/* {VAULT}/.[!.]*")
    stack.compose.exec(
        "redis",
        "sh",
        "-c",
        'export REDISCLI_AUTH="$(cat /run/secrets/redis_password)";'
        " redis-cli --scan --pattern 'refnet:paper-data:*' | xargs -r redis-cli del",
    )


# --- load while a drill runs --------------------------------------------------------------------


@dataclass
class Load:
    """GET requests in a loop from a thread, every answer kept with its time: a steady load of
    one client, below nginx's limit per address."""

    stack: Stack
    paths: list[str]
    token: str
    answers: list[tuple[float, str, int, str]] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.stack.client(self.token) as client:
            while not self.halt.is_set():
                for path in self.paths:
                    try:
                        answer = client.get(path, timeout=10)
                        self.answers.append(
                            (time.monotonic(), path, answer.status_code, answer.text)
                        )
                    except httpx.HTTPError as exc:
                        self.answers.append((time.monotonic(), path, 0, repr(exc)))
                time.sleep(0.3)  # about 12 requests/s: under nginx's 20/s per address

    def statuses(self, since: float = 0.0) -> Counter[int]:
        return Counter(status for at, _, status, _ in self.answers if at >= since)


@contextmanager
def under_load(stack: Stack, paths: list[str]) -> Iterator[Load]:
    load = Load(stack, paths, stack.admin_token())
    thread = threading.Thread(target=load.run, daemon=True)
    thread.start()
    try:
        yield load
    finally:
        load.halt.set()
        thread.join(timeout=30)


# --- the drills ---------------------------------------------------------------------------------


FIND_POOL = """
import os, signal, sys, time

def info(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1]), cmdline

found = {int(p): info(p) for p in os.listdir("/proc") if p.isdigit()}
workers = {p for p, i in found.items() if i and "refnet worker" in i[1]}
pool = sorted(p for p in workers if found[p][0] in workers)
"""

KILL_POOL = (
    FIND_POOL
    + """
for pid in pool:
    os.kill(pid, signal.SIGKILL)
print(" ".join(map(str, pool)))
"""
)

# Kills the first pool process that starts working (its CPU time grows by 20 ms) within argv[1]
# seconds, and prints its pid; exits 1 if none did.
KILL_BUSY_POOL = (
    FIND_POOL
    + """
def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

idle = {pid: cpu(pid) for pid in pool}
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    for pid in pool:
        if cpu(pid) - idle[pid] >= 2:
            os.kill(pid, signal.SIGKILL)
            print(pid)
            sys.exit(0)
    time.sleep(0.002)
sys.exit(1)
"""
)


def kill_pool_processes(stack: Stack, service: str) -> list[str]:
    """SIGKILL every pool process of the worker in `service` (as the OOM killer would the one
    doing the work); its main process stays. The pids killed."""
    return stack.compose.exec(service, "python", "-c", KILL_POOL).split()


State = tuple[dict[str, list[str]], dict[str, str]]


def reference_paper(graph: SyntheticGraph) -> str:
    """The paper every comparing drill crawls."""
    return well_cited(graph, 3)


@dataclass(frozen=True)
class Reference:
    """A crawl done undisturbed: the paper and the state it settles in."""

    paper: str
    state: State


@pytest.fixture(scope="module")
def undisturbed(stack: Stack, graph: SyntheticGraph) -> Reference:
    """The crawl every comparing drill repeats under its fault, done once without one."""
    wipe_paper_data(stack)
    paper = reference_paper(graph)
    crawl_to_notes(stack, graph, paper)
    state = settled_state(stack, "undisturbed")
    assert len(state[0]["papers"]) > 10 and len(state[1]) > 10
    return Reference(paper, state)


@contextmanager
def semantic_scholar_faults(stack: Stack, faults: Faults) -> Iterator[None]:
    stack.s2.faults = faults
    try:
        yield
    finally:
        stack.s2.faults = Faults()


# Slow answers keep a crawl on its worker long enough for a drill to strike in the middle of it.
SLOW_OPENING = Faults(opening=("timeout",) * 4, timeout_seconds=3.0)


@contextmanager
def reference_crawl_running(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> Iterator[tuple[httpx.Client, str]]:
    """The reference crawl requested again on an empty network, its first answers slow; a
    client and the job's location once it runs."""
    wipe_paper_data(stack)
    with semantic_scholar_faults(stack, SLOW_OPENING), stack.client(stack.admin_token()) as client:
        location = request_crawl(client, graph, undisturbed.paper)
        wait_until(
            lambda: job_in(client, location, ("running",)), "the crawl running", seconds=120,
            interval=0.5,
        )  # fmt: skip
        yield client, location


# 30% of requests answered 429 or 5xx and 6% slowly (3 s), no request failing thrice in a row.
STORM = Faults(
    rate=0.36, kinds=("429", "500", "502", "503", "504", "timeout"), timeout_seconds=3.0, seed=7
)


def test_a_semantic_scholar_storm_is_alerted_and_the_crawl_ends_as_undisturbed(
    stack: Stack, graph: SyntheticGraph, request: pytest.FixtureRequest
) -> None:
    # The first drill, and its crawl the first on this stack: answers from an earlier crawl in
    # the last 5 minutes would dilute the failing ratio the alert reads. The undisturbed crawl
    # to compare with comes after.
    assert stack.s2.total_requests == 0, "the storm drill must run before any other crawl"
    with semantic_scholar_faults(stack, STORM), stack.client(stack.admin_token()) as client:
        started = time.monotonic()
        job = finished_job(client, request_crawl(client, graph, reference_paper(graph)))
        took = time.monotonic() - started
        faulted, total = stack.s2.faulted_requests, stack.s2.total_requests
    storm = alert_holds(stack, "RefNetS2Failing", "Prometheus seeing Semantic Scholar failing")
    print(
        f"Semantic Scholar storm: {faulted} of {total} requests faulted; the crawl done in "
        f"{took:.0f} s; failing ratio on Prometheus {float(storm[0]['value'][1]):.2f}"
    )
    assert faulted / total > 0.2, (faulted, total)
    assert job["status"] == "completed", job
    stormy = settled_state(stack, "s2-storm")
    undisturbed: Reference = request.getfixturevalue("undisturbed")
    assert stormy == undisturbed.state


def test_a_crawler_pool_process_killed_mid_crawl_ends_as_the_same_crawl_undisturbed(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    with reference_crawl_running(stack, graph, undisturbed) as (client, location):
        killed_at = time.monotonic()
        killed = kill_pool_processes(stack, "worker-crawler")
        job = finished_job(client, location)
        recovered = time.monotonic() - killed_at
    print(f"crawler pool process {killed} killed mid-crawl: job done {recovered:.0f} s later")
    assert killed, "no pool process was found to kill"
    assert job["status"] == "completed", job
    assert settled_state(stack, "pool-killed") == undisturbed.state


def test_redis_restarted_during_a_crawl_is_reported_and_the_crawl_ends_as_undisturbed(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    with reference_crawl_running(stack, graph, undisturbed) as (client, location):
        stopped = time.monotonic()
        stack.compose.run("stop", "redis", timeout=120)

        def reported() -> tuple[httpx.Response, list[dict[str, Any]]] | None:
            ready = client.get("/ready")
            found = prometheus_query(stack, alert_expression("RefNetRedisDown"))
            return (ready, found) if ready.status_code == 503 and found else None

        ready, down = wait_until(
            reported, "/ready and Prometheus reporting Redis down", seconds=120, interval=2
        )
        started = time.monotonic()
        stack.compose.run("start", "redis", timeout=120)
        job = finished_job(client, location)
        recovered = time.monotonic() - started
    print(
        f"Redis stopped {started - stopped:.0f} s during a crawl; the crawl done {recovered:.0f} s "
        "after its start"
    )
    checks = ready.json()["checks"]  # the broker is this Redis: one check says so
    assert "unreachable" in checks["redis"], checks
    assert down[0]["metric"]["job"] == "redis"
    assert job["status"] == "completed", job
    assert settled_state(stack, "redis-restarted") == undisturbed.state


# Twelve timeouts (each longer than the summarizer's 5 s) and 24 answers of 500, in turn: enough
# failures that earlier drills' answers in Prometheus' 5-minute window do not dilute them below
# the alert's 20%.
LLM_OUTAGE = ("timeout", "500", "500") * 12


def test_llm_timeouts_and_500s_are_alerted_and_every_summary_arrives(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    wipe_paper_data(stack)
    stack.llm.stall_seconds = 8.0
    stack.llm.script(*LLM_OUTAGE)
    calls_before = stack.llm.request_count
    try:
        with stack.client(stack.admin_token()) as client:
            job = finished_job(client, request_crawl(client, graph, undisturbed.paper))
            failing = alert_holds(
                stack, "RefNetLlmFailing", "Prometheus seeing the LLM failing", provider="openai"
            )
            wait_until(
                lambda: stack.llm.scripted_faults_left == 0, "the LLM outage over", seconds=600
            )
            ended = time.monotonic()
            recovered_state = settled_state(stack, "llm-recovered")
            recovered = time.monotonic() - ended
    finally:
        stack.llm.clear_script()
        stack.llm.stall_seconds = 2.0
    calls = stack.llm.request_count - calls_before
    print(
        f"LLM outage ({len(LLM_OUTAGE)} failed calls of {calls}): every summary done "
        f"{recovered:.0f} s after it ended; failing ratio on Prometheus "
        f"{float(failing[0]['value'][1]):.2f}"
    )
    assert job["status"] == "completed", job
    assert recovered_state == undisturbed.state


@dataclass
class Killer:
    """KILL_BUSY_POOL running in a worker's container."""

    process: subprocess.Popen[str]

    def struck(self, seconds: float = 120) -> str:
        """The pid it killed."""
        out, err = self.process.communicate(timeout=seconds)
        assert self.process.returncode == 0, f"no pool process started working: {err[-500:]}"
        return out.strip()


@contextmanager
def kill_when_busy(stack: Stack, service: str, seconds: float = 90) -> Iterator[Killer]:
    """Watch the worker in `service`; SIGKILL its first pool process to start on a task."""
    command = stack.compose.command(
        "exec", "-T", service, "python", "-c", KILL_BUSY_POOL, str(seconds)
    )
    process = subprocess.Popen(
        command, env=stack.compose.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(3)  # the watcher has read the idle pool's CPU times
    try:
        yield Killer(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_summarizer_pool_process_killed_mid_summary_ends_as_undisturbed(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    wipe_paper_data(stack)
    stack.llm.latency = 4.0  # each answer takes a while: the kill lands while one is awaited
    try:
        with stack.client(stack.admin_token()) as client:
            calls = stack.llm.request_count
            job = finished_job(client, request_crawl(client, graph, undisturbed.paper))
            wait_until(
                lambda: stack.llm.request_count > calls, "a summary asked for", seconds=300,
                interval=0.2,
            )  # fmt: skip
            killed_at = time.monotonic()
            killed = kill_pool_processes(stack, "worker-summarizer")
            recovered_state = settled_state(stack, "summarizer-killed")
            recovered = time.monotonic() - killed_at
    finally:
        stack.llm.latency = 0.0
    print(
        f"summarizer pool processes {killed} killed mid-summary: all done {recovered:.0f} s later"
    )
    assert killed, "no pool process was found to kill"
    assert job["status"] == "completed", job
    assert recovered_state == undisturbed.state


def test_a_generator_pool_process_killed_mid_update_ends_as_undisturbed(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    wipe_paper_data(stack)
    crawl_to_notes(stack, graph, undisturbed.paper)
    settled_state(stack, "before-generator-kill")
    with stack.client(stack.admin_token()) as client:
        with kill_when_busy(stack, "worker-generator") as killer:
            accepted = client.post("/api/tasks/generate", json={"full": True})
            assert accepted.status_code == 202, accepted.text
            killed = killer.struck()
        killed_at = time.monotonic()
        location = accepted.headers["location"]
        done = wait_until(
            lambda: job_in(client, location, ("done", "failed")), "the vault update done",
            seconds=300,
        )  # fmt: skip
        recovered = time.monotonic() - killed_at
    print(f"generator pool process {killed} killed mid-update: done {recovered:.0f} s later")
    assert done["status"] == "done", done
    assert settled_state(stack, "generator-killed") == undisturbed.state


def database_backups(stack: Stack) -> list[str]:
    listing = stack.compose.exec(
        "worker-maintenance", "sh", "-c", "ls /var/lib/refnet/data/backups/ 2>/dev/null || true"
    )
    return sorted(name for name in listing.split() if re.fullmatch(r"database-.+\.json", name))


@contextmanager
def papers_locked(stack: Stack) -> Iterator[None]:
    """`papers` locked against every reader (a psql session in the PostgreSQL container) until
    the block ends: a backup's dump waits on it."""
    session = subprocess.Popen(
        stack.compose.command(
            "exec", "-T", "postgres", "psql", "--username=refnet", "--dbname=refnet", "--quiet"
        ),
        env=stack.compose.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert session.stdin is not None
    session.stdin.write("BEGIN;\nLOCK TABLE papers IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';\n")
    session.stdin.flush()
    try:
        yield
    finally:
        session.communicate("COMMIT;\n", timeout=60)


def test_a_maintenance_pool_process_killed_mid_backup_makes_the_backup_once(stack: Stack) -> None:
    before = database_backups(stack)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    send = (  # as beat sends it
        "from refnet.worker.celery_app import app;"
        " app.send_task('refnet.maintenance.backup_database')"
    )
    with papers_locked(stack):
        stack.compose.exec("worker-maintenance", "python", "-c", send)
        wait_until(lambda: sql(stack, waiting) != "0", "the backup under way", seconds=120)
        killed = kill_pool_processes(stack, "worker-maintenance")
    killed_at = time.monotonic()
    made = wait_until(
        lambda: (backups := database_backups(stack)) != before and backups,
        "the backup made by the redelivered task",
        seconds=240,
        interval=2,
    )
    recovered = time.monotonic() - killed_at
    time.sleep(20)  # a second backup from the same message would show by now
    print(
        f"maintenance pool process {killed} killed mid-backup: backup made {recovered:.0f} s later"
    )
    assert killed, "no pool process was found to kill"
    assert len(database_backups(stack)) == len(before) + 1, (before, made)
    name = made[-1].removesuffix(".json")
    verified = stack.compose.run(
        "exec", "-T", "worker-maintenance", "refnet", "backup", "verify", name, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def refnet_health(stack: Stack) -> None:
    """`refnet health` in the maintenance container, as beat's health entry runs it: every
    finding stored for the API's metrics."""
    stack.compose.run("exec", "-T", "worker-maintenance", "refnet", "health", check=False)


def test_the_vault_volume_full_is_reported_and_every_note_is_written_once_freed(
    stack: Stack, graph: SyntheticGraph, undisturbed: Reference
) -> None:
    wipe_paper_data(stack)
    free = stack.compose.exec(
        "worker-generator", "sh", "-c",
        f"dd if=/dev/zero of={VAULT}/.filler bs=1M 2>/dev/null; df -m --output=avail {VAULT}",
    )  # fmt: skip
    assert free.split()[-1] == "0", free
    try:
        with stack.client(stack.admin_token()) as client:
            job = finished_job(client, request_crawl(client, graph, undisturbed.paper))
            assert job["status"] == "completed", job
            wait_until(
                lambda: (
                    sql(stack, "SELECT count(*) FROM vault_files WHERE status = 'failed'") != "0"
                    and sql(stack, "SELECT count(*) FROM summaries WHERE status <> 'done'") == "0"
                ),
                "the generator failing to write the notes",
                seconds=300,
                interval=2,
            )
            refnet_health(stack)
            finding = sql(stack, "SELECT detail FROM health_findings WHERE part = 'disk_vault'")
            full = alert_holds(
                stack, "RefNetDiskNearlyFull", "Prometheus seeing the vault full", part="disk_vault"
            )
            failed_notes = prometheus_query(
                stack, 'sum(refnet_vault_notes_written_total{outcome="failed"})'
            )
            stored = sql(stack, "SELECT count(*) FROM papers")
            freed_at = time.monotonic()
            stack.compose.exec("worker-generator", "rm", f"{VAULT}/.filler")
            accepted = client.post("/api/tasks/generate", json={})
            assert accepted.status_code == 202, accepted.text
            recovered_state = settled_state(stack, "vault-freed")
            recovered = time.monotonic() - freed_at
    finally:
        stack.compose.exec("worker-generator", "rm", "-f", f"{VAULT}/.filler")
        refnet_health(stack)
    print(
        f"vault volume full: {failed_notes[0]['value'][1]} notes failed; every note written "
        f"{recovered:.0f} s after space was freed"
    )
    assert "below HEALTH__MIN_FREE_MB" in finding, finding
    assert float(failed_notes[0]["value"][1]) > 0
    assert full[0]["metric"]["job"] == "refnet-api"
    assert stored == str(len(undisturbed.state[0]["papers"]))  # nothing lost while it was full
    assert recovered_state == undisturbed.state


def test_a_worker_container_killed_is_seen_down_and_serves_again_once_started(
    stack: Stack, graph: SyntheticGraph
) -> None:
    killed_at = time.monotonic()
    stack.compose.run("kill", "--signal", "KILL", "worker-summarizer")
    down = alert_holds(
        stack, "RefNetTargetDown", "Prometheus seeing the summarizer worker down", seconds=90,
        queue="summarizer",
    )  # fmt: skip
    seen_down = time.monotonic() - killed_at
    started_at = time.monotonic()
    stack.compose.run("start", "worker-summarizer")
    wait_until(
        lambda: (
            next(c for c in stack.compose.services() if c["Service"] == "worker-summarizer")[
                "Health"
            ]
            == "healthy"
        ),
        "the summarizer worker healthy again",
        seconds=180,
        interval=2,
    )
    healthy = time.monotonic() - started_at
    paper = well_cited(graph, 7)
    result = crawl_to_notes(stack, graph, paper)  # summaries need the summarizer worker
    print(
        f"summarizer container killed: seen down by Prometheus after {seen_down:.0f} s, "
        f"healthy {healthy:.0f} s after its start"
    )
    assert down[0]["metric"]["job"] == "refnet-worker"
    assert result["detail"]["summary"] is not None


def test_postgres_stopped_under_api_load_is_reported_and_nothing_is_lost(
    stack: Stack, graph: SyntheticGraph
) -> None:
    paper = well_cited(graph, 0)
    crawl_to_notes(stack, graph, paper)
    before = network_state(stack)
    paths = [f"/api/papers/{paper}", f"/api/papers/{paper}/graph", "/api/jobs", "/ready"]
    with under_load(stack, paths) as load:
        wait_until(lambda: load.statuses()[200] >= 20, "the load answered", seconds=60)
        stopped = time.monotonic()
        stack.compose.run("stop", "postgres", timeout=120)

        # Down until both the API's /ready and Prometheus have reported it: an outage shorter
        # than a scrape or a round of the load would show nothing.
        def reported() -> list[dict[str, Any]] | None:
            ready_refused = any(
                at > stopped and path == "/ready" and status == 503
                for at, path, status, _ in load.answers
            )
            found = prometheus_query(stack, alert_expression("RefNetOperationsUnreadable"))
            return found if ready_refused else None

        unreadable = wait_until(
            reported, "/ready and Prometheus reporting the database down", seconds=120, interval=2
        )
        outage = load.statuses(since=stopped)
        started = time.monotonic()
        stack.compose.run("start", "postgres", timeout=300)

        deadline = time.monotonic() + 180
        while True:
            recent = [a for a in load.answers if a[0] > time.monotonic() - 3]
            if recent and all(status == 200 for _, _, status, _ in recent):
                break
            failing = [
                (path, status, text[:200]) for _, path, status, text in recent if status != 200
            ]
            assert time.monotonic() < deadline, f"answers still failing: {failing[:5]}"
            time.sleep(1)
        recovered = time.monotonic() - started
    print(
        f"PostgreSQL stopped {started - stopped:.0f} s under API load; every answer a success "
        f"{recovered:.0f} s after its start; answers during the outage: {dict(outage)}"
    )
    assert unreadable[0]["metric"]["job"] == "refnet-api"
    assert outage[503] > 0, outage
    unexpected = [
        (path, status, text[:300])
        for _, path, status, text in load.answers
        if status not in (200, 503)
    ]
    assert not unexpected, unexpected
    refused = [
        text for at, path, status, text in load.answers if path == "/ready" and status == 503
    ]
    assert refused and all("database" in text for text in refused), refused[:3]
    assert network_state(stack) == before
