"""Crawling commands: crawl, papers, stats, watch, recrawl, db."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from refnet.cli.common import (
    EXIT_PAUSED,
    app,
    console,
    db_app,
    errors_as_messages,
    fail,
    load_settings,
    papers_app,
    ready_database,
    start_pipeline,
    watch_app,
)
from refnet.cli.render import render_job_summaries, render_outcome, render_paper, render_stats
from refnet.core.config import Settings
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlOutcome, CrawlParams, CrawlProgress
from refnet.crawler.service import run_crawl, start_crawl
from refnet.crawler.watch import recrawl_watched, watch_seeds
from refnet.db import migrate
from refnet.db.models import JobStatus
from refnet.db.queries.lookups import get_paper_with_neighbours, lookup_paper
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource
from refnet.sources.factory import SOURCE_FORMS, open_source


@app.command()
def crawl(
    seeds: list[str] = typer.Argument(
        ..., help="DOI, arXiv id, Semantic Scholar id or URL, CorpusId:N, PMID:N or a title."
    ),
    depth: int | None = typer.Option(
        None, "--depth", "-d", help="Hops from the seeds (default 2)."
    ),
    max_papers: int | None = typer.Option(None, "--max-papers", "-n", help="Stop at this many."),
    citations_per_paper: int | None = typer.Option(None, help="Citations listed per paper."),
    references_per_paper: int | None = typer.Option(None, help="References followed per paper."),
    source: str | None = typer.Option(None, help=f"Where papers come from: {SOURCE_FORMS}."),
    pipeline: bool = typer.Option(
        True,
        help="Then summarize the new papers and update the vault (queued to workers "
        "when a broker is configured, else run here).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress events."),
) -> None:
    """Collect the citation network around SEEDS into the database."""
    settings = load_settings(verbose)
    with errors_as_messages():
        for seed in seeds:
            parse_paper_id(seed)
        defaults = settings.crawl
        params = CrawlParams(
            max_depth=defaults.max_depth if depth is None else depth,
            max_papers=defaults.max_papers if max_papers is None else max_papers,
            max_citations_per_paper=(
                defaults.max_citations_per_paper
                if citations_per_paper is None
                else citations_per_paper
            ),
            max_references_per_paper=(
                defaults.max_references_per_paper
                if references_per_paper is None
                else references_per_paper
            ),
        )
        paper_source = open_source(source, settings)
        url = ready_database(settings)
        job_id, resumed = start_crawl(
            database_url=url, seeds=seeds, params=params, source_name=paper_source.name
        )
        if resumed:
            console.print(f"Resuming crawl job {job_id} where it stopped.")
        outcome = _run_with_progress(job_id, url, paper_source, params.max_papers)
        if pipeline and outcome.status == JobStatus.COMPLETED:
            _hand_off(settings, job_id)
    _exit_for(outcome)


def _hand_off(settings: Settings, job_id: int) -> None:
    """Summaries of the job's papers and a vault update: queued for the workers with a broker,
    else done here before the command returns."""
    from refnet.core.handoff import SUMMARIZE_JOB, enqueue

    start_pipeline(settings)
    if settings.broker_url is not None:
        enqueue(SUMMARIZE_JOB, job_id=job_id)
        console.print("Summaries and vault update queued for the workers.")
        return
    console.print("Summarizing the new papers and updating the vault…")
    enqueue(SUMMARIZE_JOB, job_id=job_id)
    with session_scope(settings.effective_database_url) as session:
        render_job_summaries(console, session, job_id=job_id, vault_dir=settings.vault_dir)


def _run_with_progress(
    job_id: int, url: str, paper_source: PaperSource, total: int
) -> CrawlOutcome:
    started = time.monotonic()
    columns = (
        TextColumn("[bold]crawl {task.fields[job]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("papers · {task.fields[expanded]} expanded · {task.fields[queued]} queued"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("crawl", total=total, job=job_id, expanded=0, queued=0)

        def show(p: CrawlProgress) -> None:
            bar.update(task, completed=p.collected, expanded=p.expanded, queued=p.candidates)

        try:
            outcome = run_crawl(job_id, database_url=url, source=paper_source, on_progress=show)
        finally:
            paper_source.close()
    render_outcome(console, outcome, seconds=time.monotonic() - started)
    return outcome


def _exit_for(outcome: CrawlOutcome) -> None:
    if outcome.status == JobStatus.PAUSED:
        fail(outcome.error or "the crawl was paused", EXIT_PAUSED)
    if outcome.status != JobStatus.COMPLETED:
        fail(outcome.error or f"the crawl ended {outcome.status}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to this version of RefNet."""
    url = load_settings().effective_database_url
    with errors_as_messages():
        before = migrate.current_revision(url)
        migrate.upgrade(url)
        after = migrate.current_revision(url)
    if before == after:
        console.print(f"Database already at revision {after}.")
    else:
        console.print(f"Database migrated from {before or 'empty'} to revision {after}.")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the one this version needs."""
    url = load_settings().effective_database_url
    with errors_as_messages():
        current = migrate.current_revision(url)
    console.print(f"database: {current or 'empty'}")
    console.print(f"code:     {migrate.head_revision()}")


@papers_app.command("show")
def papers_show(paper_id: str = typer.Argument(..., help="Any id form `crawl` accepts.")) -> None:
    """Show one stored paper with its authors, references and citations."""
    settings = load_settings()
    with errors_as_messages():
        ref = parse_paper_id(paper_id)
        url = ready_database(settings)
        with session_scope(url) as session:
            found = lookup_paper(session=session, api_id=ref.api_id, title=ref.title)
            paper = found and get_paper_with_neighbours(session=session, paper_id=found.id)
            if paper is None:
                fail(f"no stored paper matches {paper_id!r}; crawl it first")
            render_paper(console, paper)


@app.command()
def stats() -> None:
    """Summarize what the database holds."""
    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        with session_scope(url) as session:
            render_stats(console, session)


@watch_app.command("add")
def watch_add(seeds: list[str] = typer.Argument(..., help="Stored papers to watch.")) -> None:
    """Watch stored papers: `refnet recrawl` collects their new citations."""
    settings = load_settings()
    with errors_as_messages():
        url = ready_database(settings)
        added = watch_seeds(database_url=url, seeds=seeds)
        console.print(f"Watching {added} seed(s).")


@app.command()
def recrawl(
    source: str | None = typer.Option(None, help=f"Where papers come from: {SOURCE_FORMS}."),
    pipeline: bool = typer.Option(True, help="Then summarize the new papers and update the vault."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Collect citations published since the last crawl of every watched seed."""
    settings = load_settings(verbose)
    with errors_as_messages():
        url = ready_database(settings)
        paper_source = open_source(source, settings)
        try:
            outcomes = recrawl_watched(
                database_url=url, source=paper_source, max_papers=settings.crawl.max_papers
            )
        finally:
            paper_source.close()
    for outcome in outcomes:
        render_outcome(console, outcome, seconds=None)
        if pipeline and outcome.status == JobStatus.COMPLETED:
            with errors_as_messages():
                _hand_off(settings, outcome.job_id)
    for outcome in outcomes:
        _exit_for(outcome)
