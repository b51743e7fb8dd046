"""Stored papers: the list, full-text search, one paper, its neighbours, graph and note.

`{paper_id}` takes every id form the command line accepts (DOI, arXiv id, Semantic Scholar id or
URL, CorpusId:N, a title), URL-encoded; DOIs keep their slashes, so the routes below the detail
route are matched first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from refnet.api.caching import cached_json, shared_json
from refnet.api.deps import api_state, require
from refnet.api.errors import declare
from refnet.api.schemas import (
    GraphOut,
    NeighbourPageOut,
    PaperDetailOut,
    PaperPageOut,
    SearchPageOut,
    no_nul,
)
from refnet.core.errors import NotFound
from refnet.db.queries import browse, paper_views
from refnet.db.queries.search import (
    MAX_LIMIT,
    MAX_RESULTS,
    SearchHit,
    SearchPage,
    search_papers,
)
from refnet.db.session import read_connection, read_scope
from refnet.security.roles import Role

router = APIRouter(
    prefix="/api/papers", tags=["papers"], dependencies=[Depends(require(Role.READER))]
)
PaperId = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=2000,
        description="DOI, arXiv id, Semantic Scholar id or URL, CorpusId:N, PMID:N or a title.",
    ),
    AfterValidator(no_nul),
]
PAGED = declare(401, 403, 404, 422, 429)


@contextmanager
def stored_paper(request: Request, paper_id: str) -> Iterator[tuple[Session, int]]:
    """A read session, and the row id of the stored paper `paper_id` names in it; 404 naming
    `paper_id` when none is stored."""
    with read_scope(api_state(request).database_url) as session:
        found = paper_views.find_stored_paper(session=session, raw_id=paper_id)
        if found is None:
            raise _not_stored(paper_id)
        yield session, found


def _detail(database_url: str, paper_id: str) -> dict[str, object] | None:
    with read_connection(database_url) as connection:
        return paper_views.paper_detail_for(session=connection, raw_id=paper_id)


def _not_stored(paper_id: str) -> NotFound:
    return NotFound(f"no stored paper matches {paper_id!r}; crawl it first or check the id")


@router.get("", response_model=PaperPageOut, responses=declare(401, 403, 422, 429))
def list_papers(
    request: Request,
    response: Response,
    year_min: Annotated[int | None, Query(ge=0, le=3000)] = None,
    year_max: Annotated[int | None, Query(ge=0, le=3000)] = None,
    min_citations: Annotated[int | None, Query(ge=0)] = None,
    field_of_study: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    seed: bool | None = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(browse.SORTS)}.")] = "-citations",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    offset: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> Response:
    """Stored papers, filtered and sorted, a page at a time (keyset `cursor` or `offset`)."""
    filters = browse.PaperFilter(
        year_min=year_min,
        year_max=year_max,
        min_citations=min_citations,
        field_of_study=field_of_study,
        seed=seed,
        state=state,
    )
    with read_scope(api_state(request).database_url) as session:
        page = browse.list_papers(
            session=session, filters=filters, sort=sort, limit=limit, cursor=cursor, offset=offset
        )
    payload = {
        "total": page.total,
        "items": [asdict(item) for item in page.items],
        "next_cursor": page.next_cursor,
    }
    return cached_json(request, payload, response.headers)


@router.get("/search", response_model=SearchPageOut, responses=declare(401, 403, 422, 429))
async def search(
    request: Request,
    response: Response,
    q: Annotated[str, Query(description='Words, "a phrase", -excluded, OR between alternatives.')],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_RESULTS)] = 0,
) -> Response:
    """Papers matching `q` in title, abstract, TL;DR, summary or keywords, best first."""
    state = api_state(request)

    async def answer() -> dict[str, object]:
        if state.async_reads is not None:
            page = await state.async_reads.search(q, limit=limit, offset=offset)
        else:
            page = await run_in_threadpool(_search, state.database_url, q, limit, offset)
        return {
            "total": page.total,
            "total_is_exact": page.total_is_exact,
            "items": [_search_item(hit) for hit in page.hits],
        }

    name = ("search", q, limit, offset)
    return await shared_json(request, state.response_cache, response.headers, name, answer)


def _search(database_url: str, query: str, limit: int, offset: int) -> SearchPage:
    with read_scope(database_url) as session:
        return search_papers(session=session, query=query, limit=limit, offset=offset)


def _search_item(hit: SearchHit) -> dict[str, object]:
    return {**{k: v for k, v in asdict(hit).items() if k != "paper_id"}, "id": hit.paper_id}


def _neighbours(
    request: Request, paper_id: str, direction: Literal["references", "citations"], limit: int,
    offset: int,
) -> dict[str, object]:  # fmt: skip
    with stored_paper(request, paper_id) as (session, row_id):
        page = paper_views.neighbours(
            session=session, paper_id=row_id, direction=direction, limit=limit, offset=offset
        )
    return {"total": page.total, "items": [asdict(item) for item in page.items]}


@router.get("/{paper_id:path}/references", response_model=NeighbourPageOut, responses=PAGED)
def references(
    request: Request,
    paper_id: PaperId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, object]:
    """Papers this paper cites, most cited first."""
    return _neighbours(request, paper_id, "references", limit, offset)


@router.get("/{paper_id:path}/citations", response_model=NeighbourPageOut, responses=PAGED)
def citations(
    request: Request,
    paper_id: PaperId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, object]:
    """Papers citing this paper, most cited first."""
    return _neighbours(request, paper_id, "citations", limit, offset)


@router.get("/{paper_id:path}/graph", response_model=GraphOut, responses=PAGED)
async def graph(
    request: Request,
    response: Response,
    paper_id: PaperId,
    depth: Annotated[int, Query(ge=1, le=2)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Nodes and edges around the paper, `depth` hops out, for drawing."""
    state = api_state(request)
    s2_id = paper_views.s2_id_in(paper_id)

    def in_thread() -> paper_views.Graph:
        with stored_paper(request, paper_id) as (session, row_id):
            return paper_views.paper_graph(
                session=session, paper_id=row_id, depth=depth, limit=limit
            )

    async def answer() -> dict[str, object]:
        if state.async_reads is not None and s2_id is not None:
            found = await state.async_reads.paper_graph(s2_id, depth=depth, limit=limit)
            if found is None:
                raise _not_stored(paper_id)
        else:
            found = await run_in_threadpool(in_thread)
        return {"nodes": found.nodes, "edges": found.edges, "truncated": found.truncated}

    name = ("graph", paper_id, depth, limit)
    return await shared_json(request, state.response_cache, response.headers, name, answer)


