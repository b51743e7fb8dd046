"""Starting work (operators) and following it (anyone signed in): crawls, summaries, the vault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from refnet.api import triggers
from refnet.api.deps import api_state, audited, require
from refnet.api.errors import ApiError, declare
from refnet.api.schemas import (
    AcceptedOut,
    CrawlBody,
    GenerateBody,
    JobOut,
    JobPageOut,
    SummarizeBody,
    TaskRequestOut,
)
from refnet.core.errors import InvalidInput, NotFound
from refnet.db.models import RequestKind
from refnet.db.queries import jobs as jobs_q
from refnet.db.queries import paper_views, task_requests
from refnet.db.session import read_scope
from refnet.security.roles import Role
from refnet.security.tokens import Claims

router = APIRouter(tags=["pipeline"])
MAX_SUMMARIZE = 500
TRIGGER_ERRORS = declare(401, 403, 404, 422, 429, 503)
Id = Annotated[int, Path(ge=1, le=2**62)]


def _accepted(response: Response, accepted: triggers.Accepted, location: str) -> AcceptedOut:
    response.headers["Location"] = location
    return AcceptedOut(
        id=accepted.id,
        kind=accepted.kind,
        status=accepted.status,
        existing=accepted.existing,
        location=location,
    )


@router.post(
    "/api/papers/crawl", status_code=202, response_model=AcceptedOut, responses=TRIGGER_ERRORS
)
async def crawl(
    body: CrawlBody,
    request: Request,
    response: Response,
    claims: Claims = Depends(require(Role.OPERATOR, "crawl")),
) -> AcceptedOut:
    """Crawl the network around a paper; then its summaries and notes follow."""
    if (body.paper_url is None) == (body.paper_id is None):
        raise InvalidInput("give exactly one of paper_url (a paper's URL) and paper_id (any id)")
    seed = body.paper_url or body.paper_id or ""
    if body.paper_url is not None:
        triggers.check_paper_url(seed)
    state = api_state(request)
    accepted = await run_in_threadpool(
        triggers.crawl,
        state.settings,
        seed=seed,
        depth=body.depth,
        max_papers=body.max_papers,
    )
    await audited(
        request,
        claims,
        "crawl_trigger",
        {"seed": seed, "job_id": accepted.id, "existing": accepted.existing},
    )
    return _accepted(response, accepted, f"/api/jobs/{accepted.id}")


@router.post(
    "/api/tasks/summarize", status_code=202, response_model=AcceptedOut, responses=TRIGGER_ERRORS
)
async def summarize(
    body: SummarizeBody,
    request: Request,
    response: Response,
    claims: Claims = Depends(require(Role.OPERATOR)),
) -> AcceptedOut:
    """Summarize stored papers (one id or a list of up to 500, any id form)."""
    wanted = [body.paper_id] if isinstance(body.paper_id, str) else body.paper_id
    if not 1 <= len(wanted) <= MAX_SUMMARIZE:
        raise InvalidInput(f"paper_id takes one id or a list of 1 to {MAX_SUMMARIZE} ids")
    row_ids = await run_in_threadpool(_stored_ids, api_state(request).database_url, wanted)
    params, details = {"paper_ids": row_ids}, {"papers": len(row_ids)}
    return await _request_task(request, response, claims, RequestKind.SUMMARIZE, params, details)


def _stored_ids(database_url: str, wanted: list[str]) -> list[int]:
    with read_scope(database_url) as session:
        found = {raw: paper_views.find_stored_paper(session=session, raw_id=raw) for raw in wanted}
    unknown = [raw for raw, row in found.items() if row is None]
    if unknown:
        shown = ", ".join(repr(raw) for raw in unknown[:5])
        raise NotFound(f"not stored, crawl first: {shown}" + (" …" if len(unknown) > 5 else ""))
    return sorted({row for row in found.values() if row is not None})


@router.post(
    "/api/tasks/generate", status_code=202, response_model=AcceptedOut, responses=TRIGGER_ERRORS
)
async def generate(
    request: Request,
    response: Response,
    body: GenerateBody | None = None,
    claims: Claims = Depends(require(Role.OPERATOR)),
) -> AcceptedOut:
    """Bring the Obsidian vault up to date (`full`: rewrite every note)."""
    full = body.full if body is not None else False
    params = {"full": full}
    return await _request_task(request, response, claims, RequestKind.GENERATE, params, params)


async def _request_task(
    request: Request,
    response: Response,
    claims: Claims,
    kind: RequestKind,
    params: Mapping[str, Any],
    details: Mapping[str, object],
) -> AcceptedOut:
    """Queue a summary or vault request (or find its queued twin), audited, answered 202."""
    accepted = await run_in_threadpool(
        triggers.request_task,
        api_state(request).settings,
        kind=kind,
        params=dict(params),
        user_id=claims.user_id,
    )
    details = {**details, "request_id": accepted.id, "existing": accepted.existing}
    await audited(request, claims, f"{kind.value}_trigger", details)
    return _accepted(response, accepted, f"/api/tasks/{accepted.id}")


@router.get(
    "/api/jobs",
    response_model=JobPageOut,
    responses=declare(401, 403, 422, 429),
    dependencies=[Depends(require(Role.READER))],
)
def list_jobs(
    request: Request,
    status: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobPageOut:
    """Crawl jobs, newest first."""
    with read_scope(api_state(request).database_url) as session:
        total, items = jobs_q.list_jobs(session=session, status=status, limit=limit, offset=offset)
    return JobPageOut.model_validate({"total": total, "items": items})


@router.get(
    "/api/jobs/{job_id}",
    response_model=JobOut,
    responses=declare(401, 403, 404, 422, 429),
    dependencies=[Depends(require(Role.READER))],
)
def get_job(request: Request, job_id: Id) -> JobOut:
    """One crawl job: state, progress counters, error, timestamps."""
    with read_scope(api_state(request).database_url) as session:
        job = jobs_q.job_view(session=session, job_id=job_id)
    if job is None:
        raise ApiError(404, f"no crawl job {job_id}")
    return JobOut.model_validate(job)


@router.get(
    "/api/tasks/{task_id}",
    response_model=TaskRequestOut,
    responses=declare(401, 403, 404, 422, 429),
    dependencies=[Depends(require(Role.READER))],
)
def get_task(request: Request, task_id: Id) -> TaskRequestOut:
    """One summary or vault request: queued, running, done or failed (with the reason)."""
    with read_scope(api_state(request).database_url) as session:
        found = task_requests.get_request(session=session, request_id=task_id)
    if found is None:
        raise ApiError(404, f"no task request {task_id}")
    return TaskRequestOut.model_validate(found, from_attributes=True)
