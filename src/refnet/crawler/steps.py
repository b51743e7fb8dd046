"""The crawl's units of work. Each runs in one transaction, so a crawl stopped anywhere
resumes from a consistent state, and each is an idempotent upsert, so repeating one is harmless.

A collect is written in two halves within its transaction: `collect` writes what the next step
is chosen from (the collected papers' rows, what their references tell about papers already
known, their edges, the frontier), `finish_collect` the rest (stubs for references new to the
database with their edges, the collected papers' metadata and authors). Between the two the
crawl chooses its next step and sends its request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from refnet.core.errors import PermanentError
from refnet.core.ids import parse_paper_id
from refnet.core.records import CitationRecord, PaperRecord
from refnet.crawler.params import CrawlParams
from refnet.crawler.scoring import score_paper
from refnet.db.models import FrontierState
from refnet.db.queries import crawl as crawl_q
from refnet.db.queries import ranking as ranking_q
from refnet.db.queries.citations import EdgeRow, upsert_citations
from refnet.db.queries.papers import StagedPapers, stage_papers, upsert_papers
from refnet.sources.base import BATCH_LIMIT, PaperSource


@dataclass(slots=True)
class StoredRecords:
    """Full records and their references, written but for what `finish` puts off."""

    staged: StagedPapers
    later_edges: list[tuple[int, str]]  # (citing row, cited S2 id) of references without a row

    @property
    def ids(self) -> dict[str, int]:
        return self.staged.ids

    def finish(self, session: Session) -> None:
        self.staged.finish(session)
        upsert_citations(
            session=session,
            edges=(EdgeRow(citing, self.staged.ids[cited]) for citing, cited in self.later_edges),
        )
        self.later_edges = []


def store_collected(
    *,
    session: Session,
    records: Sequence[PaperRecord],
    known: Mapping[str, int] | None = None,
    put_off_new_stubs: bool = False,
) -> StoredRecords:
    """Rows for full records and stubs for their references, and the reference edges; the
    records' metadata and authors (and with `put_off_new_stubs`, the references new to the
    database with their edges) follow with `StoredRecords.finish`.

    `known` maps S2 ids already stored (by earlier, committed steps) to their rows: those
    references need no lookup or insert, which is most of them late in a crawl.
    """
    known = known or {}
    references = [ref for r in records for ref in r.references or () if ref.s2_id not in known]
    staged = stage_papers(
        session=session, records=[*records, *references], put_off_new_stubs=put_off_new_stubs
    )
    ids = {**known, **staged.ids}
    edges, later = [], []
    for record in records:
        citing = ids[record.s2_id]
        for ref in record.references or ():
            if ref.s2_id in ids:
                edges.append(EdgeRow(citing, ids[ref.s2_id]))
            else:
                later.append((citing, ref.s2_id))
    upsert_citations(session=session, edges=edges)
    return StoredRecords(staged, later)


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
    stored = store_collected(session=session, records=records)
    stored.finish(session)
    seed_rows = {stored.ids[r.s2_id]: 0 for r in records}
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
    crawl_q.set_crawl_position(session=session, positions={pid: (0, None) for pid in seed_rows})
    return list(dict.fromkeys(r.s2_id for r in records))


def pick_candidates(*, session: Session, job_id: int, limit: int) -> list[ranking_q.CandidateRow]:
    """The `limit` best candidates by score (see refnet.crawler.scoring).

    Scores are kept in the frontier and recomputed only for candidates marked stale: those a
    step gave a new depth, a new edge to a collected paper, or a collected neighbour. So a pick
    costs what changed since the last one, not the size of the frontier.
    """
    rescore_stale(session=session, job_id=job_id)
    return ranking_q.best_candidates(session=session, job_id=job_id, limit=min(limit, BATCH_LIMIT))


def rescore_stale(*, session: Session, job_id: int) -> None:
    stale = ranking_q.stale_candidates(session=session, job_id=job_id)
    if not stale:
        return
    links = ranking_q.links_to_collected(session=session, job_id=job_id, stale_only=True)
    scores = {
        c.paper_id: score_paper(
            citation_count=c.citation_count,
            influential_citation_count=c.influential_citation_count,
            links=links.get(c.paper_id, 0),
            depth=c.depth,
        )
        for c in stale
    }
    ranking_q.set_frontier_scores(session=session, job_id=job_id, scores=scores)


@dataclass(slots=True)
class Collected:
    """What `collect` wrote, and what `finish_collect` still has to."""

    stored: StoredRecords
    depths: dict[int, int]  # collected row -> depth


def collect(
    *,
    session: Session,
    job_id: int,
    candidates: Sequence[ranking_q.CandidateRow],
    records: Sequence[PaperRecord | None],
    known: Mapping[str, int] | None = None,
) -> Collected:
    """Store the fetched records of candidates and move them to `collected`: everything the
    next step is chosen from. `finish_collect` completes the step."""
    stored = store_collected(
        session=session,
        records=[r for r in records if r is not None],
        known=known,
        put_off_new_stubs=True,
    )
    ids = {**(known or {}), **stored.ids}
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
    ranking_q.mark_neighbours_stale(session=session, job_id=job_id, paper_ids=collected)
    return Collected(stored, collected)


def finish_collect(*, session: Session, job_id: int, collected: Collected) -> None:
    """The collected papers' metadata, authors, and place in the crawl."""
    collected.stored.finish(session)
    scores = ranking_q.frontier_scores(session=session, job_id=job_id, paper_ids=collected.depths)
    crawl_q.set_crawl_position(
        session=session,
        positions={pid: (d, scores.get(pid)) for pid, d in collected.depths.items()},
    )


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
    crawl_q.mark_expanded(session=session, paper_id=entry.paper_id)
