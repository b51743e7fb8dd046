"""Starting work from the API: crawls, summaries and vault updates, each queued once.

A trigger repeated while the same work waits returns what is already queued. If the broker
cannot take the task, the request is marked failed with the reason and the client gets a 503:
nothing is left looking queued that no worker will ever run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog

from refnet.core.config import Settings
from refnet.core.errors import InvalidInput, TransientError
from refnet.core.handoff import CRAWL_SEEDS, GENERATE_VAULT, SUMMARIZE_PAPERS, enqueue
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlParams
from refnet.crawler.service import start_crawl
from refnet.db.models import JobStatus, RequestKind, RequestStatus
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import task_requests
from refnet.db.session import session_scope
from refnet.sources.semantic_scholar import SemanticScholarClient

log = structlog.get_logger(__name__)

# Where a paper URL may point: the hosts whose URLs name a paper the crawler can resolve.
SCHOLARLY_HOSTS = (
    "semanticscholar.org",
    "api.semanticscholar.org",
    "www.semanticscholar.org",
    "doi.org",
    "dx.doi.org",
    "www.doi.org",
    "arxiv.org",
    "www.arxiv.org",
    "export.arxiv.org",
)
ACCEPTED_URLS = (
    "https://www.semanticscholar.org/paper/…, https://doi.org/10.…, https://arxiv.org/abs/…"
)


@dataclass(frozen=True, slots=True)
class Accepted:
    id: int
    kind: str
    status: str
    existing: bool


def check_paper_url(url: str) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"paper_url must be an http(s) URL of a paper; accepted: {ACCEPTED_URLS}"
        )
    if parts.hostname.lower() not in SCHOLARLY_HOSTS:
        raise InvalidInput(
            f"paper_url points to {parts.hostname}, which is not a paper host RefNet reads; "
            f"accepted: {ACCEPTED_URLS}"
        )


def crawl(settings: Settings, *, seed: str, depth: int | None, max_papers: int | None) -> Accepted:
    """Queue a crawl of `seed` (already checked by `parse_paper_id`), or find the same one."""
    ref = parse_paper_id(seed)
    defaults = settings.crawl
    params = CrawlParams(
        max_depth=defaults.max_depth if depth is None else depth,
        max_papers=defaults.max_papers if max_papers is None else max_papers,
        max_citations_per_paper=defaults.max_citations_per_paper,
        max_references_per_paper=defaults.max_references_per_paper,
    )
    url = settings.effective_database_url
    # The canonical form, so a URL and the bare id of one paper are one crawl.
    canonical = ref.api_id or ref.raw
    job_id, existing = start_crawl(
        database_url=url, seeds=[canonical], params=params, source_name=SemanticScholarClient.name
    )
    if not existing:
        _send(url, CRAWL_SEEDS, {"job_id": job_id}, on_failure=lambda r: _fail_job(url, job_id, r))
    with session_scope(url) as session:
        job = crawl_q.get_job(session=session, job_id=job_id)
        status = job.status if job is not None else JobStatus.PENDING.value
    return Accepted(id=job_id, kind="crawl", status=status, existing=existing)


def request_task(
    settings: Settings, *, kind: RequestKind, params: dict[str, Any], user_id: int
) -> Accepted:
    """Queue a summary or vault run, or find the identical one still queued."""
    url = settings.effective_database_url
    with session_scope(url) as session:
        request, existing = task_requests.find_or_add(
            session=session, kind=kind.value, params=params, requested_by=user_id
        )
    if not existing:
        task = SUMMARIZE_PAPERS if kind == RequestKind.SUMMARIZE else GENERATE_VAULT
        _send(
            url,
            task,
            {**params, "request_id": request.id},
            on_failure=lambda reason: _fail_request(url, request.id, reason),
        )
    return Accepted(id=request.id, kind=kind.value, status=request.status, existing=existing)


def _send(url: str, task: str, kwargs: dict[str, Any], *, on_failure: Any) -> None:
    try:
        enqueue(task, **kwargs)
    except Exception as exc:  # the broker's client raises transport-specific errors
        reason = f"the task queue is unreachable ({type(exc).__name__})"
        log.error("trigger_not_queued", task=task, reason=reason)
        on_failure(reason)
        raise TransientError(reason, retry_after=30) from exc


def _fail_job(url: str, job_id: int, reason: str) -> None:
    with session_scope(url) as session:
        crawl_q.fail_unstarted_job(session=session, job_id=job_id, reason=reason)


def _fail_request(url: str, request_id: int, reason: str) -> None:
    with session_scope(url) as session:
        task_requests.set_status(
            session=session, request_id=request_id, status=RequestStatus.FAILED, error=reason
        )
