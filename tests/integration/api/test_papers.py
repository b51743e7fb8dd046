"""Reading papers over HTTP, on the stack and on the embedded default: every id form, pages,
neighbours, graph, note, search, caching, and the 4xx answers for what a client gets wrong."""

from __future__ import annotations

import http.client
from urllib.parse import quote, urlencode

import pytest

from refnet.security.roles import Role
from tests.support.api import RAG_S2, ApiServer

RAG_TITLE = "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks"


@pytest.mark.parametrize(
    "paper_id",
    [
        RAG_S2,
        "ARXIV:2005.11401",
        "arXiv:2005.11401",
        "https://arxiv.org/abs/2005.11401v4",
        f"https://www.semanticscholar.org/paper/{RAG_S2}",
        RAG_TITLE,
    ],
)
def test_a_paper_is_found_by_every_id_form(api: ApiServer, paper_id: str) -> None:
    answer = api.get(f"/api/papers/{quote(paper_id, safe='')}")
    assert answer.status_code == 200, answer.text
    paper = answer.json()
    assert paper["s2_id"] == RAG_S2
    assert paper["title"] == RAG_TITLE
    assert paper["year"] == 2020
    assert paper["authors"] and all(author["name"] for author in paper["authors"])
    assert paper["summary"] is not None and paper["summary"]["text"]
    assert paper["note_path"] and paper["note_path"].endswith(".md")


def test_an_unknown_paper_is_a_404_naming_it(api: ApiServer) -> None:
    answer = api.get("/api/papers/ARXIV:1901.00001")
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_found"
    assert "ARXIV:1901.00001" in body["message"]
    assert body["request_id"] == answer.headers["x-request-id"]


@pytest.mark.parametrize("paper_id", ["CorpusId:abc", "javascript:alert(1)", "x"])
def test_an_id_in_no_accepted_form_is_a_422_listing_the_forms(
    api: ApiServer, paper_id: str
) -> None:
    answer = api.get(f"/api/papers/{quote(paper_id, safe='')}")
    assert answer.status_code == 422, answer.text
    assert "DOI" in answer.json()["message"]


