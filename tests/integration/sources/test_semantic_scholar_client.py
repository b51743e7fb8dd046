"""The Semantic Scholar client against a fake S2 server on loopback (and a few canned answers).

What a user would notice: the data comes back complete and in order, pages are followed, the
rate limit is kept, faults are ridden out, and failures say what happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from refnet.core.errors import NotFound, PermanentError, TransientError
from refnet.sources.http_retry import parse_retry_after
from refnet.sources.rate_limit import MemoryRateLimiter
from refnet.sources.semantic_scholar import SemanticScholarClient
from tests.fakes.s2_graph import SyntheticGraph, make_graph
from tests.fakes.s2_server import FakeSemanticScholar, Faults

API_KEY = "test-key-0123456789abcdef"
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> SyntheticGraph:
    return make_graph(4000, seed=7, uniform_share=0.1)  # a few papers with >1000 citations


@pytest.fixture(scope="module")
def shared_server(graph: SyntheticGraph) -> Iterator[FakeSemanticScholar]:
    with FakeSemanticScholar(graph) as fake:
        yield fake


@pytest.fixture
def server(shared_server: FakeSemanticScholar) -> FakeSemanticScholar:
    """A well-behaved fake S2 with its request counters at zero."""
    shared_server.reset_counters()
    return shared_server


def make_client(base_url: str, **overrides: Any) -> SemanticScholarClient:
    options: dict[str, Any] = {
        "api_key": None,
        "rate_limiter": MemoryRateLimiter(1000.0),
        "timeout": 5.0,
        "max_retries": 6,
        **FAST,
    }
    options.update(overrides)
    return SemanticScholarClient(base_url=base_url, **options)


@pytest.fixture
def client(server: FakeSemanticScholar) -> Iterator[SemanticScholarClient]:
    with make_client(server.base_url) as s2:
        yield s2


def most_cited(graph: SyntheticGraph) -> str:
    return max(graph.papers, key=lambda pid: len(graph.citations_of(pid)))


def resolved_references(graph: SyntheticGraph, paper_id: str) -> list[str]:
    return [r for r in graph.references[paper_id] if r is not None]


# -- batch lookups -------------------------------------------------------------------------


def test_batch_keeps_request_order_with_none_for_unknown_ids(
    graph: SyntheticGraph, client: SemanticScholarClient
) -> None:
    known = list(graph.papers)[:5]
    ids = [known[3], "0" * 40, known[0], known[4], "CorpusId:999999999"]

    records = client.get_papers(ids)

    assert [r.s2_id if r else None for r in records] == [known[3], None, known[0], known[4], None]
    assert all(r.complete and r.title == graph.papers[r.s2_id]["title"] for r in records if r)


def test_batch_of_more_than_500_ids_is_split_into_several_requests(
    graph: SyntheticGraph, server: FakeSemanticScholar, client: SemanticScholarClient
) -> None:
    ids = list(graph.papers)[:1203]

    records = client.get_papers(ids)

    assert [r.s2_id if r else None for r in records] == ids
    assert server.requests["batch"] == 3


def test_an_empty_batch_sends_nothing(
    server: FakeSemanticScholar, client: SemanticScholarClient
) -> None:
    assert client.get_papers([]) == []
    assert server.total_requests == 0


def test_doi_in_publisher_casing_comes_back_lower_cased(
    graph: SyntheticGraph, client: SemanticScholarClient
) -> None:
    pid, doi = next(
        (pid, p["externalIds"]["DOI"])
        for pid, p in graph.papers.items()
        if (p.get("externalIds") or {}).get("DOI", "").lower() != p["externalIds"].get("DOI")
    )

    record = client.get_paper(pid)
    by_doi = client.get_paper(f"DOI:{doi}")

    assert record.doi == doi.lower()
    assert by_doi.s2_id == pid


def test_get_paper_of_an_unknown_id_raises_not_found_without_retrying(
    server: FakeSemanticScholar, client: SemanticScholarClient
) -> None:
    with pytest.raises(NotFound, match="not found"):
        client.get_paper("f" * 40)

    assert server.total_requests == 1


# -- listings ------------------------------------------------------------------------------


def test_citations_follow_pages_to_the_full_list(
    graph: SyntheticGraph, server: FakeSemanticScholar, client: SemanticScholarClient
) -> None:
    pid = most_cited(graph)
    expected = graph.citations_of(pid)
    assert len(expected) > 1000, "the graph must need several pages"

    rows = client.get_citations(pid, limit=5000)

    assert [row.paper.s2_id for row in rows] == expected
    assert server.requests["citations"] == len(expected) // 1000 + 1


def test_citations_stop_at_the_limit(
    graph: SyntheticGraph, server: FakeSemanticScholar, client: SemanticScholarClient
) -> None:
    pid = most_cited(graph)

    rows = client.get_citations(pid, limit=1500)

    assert [row.paper.s2_id for row in rows] == graph.citations_of(pid)[:1500]
    assert server.requests["citations"] == 2


def test_citations_published_since_keep_only_recent_papers(
    graph: SyntheticGraph, client: SemanticScholarClient
) -> None:
    pid = most_cited(graph)

    rows = client.get_citations(pid, limit=5000, published_since="2020-01:")

    assert rows
    assert {row.paper.year for row in rows} <= set(range(2020, 2100))
    assert len(rows) < len(graph.citations_of(pid))


def test_references_skip_unresolved_entries_and_carry_edge_details(
    graph: SyntheticGraph, client: SemanticScholarClient
) -> None:
    pid = next(p for p, refs in graph.references.items() if None in refs and len(refs) > 20)

    rows = client.get_references(pid, limit=1000)

    assert [row.paper.s2_id for row in rows] == resolved_references(graph, pid)
    assert all(isinstance(row.is_influential, bool) for row in rows)
    assert any(row.contexts and row.intents for row in rows)


# -- title matching ------------------------------------------------------------------------


def test_match_title_finds_a_paper_by_its_title(
    graph: SyntheticGraph, client: SemanticScholarClient
) -> None:
    pid = most_cited(graph)

    record = client.match_title(graph.papers[pid]["title"])

    assert record is not None
    assert record.s2_id == pid


def test_match_title_returns_none_for_garbage(client: SemanticScholarClient) -> None:
    assert client.match_title("qzxv wvvkj plmmrtz xxyqq") is None


# -- api key and pacing --------------------------------------------------------------------


def test_api_key_reaches_the_server_and_the_limiter_keeps_its_pace(graph: SyntheticGraph) -> None:
    papers = list(graph.papers)[:12]
    with (
        FakeSemanticScholar(graph, min_interval=0.05, required_api_key=API_KEY) as fake,
        make_client(fake.base_url, api_key=API_KEY, rate_limiter=MemoryRateLimiter(18.0)) as s2,
        capture_logs() as logs,
    ):
        s2.get_papers(papers)
        s2.get_citations(most_cited(graph), limit=3000)
        fetched = [s2.get_paper(pid).s2_id for pid in papers]

    assert fetched == papers
    assert fake.api_keys_seen == {API_KEY}
    assert fake.rate_violations == 0
    assert fake.total_requests == 1 + 2 + len(papers)  # nothing had to be retried
    assert API_KEY not in json.dumps(logs, default=str)


def test_a_wrong_api_key_is_a_permanent_error(graph: SyntheticGraph) -> None:
    with (
        FakeSemanticScholar(graph, required_api_key=API_KEY) as fake,
        make_client(fake.base_url, api_key="wrong-key") as s2,
        pytest.raises(PermanentError, match="HTTP 403") as refused,
    ):
        s2.get_paper(next(iter(graph.papers)))

    assert fake.total_requests == 1
    assert "wrong-key" not in str(refused.value)


# -- faults --------------------------------------------------------------------------------


def fetch_everything(s2: SemanticScholarClient, graph: SyntheticGraph) -> dict[str, Any]:
    cited = most_cited(graph)
    citing = sorted(graph.papers, key=lambda pid: len(graph.references[pid]))[-3:]
    some = list(graph.papers)[:150]
    return {
        "batch": s2.get_papers([*some, "0" * 40]),
        "papers": [s2.get_paper(pid) for pid in some[:6]],
        "citations": s2.get_citations(cited, limit=2500),
        "recent": s2.get_citations(cited, limit=2500, published_since="2015:"),
        "references": [s2.get_references(pid, limit=1000) for pid in citing],
        "match": s2.match_title(graph.papers[cited]["title"]),
        "no_match": s2.match_title("qzxv wvvkj plmmrtz xxyqq"),
    }


def test_every_call_returns_the_same_data_despite_faults(graph: SyntheticGraph) -> None:
    with FakeSemanticScholar(graph) as clean, make_client(clean.base_url) as s2:
        expected = fetch_everything(s2, graph)
    # A stalled answer (timeout fault) outlasts the client's timeout; normal answers do not.
    faults = Faults(rate=0.3, retry_after=0.05, timeout_seconds=0.8, max_consecutive=3, seed=1)

    with (
        FakeSemanticScholar(graph, faults=faults) as faulty,
        make_client(faulty.base_url, timeout=0.4, max_retries=8) as s2,
        capture_logs() as logs,
    ):
        assert fetch_everything(s2, graph) == expected

    retries = [entry for entry in logs if entry["event"] == "s2_request_retry"]
    assert faulty.faulted_requests >= 3
    assert len(retries) >= faulty.faulted_requests
    # Logged by endpoint template (low cardinality), never by paper id.
    assert {entry["endpoint"] for entry in retries} <= {
        "/paper/batch",
        "/paper/{paper_id}",
        "/paper/{paper_id}/citations",
        "/paper/{paper_id}/references",
        "/paper/search/match",
    }


def test_an_api_that_stays_down_raises_a_transient_error_after_max_retries(
    graph: SyntheticGraph,
) -> None:
    with (
        FakeSemanticScholar(graph, down=True) as fake,
        make_client(fake.base_url, max_retries=3) as s2,
        pytest.raises(TransientError) as failure,
    ):
        s2.get_paper(next(iter(graph.papers)))

    assert "Semantic Scholar did not answer after 4 attempts" in str(failure.value)
    assert fake.total_requests == 4


# -- canned answers (httpx.MockTransport) for what the fake server does not vary ----------


Handler = Callable[[httpx.Request], httpx.Response]


def canned_client(handler: Handler, **overrides: Any) -> SemanticScholarClient:
    return make_client(
        "https://s2.test/graph/v1", transport=httpx.MockTransport(handler), **overrides
    )


def paper_json(pid: str) -> dict[str, Any]:
    return {"paperId": pid, "title": f"Paper {pid}", "externalIds": {"DOI": "10.1/ABC"}}


def sequence(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


def test_retry_after_is_waited_for_before_the_next_attempt() -> None:
    handler, seen = sequence(
        httpx.Response(429, headers={"Retry-After": "0.3"}, json={"message": "Too Many"}),
        httpx.Response(200, json=paper_json("a" * 40)),
    )
    started = time.monotonic()

    with canned_client(handler, backoff_cap=5.0) as s2:
        record = s2.get_paper("a" * 40)

    assert record.s2_id == "a" * 40
    assert time.monotonic() - started >= 0.3
    assert len(seen) == 2


def test_a_retry_after_beyond_the_cap_fails_fast_and_holds_back_other_workers() -> None:
    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "30"}))
    limiter = MemoryRateLimiter(1000.0)

    with canned_client(handler, rate_limiter=limiter) as s2, pytest.raises(TransientError) as err:
        s2.get_paper("a" * 40)

    assert err.value.retry_after == 30.0
    assert "after 1 attempts: HTTP 429" in str(err.value)
    assert len(seen) == 1
    assert limiter.reserve() > 29.0  # the next request of any worker waits too


def test_a_malformed_body_is_retried() -> None:
    handler, seen = sequence(
        httpx.Response(200, content=b'{"paperId": "aaaa", "tit'),
        httpx.Response(200, json=paper_json("b" * 40)),
    )

    with canned_client(handler) as s2:
        assert s2.get_paper("b" * 40).s2_id == "b" * 40
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "Unrecognized or unsupported fields: [bogus]"}, PermanentError),
        (401, {"message": "Unauthorized"}, PermanentError),
        (403, {"message": "Forbidden"}, PermanentError),
        (404, {"error": "Paper with id xyz not found"}, NotFound),
    ],
)
def test_client_errors_carry_the_api_message_and_are_not_retried(
    status: int, body: dict[str, str], error: type[Exception]
) -> None:
    handler, seen = sequence(httpx.Response(status, json=body))

    with canned_client(handler) as s2, pytest.raises(error) as failure:
        s2.get_paper("xyz")

    assert next(iter(body.values())) in str(failure.value)
    assert f"HTTP {status}" in str(failure.value)
    assert len(seen) == 1


def test_no_api_key_header_is_sent_without_a_key() -> None:
    handler, seen = sequence(httpx.Response(200, json=paper_json("c" * 40)))

    with canned_client(handler) as s2:
        s2.get_paper("c" * 40)

    assert "x-api-key" not in seen[0].headers


def test_listings_stay_inside_the_10000_window_and_log_the_cap() -> None:
    requests: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        requests.append((offset, limit))
        rows = [{"citingPaper": {"paperId": f"{i:040x}"}} for i in range(offset, offset + limit)]
        return httpx.Response(200, json={"offset": offset, "next": offset + limit, "data": rows})

    with canned_client(handler) as s2, capture_logs() as logs:
        rows = s2.get_citations("d" * 40, limit=20_000)

    assert all(offset + limit < 10_000 for offset, limit in requests)
    assert len(rows) == 9_999
    assert [entry["event"] for entry in logs] == ["s2_listing_capped"]


def test_retry_after_accepts_seconds_decimals_and_http_dates() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Sun, 01 Jun 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_long_wait_for_the_shared_limiter_hands_the_call_back_at_once() -> None:
    handler, seen = sequence(httpx.Response(200, json=paper_json("a" * 40)))
    limiter = MemoryRateLimiter(1.0)
    limiter.penalize(3600.0)  # another worker was told to wait an hour

    started = time.monotonic()
    with (
        canned_client(handler, rate_limiter=limiter, max_wait=60.0) as s2,
        pytest.raises(TransientError) as err,
    ):
        s2.get_paper("a" * 40)

    assert time.monotonic() - started < 1.0
    assert err.value.retry_after == pytest.approx(3600.0, abs=1.0)
    assert seen == []  # no request was sent
