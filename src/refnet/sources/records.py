"""Typed, normalized views of Semantic Scholar paper JSON.

Both sources (HTTP API and JSON Lines snapshot) hand the crawler these records, so the traps of
real responses (nulls everywhere, publisher-cased DOIs, unresolved references) are handled once,
here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from refnet.core.errors import PermanentError
from refnet.core.records import AuthorRecord, CitationRecord, PaperRecord

# Fields asked of the batch endpoint for a fully collected paper.
PAPER_FIELDS = (
    "paperId,corpusId,externalIds,url,title,abstract,venue,publicationVenue,year,"
    "referenceCount,citationCount,influentialCitationCount,isOpenAccess,openAccessPdf,"
    "fieldsOfStudy,s2FieldsOfStudy,publicationTypes,publicationDate,journal,citationStyles,"
    "authors,tldr,references.paperId,references.externalIds,references.title,references.year,"
    "references.citationCount"
)
# Fields asked of citation/reference listings: enough to score and to keep a stub.
LISTED_PAPER_FIELDS = "paperId,externalIds,title,year,venue,citationCount,influentialCitationCount"
EDGE_FIELDS = "isInfluential,intents,contexts"

_ARXIV_PREFIX = re.compile(r"^(?:arxiv:)", re.IGNORECASE)


def normalize_doi(value: str | None) -> str | None:
    if not value:
        return None
    doi = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    return doi.lower() or None


def normalize_arxiv(value: str | None) -> str | None:
    if not value:
        return None
    arxiv = _ARXIV_PREFIX.sub("", value.strip())
    return re.sub(r"v\d+$", "", arxiv) or None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if item is not None and str(item).strip()]


def _parse_date(value: Any) -> date | None:
    text = _as_str(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _fields_of_study(raw: Mapping[str, Any]) -> list[str]:
    found = _as_str_list(raw.get("fieldsOfStudy"))
    for item in raw.get("s2FieldsOfStudy") or []:
        if isinstance(item, Mapping) and _as_str(item.get("category")):
            found.append(str(item["category"]))
    return list(dict.fromkeys(found))


def _authors(raw: Any) -> list[AuthorRecord]:
    authors = []
    for item in raw or []:
        if not isinstance(item, Mapping):
            continue
        name = _as_str(item.get("name"))
        if name:
            authors.append(AuthorRecord(s2_author_id=_as_str(item.get("authorId")), name=name))
    return authors


def _external_ids(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if v is not None and str(v).strip()}


def _nested(raw: Mapping[str, Any], key: str, inner: str) -> str | None:
    value = raw.get(key)
    return _as_str(value.get(inner)) if isinstance(value, Mapping) else None


def _venue(raw: Mapping[str, Any]) -> str | None:
    return _as_str(raw.get("venue")) or _nested(raw, "publicationVenue", "name")


def _references(raw: Mapping[str, Any]) -> tuple[PaperRecord, ...] | None:
    refs = raw.get("references")
    if refs is None:
        return None
    if not isinstance(refs, list):
        return ()
    parsed: dict[str, PaperRecord] = {}
    for item in refs:
        if isinstance(item, Mapping) and isinstance(item.get("paperId"), str):
            record = _parse_brief(item)
            parsed.setdefault(record.s2_id, record)
    return tuple(parsed.values())


def _parse_brief(raw: Mapping[str, Any]) -> PaperRecord:
    """A nested reference: only the few fields a crawl asks for, parsed cheaply.

    A batch answer nests tens of thousands of these, so this skips the full parser.
    """
    external = raw.get("externalIds")
    external = external if isinstance(external, Mapping) else {}
    doi, arxiv = external.get("DOI"), external.get("ArXiv")
    return PaperRecord(
        s2_id=raw["paperId"],
        title=_as_str(raw.get("title")),
        year=_as_int(raw.get("year")),
        citation_count=_as_int(raw.get("citationCount")),
        doi=normalize_doi(doi) if isinstance(doi, str) else None,
        arxiv_id=normalize_arxiv(arxiv) if isinstance(arxiv, str) else None,
    )


def parse_paper(raw: Any, *, complete: bool = False) -> PaperRecord:
    """Parse one paper object; raise PermanentError when it has no paperId."""
    if not isinstance(raw, Mapping):
        raise PermanentError(f"expected a paper object, got {type(raw).__name__}")
    s2_id = _as_str(raw.get("paperId"))
    if s2_id is None:
        raise PermanentError("paper object without a paperId (unresolved paper)")
    external = _external_ids(raw.get("externalIds"))
    oa = raw.get("openAccessPdf") if isinstance(raw.get("openAccessPdf"), Mapping) else {}
    return PaperRecord(
        s2_id=s2_id,
        title=_as_str(raw.get("title")),
        corpus_id=_as_int(raw.get("corpusId")) or _as_int(external.get("CorpusId")),
        doi=normalize_doi(external.get("DOI")),
        arxiv_id=normalize_arxiv(external.get("ArXiv")),
        external_ids=external,
        url=_as_str(raw.get("url")),
        abstract=_as_str(raw.get("abstract")),
        tldr=_nested(raw, "tldr", "text"),
        year=_as_int(raw.get("year")),
        publication_date=_parse_date(raw.get("publicationDate")),
        venue=_venue(raw),
        journal=_nested(raw, "journal", "name"),
        publication_types=_as_str_list(raw.get("publicationTypes")),
        fields_of_study=_fields_of_study(raw),
        citation_count=_as_int(raw.get("citationCount")),
        reference_count=_as_int(raw.get("referenceCount")),
        influential_citation_count=_as_int(raw.get("influentialCitationCount")),
        open_access_pdf_url=_as_str(oa.get("url")) if oa else None,
        open_access_status=_as_str(oa.get("status")) if oa else None,
        open_access_license=_as_str(oa.get("license")) if oa else None,
        bibtex=_nested(raw, "citationStyles", "bibtex"),
        authors=_authors(raw.get("authors")),
        references=_references(raw),
        complete=complete,
    )


def parse_listing_row(raw: Any, *, paper_key: str) -> CitationRecord | None:
    """Parse a citations (`citingPaper`) or references (`citedPaper`) row.

    Returns None for rows whose paper is unresolved (paperId null), which the real API sends.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get(paper_key), Mapping):
        return None
    if _as_str(raw[paper_key].get("paperId")) is None:
        return None
    influential = raw.get("isInfluential")
    return CitationRecord(
        paper=parse_paper(raw[paper_key]),
        is_influential=influential if isinstance(influential, bool) else None,
        intents=_as_str_list(raw.get("intents")),
        contexts=_as_str_list(raw.get("contexts")),
    )
