"""The best-first order: what makes one discovered paper more promising than another."""

from __future__ import annotations

from refnet.crawler.scoring import score_paper


def score(citations: int = 10, influential: int = 0, links: int = 0, depth: int = 1) -> float:
    return score_paper(
        citation_count=citations, influential_citation_count=influential, links=links, depth=depth
    )


def test_more_cited_papers_score_higher() -> None:
    assert score(citations=1000) > score(citations=10) > score(citations=0)


def test_citations_count_logarithmically() -> None:
    assert score(citations=10_000) < 2 * score(citations=100)


def test_influential_citations_add_a_bonus() -> None:
    assert score(influential=50) > score(influential=0)


def test_links_to_the_collected_network_outweigh_popularity() -> None:
    assert score(citations=5, links=3) > score(citations=100, links=0)


def test_each_hop_from_the_seeds_decays_the_score() -> None:
    assert score(depth=0) > score(depth=1) > score(depth=2)


def test_unknown_counts_score_as_zero() -> None:
    assert score_paper(citation_count=None, influential_citation_count=None, links=0, depth=0) == 0
