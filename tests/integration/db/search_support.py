"""Storing papers and summaries through the real write paths, and searching them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from refnet.core.records import PaperRecord
from refnet.db.base import utcnow
from refnet.db.models import SummaryStatus
from refnet.db.queries.papers import upsert_papers
from refnet.db.queries.search import SearchPage, search_papers
from refnet.db.queries.summaries import SummaryKey, claim_summary, set_summary
from refnet.db.session import session_scope

KEY = SummaryKey(provider="extractive", model="test", prompt_version="1", language="en")
# Papers about other things: a word in only a few of many papers is what ranking weighs most,
# as in a real library (SQLite's bm25 ignores words found in more than half of all papers).
FILLER_TITLES = (
    "Protein folding with molecular dynamics",
    "Climate models of ocean circulation",
    "Bayesian inference for clinical trials",
    "Speech recognition in noisy rooms",
    "Sparse matrices on parallel hardware",
    "Robotic grasping from tactile feedback",
    "Galaxy surveys and dark matter halos",
    "Legal contracts at scale",
)


def paper(
    number: int,
    title: str | None,
    *,
    abstract: str | None = None,
    tldr: str | None = None,
    citations: int | None = 0,
    complete: bool = True,
) -> PaperRecord:
    return PaperRecord(
        s2_id=f"{number:040x}",
        title=title,
        abstract=abstract,
        tldr=tldr,
        citation_count=citations,
        complete=complete,
    )


def store(url: str, records: Sequence[PaperRecord]) -> dict[str, int]:
    with session_scope(url) as session:
        return upsert_papers(session=session, records=records)


def store_filler(url: str) -> None:
    store(url, [paper(9000 + n, title) for n, title in enumerate(FILLER_TITLES)])


def summarize(
    url: str,
    paper_id: int,
    *,
    status: SummaryStatus = SummaryStatus.DONE,
    summary: str = "",
    tldr: str | None = None,
    keywords: Sequence[str] = (),
    key_points: Sequence[str] = (),
    key: SummaryKey = KEY,
) -> None:
    """Claim the paper's summary, then settle it as the summarizer does."""
    with session_scope(url) as session:
        claim_summary(
            session=session,
            paper_id=paper_id,
            key=key,
            stale_before=utcnow() - timedelta(minutes=30),
        )
    with session_scope(url) as session:
        set_summary(
            session=session,
            paper_id=paper_id,
            key=key,
            values={
                "status": status.value,
                "summary": summary,
                "tldr": tldr,
                "keywords": list(keywords),
                "key_points": list(key_points),
            },
        )


def search(url: str, query: str, *, limit: int = 10, offset: int = 0) -> SearchPage:
    with session_scope(url) as session:
        return search_papers(session=session, query=query, limit=limit, offset=offset)


def found(url: str, query: str) -> list[str]:
    """Titles of the first page of hits, best first."""
    return [hit.title or "" for hit in search(url, query).hits]
