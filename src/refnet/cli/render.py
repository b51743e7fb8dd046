"""How the CLI shows jobs, papers and statistics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from refnet.crawler.params import CrawlOutcome
from refnet.db.models import Paper
from refnet.db.queries.crawl import list_jobs
from refnet.db.queries.lookups import most_cited_in_network, paper_counts
from refnet.db.queries.summaries import job_summary_counts, summary_counts
from refnet.db.queries.vault import vault_file_counts

if TYPE_CHECKING:
    from refnet.generator.service import GenerateReport

SHOWN_NEIGHBOURS = 15


def render_outcome(console: Console, outcome: CrawlOutcome, *, seconds: float | None) -> None:
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    console.print(
        f"Crawl job {outcome.job_id} {outcome.status}{took}: "
        f"{outcome.papers_collected} papers collected, {outcome.papers_expanded} expanded, "
        f"{outcome.edges_stored} citation links among them, "
        f"{outcome.requests_made} source requests.",
        highlight=False,
    )


def _label(paper: Paper) -> str:
    year = f" ({paper.year})" if paper.year else ""
    return f"{paper.title or paper.s2_id}{year}"


def render_paper(console: Console, paper: Paper) -> None:
    console.print(f"[bold]{_label(paper)}[/]", highlight=False)
    authors = ", ".join(link.author.name for link in paper.authors)
    facts = {
        "authors": authors or "—",
        "venue": paper.venue or "—",
        "doi": paper.doi or "—",
        "arxiv": paper.arxiv_id or "—",
        "s2 id": paper.s2_id,
        "citations": f"{paper.citation_count if paper.citation_count is not None else '—'}",
        "references": f"{paper.reference_count if paper.reference_count is not None else '—'}",
        "open access pdf": paper.open_access_pdf_url or "—",
        "crawl state": f"{paper.crawl_state} (depth {paper.depth})",
    }
    for key, value in facts.items():
        console.print(f"  {key:>16}: {value}", highlight=False)
    if paper.tldr or paper.abstract:
        console.print(f"\n{paper.tldr or paper.abstract}", highlight=False)
    for heading, edges, other in (
        ("References stored", paper.references, "cited"),
        ("Cited by (stored)", paper.citations, "citing"),
    ):
        console.print(f"\n[bold]{heading}[/]: {len(edges)}")
        for edge in edges[:SHOWN_NEIGHBOURS]:
            console.print(f"  - {_label(getattr(edge, other))}", highlight=False)
        if len(edges) > SHOWN_NEIGHBOURS:
            console.print(f"  … and {len(edges) - SHOWN_NEIGHBOURS} more")


def render_stats(console: Console, session: Session) -> None:
    counts = paper_counts(session=session)
    collected = counts.get("collected", 0) + counts.get("expanded", 0)
    console.print(
        f"[bold]{collected}[/] papers collected ({counts.get('expanded', 0)} expanded), "
        f"{counts.get('discovered', 0)} more known by reference, "
        f"{counts['edges']} citation links, {counts['authors']} authors.",
        highlight=False,
    )
    top = Table(title="Most cited within the network", show_lines=False)
    top.add_column("cited by", justify="right")
    top.add_column("paper")
    for paper, in_degree in most_cited_in_network(session=session):
        top.add_row(str(in_degree), _label(paper))
    console.print(top)
    jobs = Table(title="Recent crawl jobs")
    for column in ("job", "status", "papers", "links", "requests", "seeds"):
        jobs.add_column(column)
    for job in list_jobs(session=session, limit=5):
        jobs.add_row(
            str(job.id),
            job.status + (f": {job.error}" if job.error else ""),
            str(job.papers_collected),
            str(job.edges_stored),
            str(job.requests_made),
            ", ".join(job.seeds),
        )
    console.print(jobs)


def render_job_summaries(
    console: Console, session: Session, *, job_id: int, vault_dir: Path
) -> None:
    """What the pipeline made of one crawl's papers."""
    counts = job_summary_counts(session=session, job_id=job_id)
    made = [
        f"{counts[f'done:{kind}']} from {label}"
        for kind, label in (("pdf", "PDFs"), ("abstract", "abstracts"), ("tldr", "TL;DRs"))
        if counts.get(f"done:{kind}")
    ]
    others = [f"{counts[s]} {s}" for s in ("failed", "deferred", "pending") if counts.get(s)]
    console.print(f"Summaries: {', '.join(made + others) or 'none'}.", highlight=False)
    if counts.get("pdf:retrying"):
        console.print(
            f"{counts['pdf:retrying']} PDF(s) could not be fetched for now (the host did not "
            "answer); those papers were summarized from their abstracts and their PDFs are "
            "tried again later by `refnet summarize --pending`.",
            highlight=False,
        )
    notes = vault_file_counts(session=session).get("note", 0)
    console.print(f"Vault {vault_dir}: {notes} notes.", highlight=False)


def render_vault_report(console: Console, report: GenerateReport, *, vault_dir: Path) -> None:
    console.print(
        f"Vault {vault_dir}: {report.notes_written} notes written, "
        f"{report.notes_unchanged} unchanged, {len(report.notes_failed)} failed, "
        f"{report.other_files_written} index/map/canvas files written "
        f"in {report.seconds:.1f} s.",
        highlight=False,
    )
    for path, reason in report.notes_failed:
        console.print(f"  failed: {path}: {reason}", highlight=False)


def render_pipeline_totals(
    console: Console, session: Session, *, vault_dir: Path, seconds: float
) -> None:
    counts = paper_counts(session=session)
    collected = counts.get("collected", 0) + counts.get("expanded", 0)
    summaries = summary_counts(session=session)
    notes = vault_file_counts(session=session)
    table = Table(title="What the pipeline made", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("papers collected", str(collected))
    table.add_row("citation links stored", str(counts["edges"]))
    table.add_row("summaries done", str(summaries.get("done", 0)))
    for status in ("failed", "deferred", "pending"):
        if summaries.get(status):
            table.add_row(f"summaries {status}", str(summaries[status]))
    table.add_row("notes in the vault", str(notes.get("note", 0)))
    table.add_row("seed maps and canvases", str(notes.get("map", 0) + notes.get("canvas", 0)))
    table.add_row("time taken", f"{seconds:.1f} s")
    console.print(table)
    console.print(f"Vault: {vault_dir.resolve()}", highlight=False)
