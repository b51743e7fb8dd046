"""Metrics: what a scrape of RefNet's /metrics costs on 100,000 papers and 1,000,000 edges, and
what counting one request or one task costs.

Uses the dataset of `api_dataset` (loaded into a scratch PostgreSQL database, or with `--reuse`
kept from a previous run of the same size) plus what the operations record holds on a running
installation: a run of every beat entry, failed tasks waiting for a person, health findings, a
vault backup in the backup directory, and a paid summarizer (so the LLM budget is read). Then,
each phase in a fresh process (so `peak_rss_mb` is that phase's own):

- `scrape`: `refnet.ops.metrics.database_figures(settings)` called `--calls` times (the first,
  cold call apart; p50/p95 of the rest) with each SQL statement timed on the cursor, and the
  full `refnet.core.metrics.render(recorded_collectors(settings))` (fresh collectors each time,
  so nothing is answered from their 10 s cache; `render_cached` is a scrape within those 10 s).
  Baselines: `prometheus_client.generate_latest()` of the default registry alone, and a bare
  `SELECT 1` on a pooled connection;
- `events_single` and `events_multiprocess`: `observe_request` (one HTTP request counted) and
  `count_started` + `count_ended` (one Celery task counted; a fake task with a name, delivery
  info and the publish-time header) in a loop of `--events`, best of `--repeats`, against the same
  loop calling an empty function with the same arguments. Multiprocess mode is prepared as the
  API and the worker do, with `prepare_multiprocess_dir` called before any other RefNet module is
  imported; `counted_in_files` checks the counts really went to the multiprocess files.

Prints one JSON line. Run with `.venv/bin/python -m benchmarks.metrics_scrape [--reuse]`.
Nothing from RefNet is imported at the top: a phase's process chooses when prometheus_client
is first imported.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import queue as queue_module
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.memory import peak_rss_mb

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/refnet_bench_metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ROUTE = "/api/papers/{s2_id}"
TASK = "refnet.crawler.crawl_paper"
# The statements of `database_figures`, by what their text contains.
STATEMENTS = {
    "FROM schedule_runs": "schedule_runs",
    "FROM task_failures": "failed_tasks",
    "FROM health_findings": "health_findings",
    "FROM papers GROUP BY": "papers_by_state",
    "FROM citations": "citation_edges",
    "FROM authors": "authors_unused",  # counted by `paper_counts`, dropped by the scrape
    "FROM summaries GROUP BY": "summaries_by_provider_status",
    "sum(summaries.input_tokens": "llm_tokens_today",
}


def statement_label(statement: str) -> str:
    text = " ".join(statement.split())
    return next((label for part, label in STATEMENTS.items() if part in text), text[:80])


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]
    return {
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def timed(call: Callable[[], Any], times: int) -> list[float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


def settings_for(url: str, root: str) -> Any:
    from refnet.core.config import BackupSettings, Settings
    from refnet.core.settings_sections import SummarizerSettings

    base = Path(root)
    return Settings(
        database_url=url,
        data_dir=base / "data",
        vault_dir=base / "vault",
        backup=BackupSettings(dir=base / "backups"),
        summarizer=SummarizerSettings(provider="anthropic"),
    )


def record_operations(url: str, root: str) -> dict[str, int]:
    """What a running installation's operations record holds; replaces what a previous run left."""
    import sqlalchemy as sa

    from refnet.db.base import utcnow
    from refnet.db.models import HealthFinding, ScheduleRun, TaskFailure
    from refnet.db.queries.operations import store_findings
    from refnet.db.session import dispose_engines, session_scope
    from refnet.ops.backup_create import create_backup
    from refnet.worker.schedule import JOBS

    now = utcnow()
    tasks = ["refnet.crawler.crawl_paper", "refnet.summarizer.summarize_paper", TASK]
    with session_scope(url) as session:
        for model in (ScheduleRun, TaskFailure, HealthFinding):
            session.execute(sa.delete(model))
        session.add_all(
            ScheduleRun(
                entry=entry,
                task_name=job.task,
                registered_at=now,
                fired_count=40,
                completed_count=39,
                last_fired_at=now,
                last_started_at=now,
                last_finished_at=now,
                last_outcome="ok",
            )
            for entry, job in JOBS.items()
        )
        session.add_all(
            TaskFailure(
                task_id=f"bench-{n}",
                task_name=tasks[n % 3],
                queue="crawler",
                error_type="PermanentError",
                reason="benchmark",
                failed_at=now,
            )
            for n in range(30)
        )
        parts = [f"worker_{q}" for q in ("crawler", "summarizer", "generator", "maintenance")]
        parts += [f"beat_{entry}" for entry in JOBS] + ["database", "broker", "disk"]
        store_findings(session=session, findings=[(part, True, "ok") for part in parts])
    dispose_engines()
    settings = settings_for(url, root)
    settings.vault_dir.mkdir(parents=True, exist_ok=True)
    for n in range(20):
        (settings.vault_dir / f"note-{n}.md").write_text(f"# Note {n}\n", encoding="utf-8")
    create_backup(settings=settings, kind="vault")
    return {"schedule_entries": len(JOBS), "failed_tasks": 30, "health_findings": len(parts)}


