"""Request routing and the JSON answers of the fake S2 Graph API (no HTTP here).

Each handler takes the graph and a parsed `Call` and returns a `Reply` shaped like the
official OpenAPI spec (`PaperBatch`, `FullPaper`, `CitationBatch`, `ReferenceBatch`,
`PaperMatch`, `PaperRelevanceSearchBatch`, `Error400`, `Error404`).
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

from .s2_fields import (
    FieldError,
    PaperSelection,
    parse_listing_fields,
    parse_paper_fields,
    render_paper,
    render_row,
)
from .s2_graph import SyntheticGraph, effective_date

BASE_PATH = "/graph/v1"
BATCH_MAX_IDS = 500
BATCH_MAX_CITATIONS = 9999  # the batch endpoint silently truncates citation lists
LISTING_MAX_LIMIT = 1000
LISTING_WINDOW = 10_000  # offset + limit must stay below this
SEARCH_MAX_LIMIT = 100
SEARCH_MAX_RESULTS = 1000
_HEX_ID = re.compile(r"[0-9a-fA-F]{40}")
_DATE_PREFIX = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """Rendered as 400 {"error": message}."""


Handler = Callable[[SyntheticGraph, Call], Reply]


@dataclass(frozen=True)
class Route:
    endpoint: str  # counter name: batch, paper, citations, references, match, search, other
    method: str
    handler: Handler


def route(path: str) -> Route:
    """The route for a raw request path (query string already removed)."""
    if not path.startswith(BASE_PATH + "/paper/"):
        return Route("other", "", lambda graph, call: error(404, f"No such endpoint: {path}"))
    rest = path[len(BASE_PATH + "/paper/") :]
    if rest in _FIXED_ROUTES:
        return _FIXED_ROUTES[rest]
    for suffix, endpoint in (("/citations", "citations"), ("/references", "references")):
        if rest.endswith(suffix):
            paper_ref = unquote(rest[: -len(suffix)])
            return Route(endpoint, "GET", partial(list_edges, endpoint, paper_ref))
    return Route("paper", "GET", partial(get_paper, unquote(rest)))


def dispatch(graph: SyntheticGraph, found: Route, call: Call) -> Reply:
    """Run the route's handler; bad fields or parameters become 400 {"error": ...}."""
    if found.method and call.method != found.method:
        return error(405, f"Method {call.method} not allowed")
    try:
        return found.handler(graph, call)
    except (FieldError, BadRequest) as exc:
        return error(400, str(exc))


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


# -- ids -----------------------------------------------------------------------------------


def resolve_id(graph: SyntheticGraph, ref: str) -> str | None:
    """PaperId for any id form the API accepts, or None."""
    ref = ref.strip()
    if _HEX_ID.fullmatch(ref):
        return ref.lower() if ref.lower() in graph.papers else None
    prefix, sep, value = ref.partition(":")
    if not sep or not value:
        return None
    if prefix.upper() == "URL":
        return _resolve_url(graph, value)
    return graph.by_external_id(prefix.upper(), value)


def _resolve_url(graph: SyntheticGraph, url: str) -> str | None:
    hex_id = re.search(r"semanticscholar\.org/paper/(?:[^/]+/)?([0-9a-fA-F]{40})", url)
    if hex_id:
        return resolve_id(graph, hex_id.group(1))
    arxiv = re.search(r"arxiv\.org/(?:abs|pdf)/(.+?)(?:\.pdf)?$", url)
    if arxiv:
        return graph.by_external_id("ARXIV", arxiv.group(1))
    doi = re.search(r"doi\.org/(10\..+)$", url)
    if doi:
        return graph.by_external_id("DOI", unquote(doi.group(1)))
    acl = re.search(r"acl(?:web|anthology)\.org/(?:anthology/)?([^/]+?)(?:\.pdf)?/?$", url)
    return graph.by_external_id("ACL", acl.group(1)) if acl else None


def not_found(ref: str) -> Reply:
    return error(404, f"Paper with id {ref} not found")


