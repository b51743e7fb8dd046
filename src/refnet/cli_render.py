"""How the CLI shows jobs, papers and statistics."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from refnet.crawler.params import CrawlOutcome
from refnet.db.models import Paper
from refnet.db.queries.crawl import list_jobs
from refnet.db.queries.papers import most_cited_in_network, paper_counts

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
