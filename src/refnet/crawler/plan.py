"""Choosing a crawl's next step: collect the best candidates (one batch request) or expand the
best collected paper (one citations listing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from refnet.crawler import steps
from refnet.crawler.params import CrawlParams
from refnet.db.models import FrontierState
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import ranking as ranking_q
from refnet.sources.base import BATCH_LIMIT

# ("papers", ids) for a batch lookup, ("citations", s2_id) for a citations listing.
Request = tuple[str, tuple[str, ...]] | tuple[str, str]


@dataclass(frozen=True, slots=True)
class Plan:
    kind: Literal["collect", "expand"]
    entry: crawl_q.ExpandableRow | None  # the best expandable paper (expanded by "expand")
    candidates: list[ranking_q.CandidateRow] = field(default_factory=list)

    @property
    def request(self) -> Request:
        if self.kind == "collect":
            return ("papers", tuple(c.s2_id for c in self.candidates))
        assert self.entry is not None
        return ("citations", self.entry.s2_id)


def _kind(
    params: CrawlParams, *, done: int, waiting: int, entry: crawl_q.ExpandableRow | None
) -> Literal["collect", "expand"] | None:
    """Collect when a full batch waits (or nothing is left to expand), but seeds first."""
    budget = params.max_papers - done
    if budget <= 0:
        return None
    seeds_first = entry is not None and entry.is_seed
    full_batch = waiting >= min(BATCH_LIMIT, budget)
    if waiting and not seeds_first and (full_batch or entry is None):
        return "collect"
    return "expand" if entry is not None else None


def make_plan(*, session: Session, job_id: int, params: CrawlParams) -> Plan | None:
    """The next step of the job; None when the crawl is done."""
    done = crawl_q.count_frontier(session=session, job_id=job_id, states=crawl_q.IN_FRONTIER)
    waiting = crawl_q.count_frontier(
        session=session, job_id=job_id, states=[FrontierState.CANDIDATE.value]
    )
    entry = crawl_q.next_expandable(session=session, job_id=job_id, max_depth=params.max_depth)
    kind = _kind(params, done=done, waiting=waiting, entry=entry)
    if kind is None:
        return None
    candidates = []
    if kind == "collect":
        limit = params.max_papers - done
        candidates = steps.pick_candidates(session=session, job_id=job_id, limit=limit)
    return Plan(kind, entry, candidates)