# -- query parameters ----------------------------------------------------------------------


def int_param(call: Call, name: str, default: int) -> int:
    raw = call.params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Unacceptable query params: [{name}={raw}]") from None


def page_window(call: Call, *, max_limit: int, window: int) -> tuple[int, int]:
    """(offset, limit) with limit <= max_limit and offset + limit < window, else 400."""
    offset, limit = int_param(call, "offset", 0), int_param(call, "limit", 100)
    if offset < 0 or limit < 1:
        raise BadRequest(f"Unacceptable query params: [offset={offset}, limit={limit}]")
    if limit > max_limit:
        raise BadRequest(f"Unacceptable query params: [limit={limit}], must be <= {max_limit}")
    if offset + limit >= window:
        raise BadRequest(f"Unacceptable query params: offset + limit must be < {window}")
    return offset, limit


def date_range(text: str) -> tuple[str, str]:
    """Inclusive ISO bounds for `publicationDateOrYear` (`2019`, `2020-06:`, `:2015-01`, ...)."""
    start, sep, end = text.strip().partition(":")
    if not sep:
        end = start
    try:
        low = _date_bound(start, last=False) if start else "0000-01-01"
        high = _date_bound(end, last=True) if end else "9999-12-31"
    except ValueError:
        raise BadRequest(f"Unacceptable query params: [publicationDateOrYear={text}]") from None
    return low, high


def _date_bound(prefix: str, *, last: bool) -> str:
    found = _DATE_PREFIX.fullmatch(prefix.strip())
    if not found:
        raise ValueError(prefix)
    year = int(found.group(1))
    month = int(found.group(2) or (12 if last else 1))
    days = calendar.monthrange(year, month)[1]  # raises ValueError on a bad month
    day = int(found.group(3) or (days if last else 1))
    if not 1 <= day <= days:
        raise ValueError(prefix)
    return f"{year:04d}-{month:02d}-{day:02d}"


def _in_date_range(graph: SyntheticGraph, call: Call) -> Callable[[str], bool]:
    raw = call.params.get("publicationDateOrYear")
    if not raw:
        return lambda paper_id: True
    low, high = date_range(raw)
    return lambda paper_id: low <= effective_date(graph.papers[paper_id]) <= high


# -- handlers ------------------------------------------------------------------------------


def get_batch(graph: SyntheticGraph, call: Call) -> Reply:
    selection = parse_paper_fields(call.params.get("fields"))
    ids = _batch_ids(call.body)
    budget = BATCH_MAX_CITATIONS
    answer: list[dict[str, Any] | None] = []
    for ref in ids:
        paper_id = resolve_id(graph, ref)
        if paper_id is None:
            answer.append(None)
            continue
        rendered = _render_full(graph, paper_id, selection, citation_cap=budget)
        budget -= len(rendered.get("citations") or ())
        answer.append(rendered)
    return Reply(200, answer)


def _batch_ids(body: bytes) -> list[str]:
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise BadRequest("Request body is not valid JSON") from None
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest('Request body must be {"ids": [<paper id strings>]}')
    if len(ids) > BATCH_MAX_IDS:
        raise BadRequest(f"Too many ids: {len(ids)}; at most {BATCH_MAX_IDS} per request")
    return ids


def get_paper(paper_ref: str, graph: SyntheticGraph, call: Call) -> Reply:
    selection = parse_paper_fields(call.params.get("fields"))
    paper_id = resolve_id(graph, paper_ref)
    if paper_id is None:
        return not_found(paper_ref)
    return Reply(200, _render_full(graph, paper_id, selection, citation_cap=BATCH_MAX_CITATIONS))


def _render_full(
    graph: SyntheticGraph, paper_id: str, selection: PaperSelection, *, citation_cap: int
) -> dict[str, Any]:
    nested: dict[str, list[dict[str, Any]]] = {}
    if "citations" in selection.nested:
        citing = graph.citations_of(paper_id)[: max(citation_cap, 0)]
        nested["citations"] = [graph.papers[c] for c in citing]
    if "references" in selection.nested:
        count = len(graph.references.get(paper_id, ()))
        nested["references"] = [graph.referenced_paper(paper_id, i) for i in range(count)]
    return render_paper(graph.papers[paper_id], selection, nested_papers=nested)