# --- phases, each run in a fresh process -------------------------------------------------------


def scrape(url: str, root: str, calls: int) -> dict[str, Any]:
    os.environ.pop(MULTIPROC_ENV, None)
    import prometheus_client
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from refnet.core.metrics import render
    from refnet.db.session import dispose_engines, get_engine
    from refnet.ops.metrics import database_figures, recorded_collectors

    settings = settings_for(url, root)
    engine = get_engine(settings.effective_database_url)

    def select_one() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    select_one()
    baseline_latest = prometheus_client.generate_latest()
    figures: dict[str, Any] = {
        "baseline_select_1": percentiles(timed(select_one, 200)),
        "baseline_generate_latest": {
            "bytes": len(baseline_latest),
            **percentiles(timed(prometheus_client.generate_latest, 200)),
        },
    }

    statements: dict[str, list[float]] = {}

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["refnet_bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        spent = time.perf_counter() - conn.info.pop("refnet_bench_started")
        statements.setdefault(statement_label(statement), []).append(spent)

    started = time.perf_counter()
    families = database_figures(settings)
    figures["database_figures_first_ms"] = round((time.perf_counter() - started) * 1000, 2)
    up = next(f for f in families if f.name == "refnet_operations_up").samples[0].value
    if up != 1:
        raise SystemExit("database_figures could not read the operations record")
    payload, _ = render(recorded_collectors(settings))
    reads: list[float] = []
    renders: list[float] = []
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    for _ in range(calls):  # alternately, so both see the same load on the machine
        reads += timed(lambda: database_figures(settings), 1)
        renders += timed(lambda: render(recorded_collectors(settings)), 1)
    event.remove(Engine, "before_cursor_execute", before)
    event.remove(Engine, "after_cursor_execute", after)
    figures["database_figures"] = {"families": len(families), **percentiles(reads)}
    figures["render"] = {
        "bytes": len(payload),
        "lines": payload.count(b"\n"),
        **percentiles(renders),
    }
    figures["statements"] = {text: percentiles(spent) for text, spent in statements.items()}
    cached = recorded_collectors(settings)
    render(cached)
    figures["render_cached"] = percentiles(timed(lambda: render(cached), calls))
    figures["peak_rss_mb"] = peak_rss_mb()
    dispose_engines()
    return figures


def per_event_ns(loop: Callable[[int], None], events: int, repeats: int) -> float:
    """Nanoseconds per iteration of `loop(events)`, best of `repeats`."""
    best = min(timed(lambda: loop(events), repeats))
    return round(best * 1e9 / events, 1)


def count_events(mode: str, root: str, events: int, repeats: int) -> dict[str, Any]:
    if mode == "multiprocess":
        os.environ[MULTIPROC_ENV] = str(Path(root) / "multiproc")
        imported_before = "prometheus_client" in sys.modules
        from refnet.core.metrics import prepare_multiprocess_dir  # imports prometheus_client

        own = prepare_multiprocess_dir("api")
    else:
        os.environ.pop(MULTIPROC_ENV, None)
    from refnet.core import metrics
    from refnet.worker import task_metrics

    def empty(*args: Any, **kwargs: Any) -> None:
        return None

    def requests(observe: Callable[..., None]) -> Callable[[int], None]:
        def loop(n: int) -> None:
            for _ in range(n):
                observe("GET", ROUTE, 200, 0.012)

        return loop

    def tasks(started: Callable[..., None], ended: Callable[..., None]) -> Callable[[int], None]:
        task = SimpleNamespace(
            name=TASK,
            request=SimpleNamespace(
                delivery_info={"routing_key": "crawler"},
                headers={task_metrics.SENT_AT_HEADER: time.time()},
            ),
        )

        def loop(n: int) -> None:
            for _ in range(n):
                started(task_id="bench", task=task)
                ended(task_id="bench", task=task, state="SUCCESS")

        return loop

    baseline_request = per_event_ns(requests(empty), events, repeats)
    request = per_event_ns(requests(metrics.observe_request), events, repeats)
    baseline_task = per_event_ns(tasks(empty, empty), events, repeats)
    task = per_event_ns(
        tasks(task_metrics.count_started, task_metrics.count_ended), events, repeats
    )
    figures: dict[str, Any] = {
        "baseline_empty_call_ns": baseline_request,
        "http_request_ns": request,
        "http_request_net_ns": round(request - baseline_request, 1),
        "baseline_two_empty_calls_ns": baseline_task,
        "celery_task_ns": task,
        "celery_task_net_ns": round(task - baseline_task, 1),
    }
    payload, _ = metrics.render()
    figures["render"] = {
        "bytes": len(payload),
        **percentiles(timed(metrics.render, 50)),
    }
    if mode == "multiprocess":
        line = f'refnet_http_requests_total{{method="GET",route="{ROUTE}",status="2xx"}}'
        figures["prometheus_client_imported_before_prepare"] = imported_before
        figures["files"] = len(list(own.glob("*.db")))
        figures["counted_in_files"] = f"{line} {float(events * repeats)}".encode() in payload
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def _child(phase: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: Any) -> None:
    queue.put(phase(*args))


def in_fresh_process(phase: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(phase, args, queue))
    process.start()
    deadline = time.monotonic() + 600
    while True:
        try:
            result: dict[str, Any] = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if process.is_alive() and time.monotonic() < deadline:
                continue
            process.kill()
            raise SystemExit(f"the {phase.__name__} process died ({process.exitcode})") from None
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep a loaded dataset of this size")
    parser.add_argument("--calls", type=int, default=20, help="scrapes timed")
    parser.add_argument("--events", type=int, default=100_000, help="events per timed loop")
    parser.add_argument("--repeats", type=int, default=5, help="loops per figure (best counts)")
    args = parser.parse_args()
    from benchmarks.api_throughput import prepare_dataset
    from refnet.core.logging import configure_logging

    configure_logging(level="WARNING")  # stdout is for the result
    started = time.perf_counter()
    _, dataset = prepare_dataset(args)
    with tempfile.TemporaryDirectory(prefix="refnet-bench-metrics-") as root:
        operations = record_operations(args.database_url, root)
        result = {
            "benchmark": "metrics_scrape",
            "papers": args.papers,
            "edges": args.edges,
            **dataset,
            **operations,
            "scrape": in_fresh_process(scrape, args.database_url, root, args.calls),
            **{
                f"events_{mode}": in_fresh_process(
                    count_events, mode, root, args.events, args.repeats
                )
                for mode in ("single", "multiprocess")
            },
            "wall_s": round(time.perf_counter() - started, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
