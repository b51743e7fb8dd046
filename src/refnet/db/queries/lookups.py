"""Finding stored papers, and what the database holds."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from refnet.db.models import Author, Citation, CrawlState, Paper, PaperAuthor
from refnet.db.queries.papers import PAPERS


def find_paper(
    *,
    session: Session,
    s2_id: str | None = None,
    corpus_id: int | None = None,
    doi: str | None = None,
    arxiv_id: str | None = None,
) -> Paper | None:
    conditions = []
    if s2_id:
        conditions.append(Paper.s2_id == s2_id)
    if corpus_id is not None:
        conditions.append(Paper.corpus_id == corpus_id)
    if doi:
        conditions.append(Paper.doi == doi.lower())
    if arxiv_id:
        conditions.append(Paper.arxiv_id == arxiv_id)
    if not conditions:
        return None
    return session.scalars(select(Paper).where(or_(*conditions)).limit(1)).first()


def lookup_paper(*, session: Session, api_id: str | None, title: str | None) -> Paper | None:
    """A stored paper by any id form `refnet.core.ids` produces, or by exact title."""
    if title:
        return session.scalars(
            select(Paper).where(func.lower(Paper.title) == title.lower()).limit(1)
        ).first()
    if not api_id:
        return None
    prefix, sep, value = api_id.partition(":")
    if not sep:
        return find_paper(session=session, s2_id=api_id)
    if prefix == "CorpusId":
        return find_paper(session=session, corpus_id=int(value))
    if prefix == "DOI":
        return find_paper(session=session, doi=value)
    if prefix == "ARXIV":
        return find_paper(session=session, arxiv_id=value)
    key = {"MAG": "MAG", "ACL": "ACL", "PMID": "PubMed", "PMCID": "PubMedCentral"}.get(prefix)
    if key is None:
        return None
    external = cast(Any, PAPERS.c.external_ids)
    return session.scalars(select(Paper).where(external[key].as_string() == value).limit(1)).first()


def get_paper_with_neighbours(*, session: Session, paper_id: int) -> Paper | None:
    """A paper with its authors, references and citing papers loaded in a few queries."""
    return session.scalars(
        select(Paper)
        .where(Paper.id == paper_id)
        .options(
            selectinload(Paper.authors).joinedload(PaperAuthor.author),
            selectinload(Paper.references).joinedload(Citation.cited),
            selectinload(Paper.citations).joinedload(Citation.citing),
        )
    ).first()


def paper_counts(*, session: Session) -> dict[str, int]:
    counts = paper_state_counts(session=session)
    counts["edges"] = edge_count(session=session)
    counts["authors"] = session.scalar(select(func.count()).select_from(Author)) or 0
    return counts


def paper_state_counts(*, session: Session) -> dict[str, int]:
    """Papers by crawl state."""
    rows = session.execute(select(Paper.crawl_state, func.count()).group_by(Paper.crawl_state))
    return {state: count for state, count in rows}


def edge_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Citation)) or 0


def most_cited_in_network(*, session: Session, limit: int = 10) -> list[tuple[Paper, int]]:
    """Collected papers with the most citing papers stored."""
    in_degree = func.count(Citation.citing_id).label("in_degree")
    rows = session.execute(
        select(Paper, in_degree)
        .join(Citation, Citation.cited_id == Paper.id)
        .where(Paper.crawl_state != CrawlState.DISCOVERED.value)
        .group_by(Paper.id)
        .order_by(in_degree.desc(), Paper.s2_id)
        .limit(limit)
    )
    return [(paper, count) for paper, count in rows]


# Stored values compare as strings; these keys name where `external_ids` keeps each prefix.
_EXTERNAL_KEYS = {"MAG": "MAG", "ACL": "ACL", "PMID": "PubMed", "PMCID": "PubMedCentral"}
_MAX_BIGINT = 2**63 - 1


def find_paper_id(*, session: Session, api_id: str | None, title: str | None) -> int | None:
    """The row id of a stored paper, by an id `refnet.core.ids` produces or by exact title
    (case-insensitive), reading only the id: `lookup_paper` without loading the row.

    `URL:` ids (pages the Semantic Scholar API resolves itself) name no stored column: None.
    """
    condition = paper_id_condition(api_id=api_id, title=title)
    if condition is None:
        return None
    return session.scalars(select(Paper.id).where(condition).order_by(Paper.id).limit(1)).first()


def paper_id_condition(*, api_id: str | None, title: str | None) -> Any:
    """The WHERE condition matching the stored paper an id or title names; None when the id
    names no stored column (`URL:` ids)."""
    if title:
        return func.lower(Paper.title) == title.lower()
    if not api_id:
        return None
    prefix, sep, value = api_id.partition(":")
    if not sep:
        return Paper.s2_id == api_id.lower()
    if prefix == "CorpusId":
        number = int(value) if value.isdigit() else None
        return Paper.corpus_id == number if number is not None and number <= _MAX_BIGINT else None
    if prefix == "DOI":
        return Paper.doi == value.lower()
    if prefix == "ARXIV":
        return Paper.arxiv_id == value
    key = _EXTERNAL_KEYS.get(prefix)
    if key is None:
        return None
    stored = cast(Any, PAPERS.c.external_ids)[key].as_string()
    if prefix == "ACL":
        return func.lower(stored) == value.lower()
    if prefix == "PMCID":  # stored with or without its "PMC"
        return stored.in_([value, f"PMC{value}"])
    return stored == value