@router.get(
    "/{paper_id:path}/note",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}}, **PAGED},
)
def note(request: Request, paper_id: PaperId) -> PlainTextResponse:
    """The paper's Markdown note as it is in the vault."""
    state = api_state(request)
    with stored_paper(request, paper_id) as (session, row_id):
        relative = paper_views.note_path(session=session, paper_id=row_id)
    if relative is None:
        raise NotFound(f"{paper_id!r} has no note yet; POST /api/tasks/generate writes the vault")
    vault = Path(state.settings.vault_dir).resolve()
    path = (vault / relative).resolve()
    if not path.is_relative_to(vault) or not path.is_file():
        raise NotFound(f"the note of {paper_id!r} is not in the vault; regenerate the vault")
    return PlainTextResponse(
        path.read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8"
    )


@router.get("/{paper_id:path}", response_model=PaperDetailOut, responses=PAGED)
async def detail(request: Request, response: Response, paper_id: PaperId) -> Response:
    """Everything stored about one paper: metadata, authors, newest summary, note path."""
    state = api_state(request)
    s2_id = paper_views.s2_id_in(paper_id)

    async def answer() -> dict[str, object]:
        if state.async_reads is not None and s2_id is not None:
            payload = await state.async_reads.paper_detail(s2_id)
        else:
            payload = await run_in_threadpool(_detail, state.database_url, paper_id)
        if payload is None:
            raise _not_stored(paper_id)
        return payload

    name = ("detail", paper_id)
    return await shared_json(request, state.response_cache, response.headers, name, answer)
