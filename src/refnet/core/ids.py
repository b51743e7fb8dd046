"""Paper identifiers: turn what a person types into an id the Semantic Scholar API accepts.

`parse_paper_id` accepts the API's own id forms (DESIGN.md §4), the URLs people paste (doi.org,
arxiv.org, semanticscholar.org, PubMed, ACL Anthology, ...) and free titles. Ids come out in one
normal form so the same paper typed two ways gives the same `api_id`: paperIds and DOIs are
lower-cased, arXiv versions are dropped, and a URL becomes the id it names whenever it names one.

A single token (no whitespace) must be an id; text of two or more words containing letters is a
title. So `foo`, `12345` or `CorpusId:abc` are rejected as malformed ids rather than searched for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from refnet.core.errors import InvalidInput

MAX_INPUT_LENGTH = 500

ACCEPTED_FORMS = """\
Accepted forms:
  - a Semantic Scholar paper id (40 hex digits) or a semanticscholar.org/paper/... URL
  - CorpusId:<digits>, e.g. CorpusId:215416146
  - a DOI (10.18653/v1/N18-3011), DOI:<doi>, or a doi.org URL
  - an arXiv id (2106.15928, hep-th/9901001, version optional), ARXIV:<id>, or an arxiv.org URL
  - MAG:<digits>, PMID:<digits>, PMCID:<digits>, or a PubMed URL
  - ACL:<id> (ACL:P19-1001, ACL:2020.acl-main.447) or an aclanthology.org URL
  - URL:<url>, or a URL from aclweb.org, acm.org or biorxiv.org
  - a title of at least two words, e.g. "Attention is all you need\""""


@dataclass(frozen=True, slots=True)
class PaperRef:
    """A parsed paper reference: exactly one of `api_id` and `title` is set."""

    raw: str
    api_id: str | None
    title: str | None


class _Problem(Exception):
    """What is wrong with the input; `parse_paper_id` turns it into `InvalidInput`."""


