"""The fake Semantic Scholar server answers like the official API spec says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .s2_graph import SyntheticGraph, effective_date, make_graph
from .s2_server import FakeSemanticScholar, Faults, format_retry_after


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(600, seed=11)


@pytest.fixture
def s2(graph: SyntheticGraph) -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(graph) as server:
        yield server


@pytest.fixture
def client(s2: FakeSemanticScholar) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=s2.base_url, timeout=5) as http:
        yield http


def _first(graph: SyntheticGraph, key: str) -> dict[str, Any]:
    return next(p for p in graph.papers.values() if key in p["externalIds"])


def _most_cited(graph: SyntheticGraph) -> str:
    return max(graph.papers, key=lambda pid: len(graph.citations_of(pid)))


def _with_unresolved_reference(graph: SyntheticGraph) -> str:
    return next(pid for pid, refs in graph.references.items() if None in refs)


# -- fields --------------------------------------------------------------------------------


def test_without_fields_a_paper_has_only_id_and_title(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    pid = next(iter(graph.papers))

    answer = client.get(f"/paper/{pid}")

    assert answer.status_code == 200
    assert answer.json() == {"paperId": pid, "title": graph.papers[pid]["title"]}


def test_requested_fields_are_returned_and_nothing_else(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    paper = _first(graph, "DOI")

    body = client.get(f"/paper/{paper['paperId']}", params={"fields": "year,authors,tldr"}).json()

    assert set(body) == {"paperId", "year", "authors", "tldr"}
    assert body["authors"] == [
        {"authorId": a["authorId"], "name": a["name"]} for a in paper["authors"]
    ]


def test_nested_reference_fields_keep_unresolved_entries(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    pid = _with_unresolved_reference(graph)

    body = client.get(f"/paper/{pid}", params={"fields": "references.paperId"}).json()

    assert [r["paperId"] for r in body["references"]] == graph.references[pid]
    assert all(set(r) == {"paperId"} for r in body["references"])


def test_unknown_fields_answer_400_naming_them(client: httpx.Client, graph: SyntheticGraph) -> None:
    pid = next(iter(graph.papers))

    answer = client.get(f"/paper/{pid}", params={"fields": "title,garbage,references.tldr"})

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "Unrecognized or unsupported fields: [garbage, references.tldr]"
    }


def test_unknown_paper_answers_404(client: httpx.Client) -> None:
    answer = client.get("/paper/CorpusId:1")

    assert answer.status_code == 404
    assert answer.json() == {"error": "Paper with id CorpusId:1 not found"}


# -- ids and batch -------------------------------------------------------------------------


def test_batch_keeps_request_order_with_null_for_unknown_ids(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    arxiv, pubmed, acl = _first(graph, "ArXiv"), _first(graph, "PubMed"), _first(graph, "ACL")
    hexed, mag = list(graph.papers.values())[3], _first(graph, "MAG")
    ids = [
        f"ARXIV:{arxiv['externalIds']['ArXiv']}", "DOI:10.9999/nothing", hexed["paperId"],
        f"PMID:{pubmed['externalIds']['PubMed']}", f"CorpusId:{hexed['corpusId']}",
        f"ACL:{acl['externalIds']['ACL']}", f"MAG:{mag['externalIds']['MAG']}",
    ]  # fmt: skip

    answer = client.post("/paper/batch", params={"fields": "year"}, json={"ids": ids})

    expected = [arxiv, None, hexed, pubmed, hexed, acl, mag]
    assert answer.status_code == 200
    assert answer.json() == [
        None if p is None else {"paperId": p["paperId"], "year": p["year"]} for p in expected
    ]


def test_batch_refuses_more_than_500_ids(client: httpx.Client, graph: SyntheticGraph) -> None:
    answer = client.post("/paper/batch", json={"ids": [next(iter(graph.papers))] * 501})

    assert answer.status_code == 400
    assert "error" in answer.json()


def test_doi_lookups_ignore_case(client: httpx.Client, graph: SyntheticGraph) -> None:
    dois = {p["externalIds"]["DOI"]: p for p in graph.papers.values() if "DOI" in p["externalIds"]}
    doi = next(d for d in dois if d.lower() != d.upper())  # has letters in publisher casing
    paper = dois[doi]

    for ref in (f"DOI:{doi.lower()}", f"doi:{doi.upper()}", f"URL:https://doi.org/{doi.lower()}"):
        assert client.get(f"/paper/{ref}").json()["paperId"] == paper["paperId"]
    batch = client.post("/paper/batch", json={"ids": [f"DOI:{doi.lower()}"]}).json()
    assert batch[0]["paperId"] == paper["paperId"]


# -- listings ------------------------------------------------------------------------------


def _collect(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get(path, params={**params, "offset": offset}).json()
        assert page["offset"] == offset
        rows.extend(page["data"])
        if "next" not in page:
            return rows
        offset = page["next"]


def test_citations_page_with_next_until_the_last_page(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    pid = _most_cited(graph)

    rows = _collect(client, f"/paper/{pid}/citations", {"limit": 7})

    assert [row["citingPaper"]["paperId"] for row in rows] == graph.citations_of(pid)


def test_references_list_unresolved_entries_with_a_title(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    pid = _with_unresolved_reference(graph)

    rows = _collect(client, f"/paper/{pid}/references", {"limit": 5, "fields": "title,year"})

    assert [row["citedPaper"]["paperId"] for row in rows] == graph.references[pid]
    unresolved = [row["citedPaper"] for row in rows if row["citedPaper"]["paperId"] is None]
    assert unresolved and all(isinstance(p["title"], str) and p["title"] for p in unresolved)


def test_listing_fields_split_between_edge_and_paper(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    pid = _most_cited(graph)
    params: dict[str, str | int] = {"fields": "contexts,intents,isInfluential,year", "limit": 50}

    first = client.get(f"/paper/{pid}/citations", params=params).json()
    again = client.get(f"/paper/{pid}/citations", params=params).json()

    assert first == again
    for row in first["data"]:
        assert set(row) == {"contexts", "intents", "isInfluential", "citingPaper"}
        assert set(row["citingPaper"]) == {"paperId", "year"}
        assert row["isInfluential"] == ((row["citingPaper"]["paperId"], pid) in graph.influential)


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 1001), (9000, 1000), (9999, 1), (-1, 10), (0, 0)]
)
def test_listing_windows_beyond_the_spec_answer_400(
    client: httpx.Client, graph: SyntheticGraph, offset: int, limit: int
) -> None:
    pid = _most_cited(graph)

    answer = client.get(f"/paper/{pid}/citations", params={"offset": offset, "limit": limit})

    assert answer.status_code == 400
    assert "error" in answer.json()


def test_largest_allowed_listing_window_is_served(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    answer = client.get(
        f"/paper/{_most_cited(graph)}/citations", params={"offset": 8999, "limit": 1000}
    )

    assert answer.status_code == 200
    assert answer.json() == {"offset": 8999, "data": []}


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("2020-06:", "2020-06-01", "9999"), ("2019:2021", "2019-01-01", "2021-12-31"),
     (":2020", "0000", "2020-12-31"), ("2018-02", "2018-02-01", "2018-02-28")],
)  # fmt: skip
def test_citations_filter_by_publication_date_or_year(
    client: httpx.Client, graph: SyntheticGraph, text: str, low: str, high: str
) -> None:
    pid = _most_cited(graph)
    expected = [
        c for c in graph.citations_of(pid) if low <= effective_date(graph.papers[c]) <= high
    ]

    rows = _collect(
        client, f"/paper/{pid}/citations", {"publicationDateOrYear": text, "limit": 1000}
    )

    assert [row["citingPaper"]["paperId"] for row in rows] == expected


def test_a_malformed_date_filter_answers_400(client: httpx.Client, graph: SyntheticGraph) -> None:
    params = {"publicationDateOrYear": "2020-13"}

    assert client.get(f"/paper/{_most_cited(graph)}/citations", params=params).status_code == 400


# -- title match and search ----------------------------------------------------------------


def test_title_match_ignores_case_punctuation_and_accents(
    client: httpx.Client, graph: SyntheticGraph
) -> None:
    paper = next(p for p in graph.papers.values() if not p["title"].isascii())
    query = paper["title"].upper().replace("Ö", "O").replace("É", "E") + "."

    body = client.get("/paper/search/match", params={"query": query, "fields": "title"}).json()

    match = body["data"][0]
    assert match["title"] == paper["title"]  # identical titles: the most cited one wins
    assert match["matchScore"] > 0


def test_title_match_answers_404_for_nonsense(client: httpx.Client) -> None:
    answer = client.get("/paper/search/match", params={"query": "totalGarbageNonsense"})

    assert answer.status_code == 404
    assert answer.json() == {"error": "Title match not found"}


def test_search_pages_through_matching_papers(client: httpx.Client) -> None:
    page = client.get("/paper/search", params={"query": "attention", "limit": 3}).json()

    assert page["offset"] == 0 and page["next"] == 3 and len(page["data"]) == 3
    assert all("attention" in paper["title"].lower() for paper in page["data"])


# -- access, rate limits, faults -----------------------------------------------------------


def test_missing_or_wrong_api_key_is_forbidden(graph: SyntheticGraph) -> None:
    pid = next(iter(graph.papers))
    with FakeSemanticScholar(graph, required_api_key="k3y") as s2, httpx.Client() as http:
        anonymous = http.get(f"{s2.base_url}/paper/{pid}")
        wrong = http.get(f"{s2.base_url}/paper/{pid}", headers={"x-api-key": "nope"})
        right = http.get(f"{s2.base_url}/paper/{pid}", headers={"x-api-key": "k3y"})

    assert (anonymous.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert anonymous.json() == {"message": "Forbidden"}
    assert s2.api_keys_seen == {None, "nope", "k3y"}


def test_requests_faster_than_the_interval_get_429_with_retry_after(graph: SyntheticGraph) -> None:
    url = f"/paper/{next(iter(graph.papers))}"
    with (
        FakeSemanticScholar(graph, min_interval=0.5) as s2,
        httpx.Client(base_url=s2.base_url) as http,
    ):
        first, second = http.get(url), http.get(url)
        time.sleep(float(second.headers["Retry-After"]))
        third = http.get(url)

    assert (first.status_code, second.status_code, third.status_code) == (200, 429, 200)
    assert second.json()["code"] == "429"
    assert second.json()["message"].startswith("Too Many Requests")
    assert 0 < float(second.headers["Retry-After"]) <= 0.5
    assert s2.rate_violations == 1


def test_opening_faults_answer_the_first_requests_in_order(graph: SyntheticGraph) -> None:
    url = f"/paper/{next(iter(graph.papers))}"
    faults = Faults(opening=("503", "429"), retry_after=1.0)
    with (
        FakeSemanticScholar(graph, faults=faults) as s2,
        httpx.Client(base_url=s2.base_url) as http,
    ):
        answers = [http.get(url) for _ in range(4)]

    assert [a.status_code for a in answers] == [503, 429, 200, 200]
    assert answers[1].headers["Retry-After"] == "1"
    assert s2.faulted_requests == 2


def test_retry_after_is_whole_seconds_from_one_second_on() -> None:
    assert [format_retry_after(s) for s in (0.05, 0.5, 1.0, 1.2, 3.0)] == [
        "0.05", "0.5", "1", "2", "3",
    ]  # fmt: skip


def _faulted(answer: httpx.Response) -> bool:
    if answer.status_code != 200:
        return True
    try:
        json.loads(answer.content)
    except ValueError:
        return True
    return False


def test_faults_hit_about_the_requested_share_of_requests(graph: SyntheticGraph) -> None:
    faults = Faults(rate=0.3, kinds=("429", "500", "502", "503", "504", "malformed"), seed=4)
    with (
        FakeSemanticScholar(graph, faults=faults) as s2,
        httpx.Client(base_url=s2.base_url) as http,
    ):
        answers = [http.get(f"/paper/{pid}") for pid in list(graph.papers)[:400]]

    observed = sum(map(_faulted, answers))
    assert 0.22 < observed / len(answers) < 0.38
    assert s2.faulted_requests == observed
    assert {a.status_code for a in answers} >= {200, 429, 500, 502, 503, 504}


def test_one_request_is_never_faulted_more_than_max_consecutive_times(
    graph: SyntheticGraph,
) -> None:
    faults = Faults(rate=0.95, kinds=("503", "malformed"), max_consecutive=2)
    with (
        FakeSemanticScholar(graph, faults=faults) as s2,
        httpx.Client(base_url=s2.base_url) as http,
    ):
        outcomes = [_faulted(http.get(f"/paper/{next(iter(graph.papers))}")) for _ in range(30)]

    runs = "".join("F" if bad else "." for bad in outcomes).split(".")
    assert max(len(run) for run in runs) == 2
    assert s2.faulted_requests == sum(outcomes)


def test_timeout_fault_stalls_past_the_client_timeout(graph: SyntheticGraph) -> None:
    faults = Faults(rate=1.0, kinds=("timeout",), timeout_seconds=1.0, max_consecutive=1)
    url = f"/paper/{next(iter(graph.papers))}"
    with (
        FakeSemanticScholar(graph, faults=faults) as s2,
        httpx.Client(base_url=s2.base_url) as http,
    ):
        with pytest.raises(httpx.ReadTimeout):
            http.get(url, timeout=0.2)
        retried = http.get(url, timeout=5)

    assert retried.status_code == 200
    assert s2.faulted_requests == 1


def test_down_server_answers_503_until_it_is_back(
    client: httpx.Client, s2: FakeSemanticScholar
) -> None:
    pid = next(iter(s2.graph.papers))

    s2.down = True
    down = client.get(f"/paper/{pid}")
    s2.down = False

    assert down.status_code == 503
    assert client.get(f"/paper/{pid}").status_code == 200


def test_every_request_is_counted_per_endpoint(
    client: httpx.Client, s2: FakeSemanticScholar
) -> None:
    pid = next(iter(s2.graph.papers))
    client.post("/paper/batch", json={"ids": [pid]})
    client.get(f"/paper/{pid}")
    client.get(f"/paper/{pid}/citations")
    client.get(f"/paper/{pid}/references")
    client.get("/paper/search/match", params={"query": "no such title at all"})
    client.get("/paper/search", params={"query": "graphs"})
    s2.down = True
    client.get(f"/paper/{pid}")

    assert s2.requests == {
        "batch": 1, "paper": 2, "citations": 1, "references": 1, "match": 1, "search": 1,
    }  # fmt: skip
    assert s2.total_requests == 7
    assert s2.api_keys_seen == {None}
    s2.reset_counters()
    assert (s2.total_requests, s2.faulted_requests, s2.rate_violations) == (0, 0, 0)
    assert not s2.requests and not s2.api_keys_seen


def test_stopped_server_refuses_connections(graph: SyntheticGraph) -> None:
    s2 = FakeSemanticScholar(graph).start()
    url = s2.base_url
    s2.stop()

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/paper/{next(iter(graph.papers))}")