def list_edges(kind: str, paper_ref: str, graph: SyntheticGraph, call: Call) -> Reply:
    edge_fields, selection = parse_listing_fields(call.params.get("fields"))
    offset, limit = page_window(call, max_limit=LISTING_MAX_LIMIT, window=LISTING_WINDOW)
    paper_id = resolve_id(graph, paper_ref)
    if paper_id is None:
        return not_found(paper_ref)
    if kind == "citations":
        keep = _in_date_range(graph, call)
        citing = [c for c in graph.citations_of(paper_id) if keep(c)]
        rows = [
            _citation_row(graph, c, paper_id, edge_fields, selection)
            for c in citing[offset : offset + limit]
        ]
        total = len(citing)
    else:
        refs = graph.references.get(paper_id, [])
        total = len(refs)
        rows = [
            _reference_row(graph, paper_id, i, refs[i], edge_fields, selection)
            for i in range(offset, min(offset + limit, total))
        ]
    return Reply(200, _page(offset, len(rows), total, rows))


def _page(offset: int, count: int, total: int, data: list[Any]) -> dict[str, Any]:
    """A listing page; `next` only when more rows exist."""
    page: dict[str, Any] = {"offset": offset}
    if offset + count < total and count:
        page["next"] = offset + count
    page["data"] = data
    return page


def _citation_row(
    graph: SyntheticGraph, citing: str, cited: str, edge_fields: list[str],
    selection: PaperSelection,
) -> dict[str, Any]:  # fmt: skip
    refs = graph.references.get(citing, [])
    position = refs.index(cited) if cited in refs else 0
    edge = graph.edge(citing, cited, position)
    return render_row(edge, edge_fields, "citingPaper", graph.papers[citing], selection)


def _reference_row(
    graph: SyntheticGraph, citing: str, position: int, cited: str | None,
    edge_fields: list[str], selection: PaperSelection,
) -> dict[str, Any]:  # fmt: skip
    paper = graph.referenced_paper(citing, position)
    edge = graph.edge(citing, cited, position)
    return render_row(edge, edge_fields, "citedPaper", paper, selection)


def match_title(graph: SyntheticGraph, call: Call) -> Reply:
    selection = parse_paper_fields(call.params.get("fields"))
    query = _required_query(call)
    found = graph.match_title(query)
    if found is None or not _in_date_range(graph, call)(found[0]):
        return error(404, "Title match not found")
    paper_id, similarity = found
    paper = _render_full(graph, paper_id, selection, citation_cap=BATCH_MAX_CITATIONS)
    paper["matchScore"] = round(200.0 * similarity, 4)
    return Reply(200, {"data": [paper]})


def search(graph: SyntheticGraph, call: Call) -> Reply:
    selection = parse_paper_fields(call.params.get("fields"))
    query = _required_query(call)
    offset, limit = page_window(call, max_limit=SEARCH_MAX_LIMIT, window=SEARCH_MAX_RESULTS + 1)
    keep = _in_date_range(graph, call)
    found = [pid for pid in graph.search(query) if keep(pid)]
    data = [
        _render_full(graph, pid, selection, citation_cap=BATCH_MAX_CITATIONS)
        for pid in found[offset : offset + limit]
    ]
    visible = min(len(found), SEARCH_MAX_RESULTS)
    return Reply(200, {"total": len(found), **_page(offset, len(data), visible, data)})


def _required_query(call: Call) -> str:
    query = call.params.get("query", "").strip()
    if not query:
        raise BadRequest("Missing required query parameter: query")
    return query


_FIXED_ROUTES = {
    "batch": Route("batch", "POST", get_batch),
    "search": Route("search", "GET", search),
    "search/match": Route("match", "GET", match_title),
}
