"""One paper as the API shows it, after a real crawl: detail, neighbours, graph, note path, and
every id form a person may use to name it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from refnet.core.errors import InvalidInput, NotFound
from refnet.core.records import PaperRecord
from refnet.db.models import SummaryStatus
from refnet.db.queries.citations import EdgeRow, upsert_citations
from refnet.db.queries.paper_views import (
    Graph,
    find_stored_paper,
    neighbours,
    note_path,
    paper_detail,
    paper_graph,
)
from refnet.db.queries.papers import upsert_papers
from refnet.db.queries.summaries import SummaryKey
from refnet.db.session import session_scope
from refnet.generator.service import generate_vault
from tests.integration.db.browse_support import (
    CITERS,
    REFERENCES,
    SEED,
    crawl_network,
    row_ids,
    s2_id,
)
from tests.integration.db.search_support import summarize
from tests.integration.db.test_query_counts import counted

OLDER = SummaryKey(provider="extractive", model="textrank-v1", prompt_version="1", language="en")
NEWER = SummaryKey(provider="anthropic", model="claude-x", prompt_version="2", language="en")
FAILED = SummaryKey(provider="openai", model="gpt-x", prompt_version="2", language="en")


@pytest.fixture
def network(database_url: str, tmp_path: Path) -> dict[int, int]:
    """The crawled network: paper number -> row id."""
    crawl_network(database_url, tmp_path)
    return dict(zip(range(1, 13), row_ids(database_url, range(1, 13)), strict=True))


def detail(url: str, paper_id: int) -> dict[str, object]:
    with session_scope(url) as session:
        return paper_detail(session=session, paper_id=paper_id)


def test_detail_shows_what_the_crawl_stored(database_url: str, network: dict[int, int]) -> None:
    shown = detail(database_url, network[SEED])

    assert shown["id"] == network[SEED]
    assert shown["s2_id"] == s2_id(SEED)
    assert shown["corpus_id"] == 215416146
    assert (shown["doi"], shown["arxiv"]) == ("10.1234/seed.one", "2106.15928")
    assert shown["title"] == "Retrieval augmented generation for knowledge intensive tasks"
    assert shown["abstract"] == "Abstract of paper 1."
    assert shown["tldr"] == "Retrieval helps generation."
    assert (shown["year"], shown["venue"]) == (2019, "NeurIPS")
    assert shown["journal"] == "Advances in Neural Information Processing Systems"
    assert shown["publication_date"] == "2019-05-22"
    assert shown["url"] == f"https://www.semanticscholar.org/paper/{s2_id(SEED)}"
    assert (shown["citation_count"], shown["reference_count"]) == (500, 5)
    assert shown["influential_citation_count"] == 42
    assert shown["fields_of_study"] == ["Computer Science", "Linguistics"]
    assert shown["open_access_pdf_url"] == "https://example.org/seed.pdf"
    assert shown["state"] == "expanded"
    assert shown["is_seed"] is True
    assert shown["authors"] == [
        {"name": "Patrick Lewis", "s2_author_id": "1111"},
        {"name": "Ethan Perez", "s2_author_id": None},
        {"name": "Aleksandra Piktus", "s2_author_id": "3333"},
    ]
    assert shown["summary"] is None
    assert shown["note_path"] is None
    assert isinstance(shown["external_ids"], dict) and shown["external_ids"]["MAG"] == "112218234"


def test_detail_is_json_ready_with_utc_times(database_url: str, network: dict[int, int]) -> None:
    shown = detail(database_url, network[2])
    added = datetime.fromisoformat(str(shown["added_at"]))
    updated = datetime.fromisoformat(str(shown["updated_at"]))

    assert json.loads(json.dumps(shown)) == shown
    assert added.utcoffset() == updated.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - added).total_seconds()) < 600
    assert shown["is_seed"] is False
    assert (shown["state"], shown["authors"]) == (
        "collected",
        [{"name": "Author 2", "s2_author_id": "a2"}],
    )


def test_a_stub_has_empty_lists_and_no_note(database_url: str, network: dict[int, int]) -> None:
    shown = detail(database_url, network[11])

    assert shown["state"] == "discovered"
    assert (shown["title"], shown["authors"], shown["fields_of_study"]) == (None, [], [])
    assert (shown["summary"], shown["note_path"], shown["publication_date"]) == (None, None, None)


def test_detail_shows_the_newest_done_summary(database_url: str, network: dict[int, int]) -> None:
    paper = network[SEED]
    summarize(database_url, paper, key=OLDER, summary="Old text.", keywords=["old"])
    summarize(
        database_url,
        paper,
        key=NEWER,
        summary="New text.",
        tldr="New TL;DR.",
        keywords=["retrieval", "generation"],
        key_points=["Retrieval helps.", "Generation too."],
    )
    summarize(database_url, paper, key=FAILED, summary="Broken.", status=SummaryStatus.FAILED)

    summary = detail(database_url, paper)["summary"]

    assert isinstance(summary, dict)
    assert summary["text"] == "New text."
    assert summary["tldr"] == "New TL;DR."
    assert summary["key_points"] == ["Retrieval helps.", "Generation too."]
    assert summary["keywords"] == ["retrieval", "generation"]
    assert (summary["provider"], summary["model"]) == ("anthropic", "claude-x")
    assert summary["source"] == "abstract"  # made without a PDF
    created = datetime.fromisoformat(str(summary["created_at"]))
    assert created.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 600


def test_note_path_names_the_note_the_generator_wrote(
    database_url: str, network: dict[int, int], tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    generate_vault(database_url=database_url, vault_dir=vault)

    shown = detail(database_url, network[SEED])
    with session_scope(database_url) as session:
        alone = note_path(session=session, paper_id=network[SEED])
        stub = note_path(session=session, paper_id=network[11])

    assert shown["note_path"] == alone == "papers/lewis2019retrieval.md"
    assert "refnet:end" in (vault / str(alone)).read_text(encoding="utf-8")
    assert stub is None  # stubs get no note
    assert detail(database_url, network[11])["note_path"] is None


def test_detail_is_one_statement_however_many_authors_and_summaries(
    database_url: str, network: dict[int, int]
) -> None:
    for key in (OLDER, NEWER):
        summarize(database_url, network[SEED], key=key, summary="Text.")
    with counted(database_url) as statements, session_scope(database_url) as session:
        shown = paper_detail(session=session, paper_id=network[SEED])

    assert len(shown["authors"]) == 3
    assert len(statements) == 1


@pytest.mark.parametrize("paper_id", [999, 0, -3, 2**64])
def test_an_unknown_paper_is_not_found_and_has_no_neighbours_or_note(
    database_url: str, paper_id: int
) -> None:
    with pytest.raises(NotFound, match=f"no stored paper with id {paper_id}"):
        detail(database_url, paper_id)
    with pytest.raises(NotFound, match=f"no stored paper with id {paper_id}"):
        graph(database_url, paper_id, 1, 10)
    with session_scope(database_url) as session:
        assert note_path(session=session, paper_id=paper_id) is None
        for direction in ("references", "citations"):
            page = neighbours(
                session=session, paper_id=paper_id, direction=direction, limit=10, offset=0
            )
            assert (page.total, page.items) == (0, [])


def listed(url: str, paper_id: int, direction: str, limit: int = 100, offset: int = 0) -> list[str]:
    with session_scope(url) as session:
        page = neighbours(
            session=session,
            paper_id=paper_id,
            direction=direction,
            limit=limit,
            offset=offset,
        )
    return [item.title or item.s2_id for item in page.items]


def test_references_are_the_papers_it_cites_most_cited_first(
    database_url: str, network: dict[int, int]
) -> None:
    with session_scope(database_url) as session:
        page = neighbours(
            session=session, paper_id=network[SEED], direction="references", limit=3, offset=0
        )

    assert page.total == len(REFERENCES)
    # 70, then two at 30 by id, then 5, then the unknown count last
    assert [item.s2_id for item in page.items] == [s2_id(5), s2_id(2), s2_id(3)]
    assert listed(database_url, network[SEED], "references", limit=3, offset=3) == [
        "Paper number 6",
        "Paper number 4",
    ]
    assert page.items[0].citation_count == 70
    assert page.items[0].state == "collected"


def test_citations_are_the_papers_citing_it(database_url: str, network: dict[int, int]) -> None:
    with session_scope(database_url) as session:
        page = neighbours(
            session=session, paper_id=network[SEED], direction="citations", limit=10, offset=0
        )

    assert page.total == len(CITERS)
    assert [item.citation_count for item in page.items] == [80, 20, 3, 1]
    assert {item.id for item in page.items} == {network[n] for n in CITERS}
    assert listed(database_url, network[2], "citations") == [
        "Retrieval augmented generation for knowledge intensive tasks",
        "Paper number 7",
    ]
    assert listed(database_url, network[9], "citations") == []


def test_neighbours_say_whether_a_citation_is_influential(
    database_url: str, network: dict[int, int]
) -> None:
    with session_scope(database_url) as session:
        upsert_citations(
            session=session,
            edges=[EdgeRow(network[8], network[SEED], is_influential=True, intents=["method"])],
        )
        page = neighbours(
            session=session, paper_id=network[SEED], direction="citations", limit=10, offset=0
        )

    assert {item.id: item.is_influential for item in page.items} == {
        network[8]: True,
        network[10]: None,
        network[7]: None,
        network[9]: None,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"direction": "cited_by"}, "accepted: references, citations"),
        ({"limit": 0}, "limit must be between 1 and 100"),
        ({"limit": 101}, "limit must be between 1 and 100"),
        ({"offset": -1}, "offset must be between 0 and"),
        ({"offset": 10**20}, "offset must be between 0 and"),
    ],
)
def test_bad_neighbour_requests_are_refused(
    database_url: str, arguments: dict[str, object], message: str
) -> None:
    request: dict[str, object] = {"direction": "references", "limit": 10, "offset": 0}
    with session_scope(database_url) as session, pytest.raises(InvalidInput, match=message):
        neighbours(session=session, paper_id=1, **(request | arguments))


def graph(url: str, paper_id: int, depth: int, limit: int) -> Graph:
    with session_scope(url) as session:
        return paper_graph(session=session, paper_id=paper_id, depth=depth, limit=limit)


def edges_of(network: dict[int, int], pairs: list[tuple[int, int]]) -> list[dict[str, int]]:
    return sorted(
        ({"source": network[a], "target": network[b]} for a, b in pairs),
        key=lambda e: (e["source"], e["target"]),
    )


def test_depth_one_is_the_paper_and_every_neighbour(
    database_url: str, network: dict[int, int]
) -> None:
    drawn = graph(database_url, network[SEED], 1, 100)
    number = {row: n for n, row in network.items()}

    assert [(number[int(n["id"])], n["depth"]) for n in drawn.nodes] == [
        (1, 0),
        (8, 1),  # 80 citations
        (5, 1),  # 70
        (2, 1),  # 30, lower id first
        (3, 1),  # 30
        (10, 1),  # 20
        (6, 1),  # 5
        (7, 1),  # 3
        (9, 1),  # 1
        (4, 1),  # unknown
    ]
    assert drawn.nodes[0] == {
        "id": network[SEED],
        "s2_id": s2_id(SEED),
        "title": "Retrieval augmented generation for knowledge intensive tasks",
        "year": 2019,
        "citation_count": 500,
        "depth": 0,
    }
    assert drawn.edges == edges_of(
        network,
        [
            *[(SEED, n) for n in REFERENCES],
            *[(n, SEED) for n in CITERS],
            (7, 2),
            (8, 3),
            (10, 7),
        ],
    )
    assert drawn.truncated is False


def test_a_limit_keeps_the_most_cited_and_only_their_edges(
    database_url: str, network: dict[int, int]
) -> None:
    drawn = graph(database_url, network[SEED], 1, 4)

    assert [n["id"] for n in drawn.nodes] == [network[n] for n in (1, 8, 5, 2)]
    assert drawn.edges == edges_of(network, [(1, 2), (1, 5), (8, 1)])
    assert drawn.truncated is True


def test_a_limit_of_one_is_the_centre_alone(database_url: str, network: dict[int, int]) -> None:
    drawn = graph(database_url, network[SEED], 2, 1)

    assert ([n["id"] for n in drawn.nodes], drawn.edges, drawn.truncated) == (
        [network[SEED]],
        [],
        True,
    )


def test_depth_two_adds_the_neighbours_of_neighbours(
    database_url: str, network: dict[int, int]
) -> None:
    whole = graph(database_url, network[SEED], 2, 100)
    cut = graph(database_url, network[SEED], 2, 11)

    assert [(n["id"], n["depth"]) for n in whole.nodes[10:]] == [
        (network[11], 2),
        (network[12], 2),
    ]
    assert whole.truncated is False
    assert {"source": network[2], "target": network[11]} in whole.edges
    assert {"source": network[7], "target": network[12]} in whole.edges
    assert [n["id"] for n in cut.nodes] == [n["id"] for n in whole.nodes[:11]]
    assert cut.truncated is True
    assert all(network[12] not in (e["source"], e["target"]) for e in cut.edges)
    assert len(cut.edges) == len(whole.edges) - 1


def test_depth_two_from_a_leaf_reaches_the_whole_network(
    database_url: str, network: dict[int, int]
) -> None:
    drawn = graph(database_url, network[9], 2, 1000)
    depths = {n["id"]: n["depth"] for n in drawn.nodes}

    assert depths[network[9]] == 0 and depths[network[SEED]] == 1
    assert {depths[network[n]] for n in (*REFERENCES, 7, 8, 10)} == {2}
    assert network[11] not in depths  # three hops away
    ids = set(depths)
    assert all(e["source"] in ids and e["target"] in ids for e in drawn.edges)


def test_a_heavily_cited_paper_gives_its_most_cited_neighbours(database_url: str) -> None:
    records = [PaperRecord(s2_id=s2_id(n), citation_count=(n * 37) % 101) for n in range(1, 302)]
    with session_scope(database_url) as session:
        ids = upsert_papers(session=session, records=records)
        hub = ids[s2_id(1)]
        others = [ids[s2_id(n)] for n in range(2, 302)]
        upsert_citations(
            session=session,
            edges=[EdgeRow(o, hub) for o in others[::2]] + [EdgeRow(hub, o) for o in others[1::2]],
        )
    counts = {ids[r.s2_id]: r.citation_count or 0 for r in records}

    drawn = graph(database_url, hub, 1, 51)

    expected = sorted(others, key=lambda o: (-counts[o], o))[:50]
    assert [n["id"] for n in drawn.nodes[1:]] == expected
    assert drawn.truncated is True
    assert len(drawn.edges) == 50


@pytest.mark.parametrize(
    ("depth", "limit", "message"),
    [
        (0, 10, "depth must be 1 or 2, not 0"),
        (3, 10, "depth must be 1 or 2, not 3"),
        (1, 0, "limit must be between 1 and 1000"),
        (1, 1001, "limit must be between 1 and 1000"),
    ],
)
def test_bad_graph_requests_are_refused(
    database_url: str, depth: int, limit: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        graph(database_url, 1, depth, limit)


ID_FORMS = [
    s2_id(SEED),
    s2_id(SEED).upper(),
    f"https://www.semanticscholar.org/paper/Retrieval-Augmented/{s2_id(SEED)}",
    f"https://www.semanticscholar.org/paper/{s2_id(SEED)}",
    f"https://api.semanticscholar.org/graph/v1/paper/{s2_id(SEED)}",
    "CorpusId:215416146",
    "corpusid: 215416146",
    "10.1234/Seed.One",
    "DOI:10.1234/SEED.ONE",
    "https://doi.org/10.1234/seed.one",
    "doi.org/10.1234/Seed.One",
    "2106.15928",
    "2106.15928v3",
    "ARXIV:2106.15928",
    "https://arxiv.org/abs/2106.15928v2",
    "https://arxiv.org/pdf/2106.15928.pdf",
    "PMID:19872477",
    "https://pubmed.ncbi.nlm.nih.gov/19872477/",
    "PMCID:PMC2323736",
    "PMCID:2323736",
    "MAG:112218234",
    "ACL:P19-1001",
    "https://aclanthology.org/P19-1001.pdf",
    "Retrieval augmented generation for knowledge intensive tasks",
    "  RETRIEVAL augmented generation for knowledge intensive TASKS ",
]


@pytest.mark.parametrize("raw", ID_FORMS)
def test_every_id_form_finds_the_stored_paper(
    database_url: str, network: dict[int, int], raw: str
) -> None:
    with session_scope(database_url) as session:
        assert find_stored_paper(session=session, raw_id=raw) == network[SEED]


@pytest.mark.parametrize(
    "raw",
    [
        "f" * 40,
        "CorpusId:1",
        "CorpusId:99999999999999999999999",
        "DOI:10.9999/unknown",
        "ARXIV:hep-th/9901001",
        "PMID:1",
        "MAG:99999999999999999999999",
        "ACL:2020.acl-main.447",
        "https://dl.acm.org/doi/10.1145/3292500.3330701",
        "URL:https://www.biorxiv.org/content/10.1101/2020.01.01.123456v1",
        "A title nobody wrote",
    ],
)
def test_an_id_of_no_stored_paper_finds_nothing(
    database_url: str, network: dict[int, int], raw: str
) -> None:
    with session_scope(database_url) as session:
        assert find_stored_paper(session=session, raw_id=raw) is None


@pytest.mark.parametrize(
    "raw", ["42", str(SEED), "", "foo", "CorpusId:abc", "javascript:alert(1)", "x" * 600]
)
def test_text_that_is_no_id_is_refused_naming_the_accepted_forms(
    database_url: str, network: dict[int, int], raw: str
) -> None:
    with session_scope(database_url) as session, pytest.raises(InvalidInput) as refused:
        find_stored_paper(session=session, raw_id=raw)

    assert "Accepted forms" in str(refused.value)
    assert "CorpusId:<digits>" in str(refused.value)
