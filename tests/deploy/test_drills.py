"""Failure drills on the running Compose stack (`make drills`): what happens in real life, done to
the real containers while they work, and checked as an operator would.

- The crawler worker's pool process killed with SIGKILL in the middle of a crawl (as the OOM
  killer would): the final database and vault equal those of the same crawl undisturbed
  (nothing lost, nothing twice), and the time until the job is done is reported.
- A worker's container killed with SIGKILL: Prometheus sees its target down (the
  RefNetTargetDown expression, evaluated on the live Prometheus); started again, it is healthy
  and does its work. (A task it was running waits in Redis for the visibility timeout, as
  docs/operations/unattended.md says.)
- PostgreSQL stopped under API load: `/ready` answers 503 naming the database and the API's
  `refnet_operations_up` is 0 while it lasts (the RefNetOperationsUnreadable expression holds on
  the live Prometheus), no request is answered with anything but a success or a 503, nothing
  stored is lost, and the time until every answer is a success again is reported.

Each drill prints its recovery time (`pytest -s` shows it); docs/benchmarks.md records them.
"""

from __future__ import annotations

import hashlib
import re
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
    paper_url,
    sql,
    vault_copy,
    well_cited,
)

pytestmark = pytest.mark.timeout(1800)

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


KILL_POOL = """
import os, signal

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
for pid in pool:
    os.kill(pid, signal.SIGKILL)
print(" ".join(map(str, pool)))
"""


def kill_pool_processes(stack: Stack, service: str) -> list[str]:
    """SIGKILL every pool process of the worker in `service` (as the OOM killer would the one
    doing the work); its main process stays. The pids killed."""
    return stack.compose.exec(service, "python", "-c", KILL_POOL).split()


def test_a_crawler_pool_process_killed_mid_crawl_ends_as_the_same_crawl_undisturbed(
    stack: Stack, graph: SyntheticGraph
) -> None:
    paper = well_cited(graph, 3)
    crawl_to_notes(stack, graph, paper)
    undisturbed = settled_state(stack, "undisturbed")
    assert len(undisturbed[0]["papers"]) > 10 and len(undisturbed[1]) > 10
    wipe_paper_data(stack)
    assert network_state(stack)["papers"] == []

    # Slow answers keep the crawl on the worker long enough to be killed in the middle of it.
    stack.s2.faults = Faults(opening=("timeout",) * 4, timeout_seconds=3.0)
    try:
        with stack.client(stack.admin_token()) as client:
            accepted = client.post(
                "/api/papers/crawl",
                json={"paper_url": paper_url(graph, paper), "depth": 1, "max_papers": 12},
            )
            assert accepted.status_code == 202, accepted.text
            location = accepted.headers["location"]
            wait_until(
                lambda: client.get(location).json()["status"] == "running",
                "the crawl running",
                seconds=120,
                interval=0.5,
            )
            killed_at = time.monotonic()
            killed = kill_pool_processes(stack, "worker-crawler")
            job = wait_until(
                lambda: (
                    (job := client.get(location).json())["status"] in ("completed", "failed")
                    and job
                ),
                "the crawl done after the kill",
                seconds=300,
                interval=1,
            )
            recovered = time.monotonic() - killed_at
    finally:
        stack.s2.faults = Faults()
    print(f"crawler pool process {killed} killed mid-crawl: job done {recovered:.0f} s later")
    assert killed, "no pool process was found to kill"
    assert job["status"] == "completed", job

    disturbed = settled_state(stack, "disturbed")
    assert disturbed[0] == undisturbed[0]
    assert disturbed[1] == undisturbed[1]


def test_a_worker_container_killed_is_seen_down_and_serves_again_once_started(
    stack: Stack, graph: SyntheticGraph
) -> None:
    killed_at = time.monotonic()
    stack.compose.run("kill", "--signal", "KILL", "worker-summarizer")
    down = wait_until(
        lambda: [
            series
            for series in prometheus_query(stack, alert_expression("RefNetTargetDown"))
            if series["metric"].get("queue") == "summarizer"
        ],
        "Prometheus seeing the summarizer worker down",
        seconds=90,
        interval=2,
    )
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