def test_paper_reads_carry_an_etag_and_answer_304_when_unchanged(api: ApiServer) -> None:
    first = api.get(f"/api/papers/{RAG_S2}")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = api.get(f"/api/papers/{RAG_S2}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = api.get(f"/api/papers/{RAG_S2}", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


def test_the_list_filters_sorts_and_pages_with_a_total(api: ApiServer) -> None:
    everything = api.get("/api/papers", params={"limit": 100}).json()
    assert everything["total"] == len(everything["items"]) > 10
    counts = [p["citation_count"] or 0 for p in everything["items"]]
    assert counts == sorted(counts, reverse=True)

    recent = api.get("/api/papers", params={"year_min": 2020, "sort": "year", "limit": 100}).json()
    years = [p["year"] for p in recent["items"]]
    assert years and min(years) >= 2020 and years == sorted(years)
    assert recent["total"] == len(years)

    pages, cursor = [], None
    while True:
        params = {"limit": 7, "sort": "title", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/papers", params=params).json()
        pages.extend(p["id"] for p in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    by_title = api.get("/api/papers", params={"limit": 100, "sort": "title"}).json()
    assert pages == [p["id"] for p in by_title["items"]]

    by_offset = api.get("/api/papers", params={"limit": 5, "offset": 5}).json()
    assert [p["id"] for p in by_offset["items"]] == [p["id"] for p in everything["items"][5:10]]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sort": "popularity"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"year_min": "recent"}, "year_min"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"colour": "blue"}, "colour"),
        ({"state": "bogus"}, "state"),
    ],
)
def test_bad_list_parameters_are_422s_naming_them(
    api: ApiServer, params: dict[str, object], named: str
) -> None:
    answer = api.get("/api/papers", params=params)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["message"]


def test_references_and_citations_are_paged_with_totals(api: ApiServer) -> None:
    references = api.get(f"/api/papers/{RAG_S2}/references", params={"limit": 3}).json()
    assert references["total"] > 3 and len(references["items"]) == 3
    citations = api.get(f"/api/papers/{RAG_S2}/citations", params={"limit": 100}).json()
    assert citations["total"] == len(citations["items"]) > 0
    citing = {p["s2_id"] for p in citations["items"]}
    assert RAG_S2 not in citing
    rest = api.get(f"/api/papers/{RAG_S2}/references", params={"limit": 100, "offset": 3}).json()
    assert len(rest["items"]) == references["total"] - 3


def test_the_graph_has_the_paper_its_neighbours_and_edges_between_them(api: ApiServer) -> None:
    graph = api.get(f"/api/papers/{RAG_S2}/graph", params={"depth": 1, "limit": 500}).json()
    ids = {node["id"] for node in graph["nodes"]}
    centre = [node for node in graph["nodes"] if node["depth"] == 0]
    assert [node["s2_id"] for node in centre] == [RAG_S2]
    assert len(ids) > 5
    assert all(edge["source"] in ids and edge["target"] in ids for edge in graph["edges"])
    small = api.get(f"/api/papers/{RAG_S2}/graph", params={"depth": 2, "limit": 4}).json()
    assert len(small["nodes"]) == 4 and small["truncated"] is True
    assert api.get(f"/api/papers/{RAG_S2}/graph", params={"depth": 3}).status_code == 422


def test_the_note_is_the_markdown_in_the_vault(api: ApiServer) -> None:
    answer = api.get(f"/api/papers/{RAG_S2}/note")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/markdown")
    assert answer.text.startswith("---\n")
    assert RAG_TITLE in answer.text


def test_search_ranks_highlights_and_escapes(api: ApiServer) -> None:
    answer = api.get("/api/papers/search", params={"q": "knowledge-intensive NLP", "limit": 5})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["total"] >= 1
    assert found["items"][0]["s2_id"] == RAG_S2
    assert "<mark>" in found["items"][0]["title_highlighted"]
    nothing = api.get("/api/papers/search", params={"q": "zzzxqv"}).json()
    assert nothing == {"total": 0, "total_is_exact": True, "items": []}


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE papers; --",
        '" OR 1=1 --',
        "title:(a OR b) NEAR/2 c*",
        "% _ \\ ' \"",
        "retrieval & | ! ( ) : * <->",
    ],
)
def test_sql_and_search_syntax_metacharacters_never_break_search(
    api: ApiServer, query: str
) -> None:
    answer = api.get("/api/papers/search", params={"q": query})
    assert answer.status_code in (200, 422), answer.text
    assert api.get("/api/papers", params={"limit": 1}).json()["total"] > 10  # nothing dropped


@pytest.mark.parametrize("query", ["", "   ", "a\x00b"])
def test_empty_and_nul_queries_are_422s(api: ApiServer, query: str) -> None:
    answer = api.get("/api/papers/search", params={"q": query})
    assert answer.status_code == 422, answer.text
    assert "q" in answer.json()["message"] or "query" in answer.json()["message"]


def test_a_100_kb_query_is_refused_with_a_4xx(api: ApiServer) -> None:
    # httpx refuses URLs this long itself; a raw client sends it as a script might.
    connection = http.client.HTTPConnection(api.base_url.removeprefix("http://"), timeout=30)
    target = "/api/papers/search?" + urlencode({"q": "retrieval " * 10_000})
    connection.request("GET", target, headers={"Authorization": f"Bearer {api.token(Role.READER)}"})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert 400 <= answer.status < 500, body[:300]


def test_reads_need_a_token_and_say_how_to_get_one(api: ApiServer) -> None:
    with api.client() as client:
        answer = client.get(f"/api/papers/{RAG_S2}")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization" in answer.json()["message"]


def test_every_role_may_read(api: ApiServer) -> None:
    for role in Role:
        assert api.get(f"/api/papers/{RAG_S2}", role=role).status_code == 200
