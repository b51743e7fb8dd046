"""`refnet …`: the command line. Every service process is also a command of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from refnet.cli_render import render_outcome, render_paper, render_stats
from refnet.core.config import Settings, get_settings
from refnet.core.errors import InvalidInput, RefNetError
from refnet.core.ids import parse_paper_id
from refnet.core.logging import configure_logging
from refnet.crawler.params import CrawlOutcome, CrawlParams, CrawlProgress
from refnet.crawler.service import run_crawl, start_crawl
from refnet.crawler.watch import recrawl_watched, watch_seeds
from refnet.db import migrate
from refnet.db.models import JobStatus
from refnet.db.queries.papers import lookup_paper
from refnet.db.session import session_scope
from refnet.sources.base import PaperSource
from refnet.sources.factory import SOURCE_FORMS, open_source

app = typer.Typer(
    help="RefNet: map the citation network around research papers.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
papers_app = typer.Typer(help="Stored papers.", no_args_is_help=True)
watch_app = typer.Typer(help="Seeds re-crawled for new citations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(papers_app, name="papers")
app.add_typer(watch_app, name="watch")

console = Console()
errors = Console(stderr=True)
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PAUSED = 75  # EX_TEMPFAIL: try again later


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors_as_messages() -> Iterator[None]:
    try:
        yield
    except InvalidInput as exc:
        _fail(str(exc), EXIT_USAGE)
    except RefNetError as exc:
        _fail(str(exc))


def _settings(verbose: bool = False) -> Settings:
    try:
        settings = get_settings()
    except Exception as exc:  # pydantic's ValidationError names the bad variable
        _fail(f"invalid configuration: {exc}", EXIT_USAGE)
    configure_logging(level="INFO" if verbose else "WARNING", fmt=settings.log_format)
    return settings


def _ready_database(settings: Settings) -> str:
    """The database URL, migrated when embedded, else checked to be current."""
    url = settings.effective_database_url
    if settings.is_embedded:
        migrate.upgrade(url)
    else:
        migrate.ensure_schema_current(url)
    return url


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
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress events."),
) -> None:
    """Collect the citation network around SEEDS into the database."""
    settings = _settings(verbose)
    with _errors_as_messages():
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
        url = _ready_database(settings)
        job_id, resumed = start_crawl(
            database_url=url, seeds=seeds, params=params, source_name=paper_source.name
        )
        if resumed:
            console.print(f"Resuming crawl job {job_id} where it stopped.")
        outcome = _run_with_progress(job_id, url, paper_source, params.max_papers)
    _exit_for(outcome)


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
        _fail(outcome.error or "the crawl was paused", EXIT_PAUSED)
    if outcome.status != JobStatus.COMPLETED:
        _fail(outcome.error or f"the crawl ended {outcome.status}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database schema to this version of RefNet."""
    settings = _settings()
    url = settings.effective_database_url
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
    url = _settings().effective_database_url
    console.print(f"database: {migrate.current_revision(url) or 'empty'}")
    console.print(f"code:     {migrate.head_revision()}")


@papers_app.command("show")
def papers_show(paper_id: str = typer.Argument(..., help="Any id form `crawl` accepts.")) -> None:
    """Show one stored paper with its authors, references and citations."""
    settings = _settings()
    with _errors_as_messages():
        ref = parse_paper_id(paper_id)
        url = _ready_database(settings)
        with session_scope(url) as session:
            paper = lookup_paper(session=session, api_id=ref.api_id, title=ref.title)
            if paper is None:
                _fail(f"no stored paper matches {paper_id!r}; crawl it first")
            render_paper(console, paper)


@app.command()
def stats() -> None:
    """Summarize what the database holds."""
    settings = _settings()
    with _errors_as_messages():
        url = _ready_database(settings)
        with session_scope(url) as session:
            render_stats(console, session)


@watch_app.command("add")
def watch_add(seeds: list[str] = typer.Argument(..., help="Stored papers to watch.")) -> None:
    """Watch stored papers: `refnet recrawl` collects their new citations."""
    settings = _settings()
    with _errors_as_messages():
        url = _ready_database(settings)
        added = watch_seeds(database_url=url, seeds=seeds)
        console.print(f"Watching {added} seed(s).")


@app.command()
def recrawl(
    source: str | None = typer.Option(None, help=f"Where papers come from: {SOURCE_FORMS}."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Collect citations published since the last crawl of every watched seed."""
    settings = _settings(verbose)
    with _errors_as_messages():
        url = _ready_database(settings)
        paper_source = open_source(source, settings)
        try:
            outcomes = recrawl_watched(
                database_url=url, source=paper_source, max_papers=settings.crawl.max_papers
            )
        finally:
            paper_source.close()
    for outcome in outcomes:
        render_outcome(console, outcome, seconds=None)
    for outcome in outcomes:
        _exit_for(outcome)


@app.command()
def demo() -> None:
    """Crawl the bundled offline sample into the embedded database and show what it holds."""
    settings = _settings()
    with _errors_as_messages():
        url = _ready_database(settings)
        sample = open_source("sample", settings)
        params = CrawlParams(max_depth=3, max_papers=settings.crawl.max_papers)
        job_id, _ = start_crawl(
            database_url=url, seeds=DEMO_SEEDS, params=params, source_name=sample.name
        )
        console.print(f"Crawling the bundled sample from {len(DEMO_SEEDS)} seed papers…")
        outcome = _run_with_progress(job_id, url, sample, params.max_papers)
        _exit_for(outcome)
        with session_scope(url) as session:
            render_stats(console, session)
        console.print(f"Database: {url}")


DEMO_SEEDS = ["ARXIV:2005.11401", "https://arxiv.org/abs/1706.03762"]
