"""Pipeline commands: summarize, generate, worker, demo.

Heavy modules (Celery, PDF parsing, LLM SDKs) are imported inside the commands that use them,
so `refnet --help` and the crawl commands start quickly.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from refnet.cli.common import (
    EXIT_FAILED,
    app,
    console,
    errors_as_messages,
    fail,
    load_settings,
    ready_database,
    start_pipeline,
)
from refnet.cli.render import render_pipeline_totals, render_vault_report
from refnet.core.config import settings_from
from refnet.core.handoff import use_dispatcher
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import start_crawl
from refnet.db.queries.lookups import lookup_paper
from refnet.db.queries.summaries import papers_needing_summary
from refnet.db.session import session_scope
from refnet.sources.factory import open_source
from refnet.worker.queues import QueueName

DEMO_SEEDS = ["ARXIV:2005.11401", "https://arxiv.org/abs/1706.03762"]


@app.command()
def summarize(
    paper_ids: list[str] = typer.Argument(None, help="Stored papers, in any id form."),
    pending: bool = typer.Option(False, "--pending", help="Every paper without a summary."),
    provider: str | None = typer.Option(None, help="extractive, anthropic or openai."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Summarize papers (their open-access PDF, else abstract or TL;DR), then update the vault.

    A paper that fails for a passing reason (its PDF host or the provider did not answer) is
    tried again after the others, up to its attempts; then it is summarized from its abstract
    (a PDF host down) or left for the next `--pending` run (the provider down).
    """
    from refnet.core.handoff import request_vault_update
    from refnet.summarizer.factory import make_summarizer
    from refnet.summarizer.service import summarize_until_settled

    settings = load_settings(verbose)
    if bool(paper_ids) == pending:
        fail("name papers to summarize, or pass --pending (not both)", 2)
    with errors_as_messages():
        url = ready_database(settings)
        summarizer = make_summarizer(settings, provider=provider)
        with session_scope(url) as session:
            if pending:
                ids = papers_needing_summary(session=session, key=summarizer.key)
            else:
                ids = [_stored_paper_id(session, paper_id) for paper_id in paper_ids]
        with (
            Progress(
                TextColumn("[bold]summarize"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=not console.is_terminal,
            ) as bar,
            closing(summarizer),
        ):
            task = bar.add_task("summarize", total=len(ids))
            outcomes = summarize_until_settled(summarizer, ids, lambda: bar.advance(task))
        console.print(
            "Summaries: " + (", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())) or "none"),
            highlight=False,
        )
        start_pipeline(settings)
        request_vault_update()
    if outcomes.get("failed"):
        raise typer.Exit(EXIT_FAILED)


def _stored_paper_id(session: Session, paper_id: str) -> int:
    ref = parse_paper_id(paper_id)
    paper = lookup_paper(session=session, api_id=ref.api_id, title=ref.title)
    if paper is None:
        fail(f"no stored paper matches {paper_id!r}; crawl it first")
    return paper.id


@app.command()
def generate(
    full: bool = typer.Option(False, "--all", help="Re-render every note, not only changed ones."),
) -> None:
    """Write the Obsidian vault (VAULT_DIR): notes whose inputs changed, or all with --all."""
    from refnet.generator.service import generate_vault

    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        report = generate_vault(database_url=url, vault_dir=settings.vault_dir, full=full)
    render_vault_report(console, report, vault_dir=settings.vault_dir)
    if report.notes_failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def worker(
    queue: QueueName = typer.Option(..., "--queue", "-Q", help="The queue this worker serves."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-c", min=1, help="Default: WORKERS__<QUEUE>__CONCURRENCY."
    ),
    loglevel: str | None = typer.Option(None, "--loglevel", "-l", help="Default: LOG_LEVEL."),
) -> None:
    """Serve one queue (same as `celery -A refnet.worker worker -Q QUEUE`), sized by
    WORKERS__<QUEUE>__*. SIGTERM stops it warmly: the running task finishes first.

    Its logs are JSON lines on stderr (LOG_FORMAT=console for people)."""
    settings = load_settings()
    if settings.broker_url is None:
        fail("a worker needs a broker: set REDIS_URL or CELERY_BROKER_URL", 2)
    from refnet.cli.operations import refuse_startup_problems
    from refnet.worker import app as celery_app

    refuse_startup_problems(celery_app)
    sizing = settings.workers.for_queue(queue.value)
    celery_app.worker_main(
        [
            "worker",
            "--queues",
            queue.value,
            "--concurrency",
            str(concurrency or sizing.concurrency),
            "--prefetch-multiplier",
            str(sizing.prefetch),
            "--max-tasks-per-child",
            str(sizing.max_tasks_per_child),
            "--time-limit",
            str(sizing.time_limit),
            "--soft-time-limit",
            str(sizing.time_limit - min(300, sizing.time_limit // 10)),
            "--loglevel",
            loglevel or settings.log_level,
            "--hostname",
            f"{queue.value}@%h",
        ]
    )


# The demo always runs embedded and offline, whatever the shell's settings say.
DEMO_ENVIRONMENT = {
    "SUMMARIZER__PROVIDER": "extractive",
    "SUMMARIZER__FETCH_PDFS": "false",
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "CELERY_BROKER_URL": None,
}


@app.command()
def demo() -> None:
    """Crawl the bundled sample, summarize it offline and write the vault to VAULT_DIR."""
    with settings_from(DEMO_ENVIRONMENT):
        _run_demo()


def _run_demo() -> None:
    from refnet.core.handoff import CRAWL_SEEDS, enqueue

    settings = load_settings()
    started = time.monotonic()
    previous = start_pipeline(settings)  # no broker: every stage runs here
    try:
        with errors_as_messages():
            url = ready_database(settings)
            sample = open_source("sample", settings)
            params = CrawlParams(max_depth=3, max_papers=settings.crawl.max_papers)
            job_id, _ = start_crawl(
                database_url=url, seeds=DEMO_SEEDS, params=params, source_name=sample.name
            )
            console.print(
                f"Crawling the bundled sample from {len(DEMO_SEEDS)} seed papers, summarizing "
                "abstracts offline and writing the vault…"
            )
            enqueue(CRAWL_SEEDS, job_id=job_id)
            with session_scope(url) as session:
                render_pipeline_totals(
                    console,
                    session,
                    vault_dir=settings.vault_dir,
                    seconds=time.monotonic() - started,
                )
    finally:
        use_dispatcher(previous)
    vault = Path(settings.vault_dir).resolve()
    console.print(
        f"\nOpen it in Obsidian: “Open folder as vault” → {vault}\n"
        "then open the graph view (Ctrl/Cmd+G) to browse the citation network, or start from "
        "“RefNet Index”.",
        highlight=False,
    )
