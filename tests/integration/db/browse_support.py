"""A small citation network stored by a real crawl (snapshot source), for the API read views."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refnet.crawler.params import CrawlParams
from refnet.crawler.service import run_crawl, start_crawl
from refnet.db.models import JobStatus
from refnet.db.queries.lookups import find_paper_id
from refnet.db.session import session_scope
from refnet.sources.snapshot import SnapshotSource


def s2_id(number: int) -> str:
    return f"{number:040x}"


def snapshot_paper(
    number: int,
    *,
    references: Sequence[int] = (),
    citations: int | None = None,
    year: int = 2020,
    **fields: Any,
) -> dict[str, Any]:
    """A paper object as /paper/batch returns it."""
    return {
        "paperId": s2_id(number),
        "externalIds": {"DOI": f"10.5555/paper.{number}"},
        "title": f"Paper number {number}",
        "abstract": f"Abstract of paper {number}.",
        "year": year,
        "citationCount": 10 * number if citations is None else citations,
        "referenceCount": len(references),
        "authors": [{"authorId": f"a{number}", "name": f"Author {number}"}],
        "references": [{"paperId": s2_id(ref)} for ref in references],
        **fields,
    }


SEED = 1
REFERENCES = (2, 3, 4, 5, 6)  # the seed cites these
CITERS = (7, 8, 9, 10)  # these cite the seed
FAR = (11, 12)  # cited by a reference and by a citer: known only as stubs after the crawl

SEED_PAPER = snapshot_paper(
    SEED,
    references=REFERENCES,
    citations=500,
    year=2019,
    corpusId=215416146,
    externalIds={
        "DOI": "10.1234/Seed.One",
        "ArXiv": "2106.15928",
        "PubMed": "19872477",
        "PubMedCentral": "2323736",
        "MAG": "112218234",
        "ACL": "P19-1001",
        "CorpusId": 215416146,
    },
    title="Retrieval augmented generation for knowledge intensive tasks",
    tldr={"model": "tldr@v2", "text": "Retrieval helps generation."},
    venue="NeurIPS",
    journal={"name": "Advances in Neural Information Processing Systems"},
    publicationDate="2019-05-22",
    publicationTypes=["JournalArticle"],
    fieldsOfStudy=["Computer Science"],
    s2FieldsOfStudy=[{"category": "Linguistics", "source": "s2-fos-model"}],
    influentialCitationCount=42,
    openAccessPdf={"url": "https://example.org/seed.pdf", "status": "GREEN"},
    url="https://www.semanticscholar.org/paper/" + s2_id(SEED),
    authors=[
        {"authorId": "1111", "name": "Patrick Lewis"},
        {"authorId": None, "name": "Ethan Perez"},
        {"authorId": "3333", "name": "Aleksandra Piktus"},
    ],
)

# Citation counts: two references tie at 30 (order by id), one has none known.
NETWORK = [
    SEED_PAPER,
    snapshot_paper(2, references=(11,), citations=30),
    snapshot_paper(3, citations=30),
    snapshot_paper(4, citations=None) | {"citationCount": None},
    snapshot_paper(5, citations=70),
    snapshot_paper(6, citations=5),
    snapshot_paper(7, references=(SEED, 2, 12), citations=3, year=2021),
    snapshot_paper(8, references=(SEED, 3), citations=80, year=2022),
    snapshot_paper(9, references=(SEED,), citations=1, year=2023),
    snapshot_paper(10, references=(SEED, 7), citations=20, year=2024),
]


def crawl_network(url: str, tmp_path: Path, *, depth: int = 1) -> int:
    """Crawl `NETWORK` from its seed; returns the job id."""
    path = tmp_path / "network.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in NETWORK), encoding="utf-8")
    job_id, _ = start_crawl(
        database_url=url,
        seeds=[s2_id(SEED)],
        params=CrawlParams(max_depth=depth),
        source_name="snapshot",
    )
    outcome = run_crawl(job_id, database_url=url, source=SnapshotSource(path))
    assert outcome.status == JobStatus.COMPLETED, outcome
    return job_id


def row_ids(url: str, numbers: Sequence[int]) -> list[int]:
    """The stored row ids of papers by their number in this module."""
    with session_scope(url) as session:
        found = [find_paper_id(session=session, api_id=s2_id(n), title=None) for n in numbers]
    assert None not in found, f"not all of {numbers} are stored"
    return [row for row in found if row is not None]
