"""ORM models; importing this package registers every table on `Base.metadata`."""

from refnet.db.models.crawl import (
    CrawlJob,
    FrontierEntry,
    FrontierState,
    JobKind,
    JobStatus,
    WatchedSeed,
)
from refnet.db.models.paper import Author, Citation, CrawlState, Paper, PaperAuthor

__all__ = [
    "Author",
    "Citation",
    "CrawlJob",
    "CrawlState",
    "FrontierEntry",
    "FrontierState",
    "JobKind",
    "JobStatus",
    "Paper",
    "PaperAuthor",
    "WatchedSeed",
]
