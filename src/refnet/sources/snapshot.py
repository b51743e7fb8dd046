"""A local JSON Lines file of Semantic Scholar paper records, served like the API.

Each line is one paper object as `/paper/batch` returns it, with `references` as a list of
`{"paperId": …}` objects. Citations are the inverse of the references in the file. The whole
file is indexed in memory, which suits samples and imports up to a few hundred thousand papers.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refnet.core.errors import InvalidInput, NotFound
from refnet.core.records import CitationRecord, PaperRecord
from refnet.sources.records import (
    normalize_arxiv,
    normalize_doi,
    parse_paper,
)

# Which externalIds key answers which id prefix, and how values are compared.
_PREFIX_KEYS = {
    "corpusid": "CorpusId",
    "doi": "DOI",
    "arxiv": "ArXiv",
    "mag": "MAG",
    "acl": "ACL",
    "pmid": "PubMed",
    "pmcid": "PubMedCentral",
}
TITLE_MATCH_CUTOFF = 0.9


def _normalize_key(prefix: str, value: str) -> str:
    if prefix == "doi":
        return normalize_doi(value) or ""
    if prefix == "arxiv":
        return normalize_arxiv(value) or ""
    if prefix == "pmcid":
        return value.upper().removeprefix("PMC")
    return value.lower()


def normalize_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", title.lower()).split())


class SnapshotSource:
    """PaperSource over a JSON Lines snapshot."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"snapshot:{path}"
        self.requests_made = 0
        self._papers: dict[str, PaperRecord] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._citers: dict[str, list[str]] = defaultdict(list)
        self._titles: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            raise InvalidInput(f"snapshot file {self.path} does not exist")
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    self._add(self._parse_line(line, number))
        for cited, citers in self._citers.items():
            citers.sort(key=lambda pid: (-(self._papers[pid].year or 0), pid))
            self._citers[cited] = citers

    def _parse_line(self, line: str, number: int) -> PaperRecord:
        try:
            raw: Any = json.loads(line)
            return parse_paper(raw, complete=True)
        except (ValueError, InvalidInput) as exc:
            raise InvalidInput(f"{self.path}, line {number}: not a paper record ({exc})") from exc
        except Exception as exc:
            raise InvalidInput(f"{self.path}, line {number}: {exc}") from exc

    def _add(self, record: PaperRecord) -> None:
        self._papers[record.s2_id] = record
        for prefix, key in _PREFIX_KEYS.items():
            value = record.external_ids.get(key)
            if value:
                self._keys[(prefix, _normalize_key(prefix, value))] = record.s2_id
        if record.corpus_id is not None:
            self._keys[("corpusid", str(record.corpus_id))] = record.s2_id
        if record.title:
            self._titles.setdefault(normalize_title(record.title), record.s2_id)
        for ref in record.references or ():
            self._citers[ref.s2_id].append(record.s2_id)

    def _lookup(self, paper_id: str) -> str | None:
        if paper_id in self._papers:
            return paper_id
        prefix, sep, value = paper_id.partition(":")
        if not sep:
            return paper_id.lower() if paper_id.lower() in self._papers else None
        return self._keys.get((prefix.lower(), _normalize_key(prefix.lower(), value)))

    def __len__(self) -> int:
        return len(self._papers)

    def get_papers(self, ids: Sequence[str]) -> list[PaperRecord | None]:
        self.requests_made += 1
        found = (self._lookup(paper_id) for paper_id in ids)
        return [self._papers[pid] if pid else None for pid in found]

    def get_citations(
        self, paper_id: str, *, limit: int, published_since: str | None = None
    ) -> list[CitationRecord]:
        self.requests_made += 1
        s2_id = self._lookup(paper_id)
        if s2_id is None:
            raise NotFound(f"paper {paper_id} is not in {self.path}")
        citers = (self._papers[pid] for pid in self._citers.get(s2_id, []))
        if published_since:
            citers = (p for p in citers if _published_since(p, published_since))
        return [
            CitationRecord(paper=_brief(p), is_influential=None, intents=[], contexts=[])
            for p in list(citers)[:limit]
        ]

    def match_title(self, title: str) -> PaperRecord | None:
        self.requests_made += 1
        wanted = normalize_title(title)
        s2_id = self._titles.get(wanted)
        if s2_id is None:
            close = difflib.get_close_matches(wanted, self._titles, n=1, cutoff=TITLE_MATCH_CUTOFF)
            s2_id = self._titles[close[0]] if close else None
        return self._papers[s2_id] if s2_id else None

    def close(self) -> None:
        return None


def _brief(record: PaperRecord) -> PaperRecord:
    """A listing row: the paper without its references, as the API lists citing papers."""
    return dataclasses.replace(record, references=None, complete=False)


def _published_since(record: PaperRecord, since: str) -> bool:
    """`since` is the start of a publicationDateOrYear range such as `2024-06:`."""
    start = since.split(":")[0]
    if record.publication_date is not None:
        return record.publication_date.isoformat() >= start  # ISO dates compare as text
    return record.year is not None and str(record.year) >= start[:4]
