"""Watched seeds: stored papers re-crawled on a schedule for new citations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from refnet.api.deps import api_state, audited, require
from refnet.api.errors import ApiError, declare
from refnet.api.schemas import SeedBody, SeedOut
from refnet.core.errors import NotFound
from refnet.core.ids import parse_paper_id
from refnet.db.queries import jobs as jobs_q
from refnet.db.queries import paper_views
from refnet.db.session import read_scope, session_scope
from refnet.security.roles import Role
from refnet.security.tokens import Claims

router = APIRouter(prefix="/api/seeds", tags=["seeds"])
CHANGES = declare(401, 403, 404, 422, 429)


@router.get(
    "",
    response_model=list[SeedOut],
    responses=declare(401, 403, 422, 429),
    dependencies=[Depends(require(Role.READER))],
)
def list_seeds(request: Request) -> list[SeedOut]:
    """Watched seeds, with the paper each one is."""
    with read_scope(api_state(request).database_url) as session:
        return [SeedOut.model_validate(seed) for seed in jobs_q.list_seeds(session=session)]


@router.post(
    "",
    status_code=201,
    response_model=SeedOut,
    responses={200: {"model": SeedOut, "description": "Already watched"}, **CHANGES},
)
async def add_seed(
    body: SeedBody,
    request: Request,
    response: Response,
    claims: Claims = Depends(require(Role.OPERATOR)),
) -> SeedOut:
    """Watch a stored paper (any id form): new citations of it are collected on schedule."""
    url = api_state(request).database_url
    seed, new = await run_in_threadpool(_watch, url, body.paper_id)
    if not new:
        response.status_code = 200
    await audited(
        request, claims, "seed_add", {"paper_id": body.paper_id, "seed_id": seed.id, "new": new}
    )
    return seed


def _watch(url: str, raw_id: str) -> tuple[SeedOut, bool]:
    parse_paper_id(raw_id)
    with session_scope(url) as session:
        paper = paper_views.find_stored_paper(session=session, raw_id=raw_id)
        if paper is None:
            raise NotFound(f"no stored paper matches {raw_id!r}; crawl it first")
        seed, new = jobs_q.watch_seed(session=session, paper_id=paper)
    return SeedOut.model_validate(seed), new


@router.delete("/{seed_id}", status_code=204, responses=CHANGES)
async def remove_seed(
    seed_id: Annotated[int, Path(ge=1, le=2**62)],
    request: Request,
    claims: Claims = Depends(require(Role.OPERATOR)),
) -> Response:
    """Stop watching a seed (the paper and its network stay stored)."""
    url = api_state(request).database_url

    def remove() -> bool:
        with session_scope(url) as session:
            return jobs_q.unwatch_seed(session=session, seed_id=seed_id)

    if not await run_in_threadpool(remove):
        raise ApiError(404, f"no watched seed {seed_id}")
    await audited(request, claims, "seed_remove", {"seed_id": seed_id})
    return Response(status_code=204)