_HEX40 = re.compile(r"[0-9a-f]{40}", re.IGNORECASE)
_HEXISH = re.compile(r"[0-9a-f]{32,48}", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_ARXIV_NEW = re.compile(r"(\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})(?:v\d+)?", re.IGNORECASE)
# Old style: archive, optional subject class (dropped, as arXiv itself does), YYMMNNN.
_ARXIV_OLD = re.compile(r"([a-z]+(?:-[a-z]+)?)(?:\.[a-z]{2})?/(\d{7})(?:v\d+)?", re.IGNORECASE)
_ACL_NEW = re.compile(r"\d{4}\.[a-z0-9]+(?:-[a-z0-9]+)*\.\d+", re.IGNORECASE)
_ACL_OLD = re.compile(r"[a-z]\d{2}-\d{4}", re.IGNORECASE)
_PMCID = re.compile(r"(?:pmc)?(\d+)", re.IGNORECASE)
_SPACED_PREFIX = re.compile(r"^(corpusid|doi|arxiv|mag|acl|pmid|pmcid|url)\s*:\s*", re.IGNORECASE)


def parse_paper_id(text: str) -> PaperRef:
    """Parse an id, URL or title; raise `InvalidInput` naming the accepted forms otherwise."""
    raw = text.strip()
    try:
        return _parse(raw)
    except _Problem as problem:
        raise InvalidInput(f"{problem}: {_quote(raw)}\n{ACCEPTED_FORMS}") from None


def _parse(raw: str) -> PaperRef:
    if not raw:
        raise _Problem("No paper id or title given")
    if len(raw) > MAX_INPUT_LENGTH:
        raise _Problem(f"Input is longer than {MAX_INPUT_LENGTH} characters")
    token = _SPACED_PREFIX.sub(lambda m: f"{m[1]}:", raw, count=1)
    if not any(char.isspace() for char in token):
        return PaperRef(raw=raw, api_id=_parse_token(token), title=None)
    words = raw.split()
    if sum(any(char.isalpha() for char in word) for word in words) >= 2:
        return PaperRef(raw=raw, api_id=None, title=" ".join(words))
    raise _Problem("Not a paper id, and too few words for a title")


def _quote(raw: str) -> str:
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    return f'"{shown}"'


def _parse_token(token: str) -> str:
    prefix, colon, value = token.partition(":")
    if colon and prefix.lower() in _PREFIXED:
        return _parse_prefixed(prefix.lower(), value)
    if _looks_like_url(token):
        return _parse_url(token)
    for parse in (_hex_id, _doi, _arxiv):
        if api_id := parse(token):
            return api_id
    if colon:
        raise _Problem(f'Unknown id prefix "{prefix}:"')
    if _HEXISH.fullmatch(token):
        raise _Problem(f"A Semantic Scholar paper id has 40 hex digits, not {len(token)}")
    raise _Problem("Not a recognized paper id (a title needs at least two words)")


def _parse_prefixed(key: str, value: str) -> str:
    label, parse, expected = _PREFIXED[key]
    if not value:
        raise _Problem(f'Nothing follows "{label}:"')
    if api_id := parse(value):
        return api_id
    raise _Problem(f'"{label}:" must be followed by {expected}')


def _hex_id(value: str) -> str | None:
    return value.lower() if _HEX40.fullmatch(value) else None


def _corpus_id(value: str) -> str | None:
    return f"CorpusId:{value}" if _DIGITS.fullmatch(value) else None


def _doi(value: str) -> str | None:
    return f"DOI:{value.lower()}" if _DOI.fullmatch(value) else None


def _arxiv(value: str) -> str | None:
    if match := _ARXIV_NEW.fullmatch(value):
        return f"ARXIV:{match[1]}"
    if match := _ARXIV_OLD.fullmatch(value):
        return f"ARXIV:{match[1].lower()}/{match[2]}"
    return None


def _mag(value: str) -> str | None:
    return f"MAG:{value}" if _DIGITS.fullmatch(value) else None


def _acl(value: str) -> str | None:
    if _ACL_NEW.fullmatch(value):
        return f"ACL:{value.lower()}"
    if _ACL_OLD.fullmatch(value):
        return f"ACL:{value.upper()}"
    return None


def _pmid(value: str) -> str | None:
    return f"PMID:{value}" if _DIGITS.fullmatch(value) else None


def _pmcid(value: str) -> str | None:
    # The API documents PMCID:2323736, i.e. the number without its "PMC".
    return f"PMCID:{match[1]}" if (match := _PMCID.fullmatch(value)) else None


def _site_of(host: str) -> str | None:
    host = host.lower().removeprefix("www.")
    return next((s for s in _SITES if host == s or host.endswith(f".{s}")), None)


def _looks_like_url(token: str) -> bool:
    if re.match(r"[a-z][a-z0-9+.-]*://", token, re.IGNORECASE):
        return True
    return "/" in token and _site_of(token.split("/", 1)[0]) is not None


def _parse_url(url: str) -> str:
    if not re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        raise _Problem("Only http and https URLs are accepted")
    site = _site_of(parts.hostname or "")
    if site is None:
        raise _Problem(f'URLs from "{parts.hostname}" are not supported')
    path = unquote(parts.path).strip("/")
    if api_id := _SITES[site](parts.hostname or "", path):
        return api_id
    if site in _PASS_THROUGH:
        return f"URL:{url}"
    raise _Problem(f"This {site} URL does not name a paper")


def _doi_org(host: str, path: str) -> str | None:
    return _doi(path)


def _arxiv_org(host: str, path: str) -> str | None:
    match = re.fullmatch(r"(?:abs|pdf|html|ps|format)/(.+?)(?:\.pdf)?", path, re.IGNORECASE)
    return _arxiv(match[1]) if match else None


def _semantic_scholar(host: str, path: str) -> str | None:
    if host.lower().startswith("api."):
        token = path.removeprefix("graph/v1/paper/")
        if not token or "/" in token.split(":")[0]:
            return None
        try:
            return _parse_token(token)
        except _Problem:
            return None
    return _hex_id(path.rsplit("/", 1)[-1])


def _ncbi(host: str, path: str) -> str | None:
    if match := re.fullmatch(r"(?:pubmed/)?(\d+)", path):
        return _pmid(match[1])
    if match := re.fullmatch(r"(?:pmc/)?articles/(pmc\d+)(?:/.*)?", path, re.IGNORECASE):
        return _pmcid(match[1])
    return None


def _acl_anthology(host: str, path: str) -> str | None:
    return _acl(path.removeprefix("anthology/").removesuffix(".pdf"))


def _acm(host: str, path: str) -> str | None:
    match = re.fullmatch(r"doi/(?:(?:abs|pdf|epdf|full|fullHtml)/)?(10\..+)", path, re.IGNORECASE)
    return _doi(match[1]) if match else None


def _no_id(host: str, path: str) -> str | None:
    return None


_SITES: dict[str, Callable[[str, str], str | None]] = {
    "doi.org": _doi_org,
    "arxiv.org": _arxiv_org,
    "semanticscholar.org": _semantic_scholar,
    "ncbi.nlm.nih.gov": _ncbi,
    "aclanthology.org": _acl_anthology,
    "aclweb.org": _acl_anthology,
    "acm.org": _acm,
    "biorxiv.org": _no_id,
}
# Sites the API resolves as URL:<url> itself (see GET /paper/{paper_id} in the spec).
_PASS_THROUGH = frozenset({"aclweb.org", "acm.org", "biorxiv.org"})

_PREFIXED: dict[str, tuple[str, Callable[[str], str | None], str]] = {
    "corpusid": ("CorpusId", _corpus_id, "digits, e.g. CorpusId:215416146"),
    "doi": ("DOI", _doi, "a DOI, e.g. DOI:10.18653/v1/N18-3011"),
    "arxiv": ("ARXIV", _arxiv, "an arXiv id, e.g. ARXIV:2106.15928 or ARXIV:hep-th/9901001"),
    "mag": ("MAG", _mag, "digits, e.g. MAG:112218234"),
    "acl": ("ACL", _acl, "an ACL Anthology id, e.g. ACL:P19-1001 or ACL:2020.acl-main.447"),
    "pmid": ("PMID", _pmid, "digits, e.g. PMID:19872477"),
    "pmcid": ("PMCID", _pmcid, "digits, e.g. PMCID:2323736 or PMCID:PMC2323736"),
    "url": ("URL", _parse_url, "a URL"),
}
