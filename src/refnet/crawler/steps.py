"""The crawl's units of work. Each runs in one transaction, so a crawl stopped anywhere
resumes from a consistent state, and each is an idempotent upsert, so repeating one is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from refnet.core.errors import PermanentError
from refnet.core.ids import parse_paper_id
from refnet.crawler.params import CrawlParams
from refnet.crawler.scoring import score_paper
from refnet.db.models import FrontierState
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries.citations import EdgeRow, upsert_citations
from refnet.db.queries.papers import mark_expanded, set_crawl_position, upsert_papers
from refnet.sources.base import BATCH_LIMIT, PaperSource
from refnet.sources.records import CitationRecord, PaperRecord


def store_collected(
    *, session: Session, records: Sequence[PaperRecord], known: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Store full records, stubs for their references, and the reference edges.

    `known` maps S2 ids already stored (by earlier, committed steps) to their rows: those
    references need no lookup or insert, which is most of them late in a crawl.
    """
    known = known or {}
    references = [ref for r in records for ref in r.references or () if ref.s2_id not in known]
    ids = {**known, **upsert_papers(session=session, records=[*records, *references])}
    upsert_citations(
        session=session,
        edges=(
            EdgeRow(ids[r.s2_id], ids[ref.s2_id]) for r in records for ref in r.references or ()
        ),
    )
    return ids


def resolve_seeds(source: PaperSource, seeds: Sequence[str]) -> list[PaperRecord]:
    """Full records for the user's seeds; PermanentError naming every seed the source lacks."""
    refs = [parse_paper_id(seed) for seed in seeds]
    api_ids = [ref.api_id for ref in refs if ref.api_id]
    by_api_id = dict(zip(api_ids, source.get_papers(api_ids), strict=True)) if api_ids else {}
    records: list[PaperRecord] = []
    unknown: list[str] = []
    for ref in refs:
        record = by_api_id.get(ref.api_id) if ref.api_id else source.match_title(ref.title or "")
        if record is None:
            unknown.append(ref.raw)
        else:
            records.append(record)
    if unknown:
        raise PermanentError(f"{source.name} does not know these seeds: {', '.join(unknown)}")
    brief = [r for r in records if r.references is None]
    if brief:
        # A title match may answer without reference lists; fetch those records in one batch.
        full = {f.s2_id: f for f in source.get_papers([r.s2_id for r in brief]) if f}
        records = [full.get(r.s2_id, r) for r in records]
    return records


def collect_seeds(*, session: Session, job_id: int, records: Sequence[PaperRecord]) -> list[str]:
    ids = store_collected(session=session, records=records)
    seed_rows = {ids[r.s2_id]: 0 for r in records}
    crawl_q.add_to_frontier(
        session=session,
        job_id=job_id,
        depths=seed_rows,
        state=FrontierState.COLLECTED,
        is_seed=True,
    )
    crawl_q.set_frontier_state(
        session=session,
        job_id=job_id,
        paper_ids=seed_rows,
        state=FrontierState.COLLECTED,
        only_from=(FrontierState.CANDIDATE,),
    )
    set_crawl_position(session=session, positions={pid: (0, None) for pid in seed_rows})
    return list(dict.fromkeys(r.s2_id for r in records))


def pick_candidates(*, session: Session, job_id: int, limit: int) -> list[crawl_q.CandidateRow]:
    """The `limit` best candidates by score (see refnet.crawler.scoring)."""
    links = crawl_q.links_to_collected(session=session, job_id=job_id)
    scored = [
        (
            score_paper(
                citation_count=c.citation_count,
                influential_citation_count=c.influential_citation_count,
                links=links.get(c.paper_id, 0),
                depth=c.depth,
            ),
            c,
        )
        for c in crawl_q.list_candidates(session=session, job_id=job_id)
    ]
    scored.sort(key=lambda item: (-item[0], item[1].s2_id))
    chosen = scored[: min(limit, BATCH_LIMIT)]
    crawl_q.set_frontier_scores(
        session=session, job_id=job_id, scores={c.paper_id: score for score, c in chosen}
    )
    return [c for _, c in chosen]


def collect(
    *,
    session: Session,
    job_id: int,
    candidates: Sequence[crawl_q.CandidateRow],
    records: Sequence[PaperRecord | None],
    known: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Store the fetched records of candidates and move them to `collected`; returns the rows
    of every S2 id it stored."""
    ids = store_collected(
        session=session, records=[r for r in records if r is not None], known=known
    )
    collected: dict[int, int] = {}
    gone: list[int] = []
    for candidate, record in zip(candidates, records, strict=True):
        row = ids.get(record.s2_id) if record else None
        if row is None or row != candidate.paper_id:
            gone.append(candidate.paper_id)  # unknown to the source, or merged into another row
        if row is not None:
            collected[row] = min(candidate.depth, collected.get(row, candidate.depth))
    crawl_q.add_to_frontier(session=session, job_id=job_id, depths=collected)
    crawl_q.set_frontier_state(
        session=session,
        job_id=job_id,
        paper_ids=collected,
        state=FrontierState.COLLECTED,
        only_from=(FrontierState.CANDIDATE,),
    )
    crawl_q.set_frontier_state(
        session=session, job_id=job_id, paper_ids=gone, state=FrontierState.MISSING
    )
    scores = crawl_q.frontier_scores(session=session, job_id=job_id, paper_ids=collected)
    set_crawl_position(
        session=session, positions={pid: (d, scores.get(pid)) for pid, d in collected.items()}
    )
    return ids


def expand(
    *,
    session: Session,
    job_id: int,
    entry: crawl_q.ExpandableRow,
    params: CrawlParams,
    citations: Sequence[CitationRecord],
) -> None:
    """Store a paper's citing papers and queue its neighbours one hop further out."""
    ids = upsert_papers(session=session, records=[c.paper for c in citations])
    upsert_citations(
        session=session,
        edges=(
            EdgeRow(ids[c.paper.s2_id], entry.paper_id, c.is_influential, c.intents, c.contexts)
            for c in citations
        ),
    )
    neighbours = [ids[c.paper.s2_id] for c in citations]
    if params.published_since is None:
        neighbours += crawl_q.reference_ids(
            session=session, paper_id=entry.paper_id, limit=params.max_references_per_paper
        )
    crawl_q.add_to_frontier(
        session=session,
        job_id=job_id,
        depths={pid: entry.depth + 1 for pid in neighbours if pid != entry.paper_id},
    )
    crawl_q.set_frontier_state(
        session=session, job_id=job_id, paper_ids=[entry.paper_id], state=FrontierState.EXPANDED
    )
    mark_expanded(session=session, paper_id=entry.paper_id)
