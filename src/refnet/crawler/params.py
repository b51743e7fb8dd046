"""What a crawl is asked to do, and what it reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from refnet.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class CrawlParams:
    max_depth: int = 2
    max_papers: int = 500
    max_citations_per_paper: int = 1000
    max_references_per_paper: int = 1000
    # Incremental re-crawls list only citations published from this date (`YYYY-MM-DD`).
    published_since: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.max_depth <= 5:
            raise InvalidInput(f"depth must be between 0 and 5, got {self.max_depth}")
        if self.max_papers < 1:
            raise InvalidInput(f"max papers must be at least 1, got {self.max_papers}")
        if not 0 <= self.max_citations_per_paper <= 9999:
            raise InvalidInput("citations per paper must be between 0 and 9999")
        if self.max_references_per_paper < 0:
            raise InvalidInput("references per paper must not be negative")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlParams:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class CrawlProgress:
    job_id: int
    collected: int
    expanded: int
    candidates: int
    max_papers: int
    step: str


@dataclass(frozen=True, slots=True)
class CrawlOutcome:
    job_id: int
    status: str
    papers_collected: int
    papers_expanded: int
    edges_stored: int
    requests_made: int
    error: str | None
    retry_after: float | None = None  # paused: how long the source asked us to wait
    steps_done: int = 0  # paused: steps this run completed before it stopped

    def paused(self, *, retry_after: float | None, steps_done: int) -> CrawlOutcome:
        return dataclasses.replace(self, retry_after=retry_after, steps_done=steps_done)
