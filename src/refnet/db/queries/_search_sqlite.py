"""Search on SQLite: the FTS5 table `papers_fts` (one row per paper, rowid = paper id), ranked
by `bm25()` with the columns weighted as PostgreSQL weighs them, snippets from `snippet()`."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from refnet.db.queries._search_rows import ELLIPSIS, MARK_END, MARK_START, SearchRow
from refnet.db.queries.search_syntax import fts5_query

# papers_fts columns: title, abstract, tldr, summary (text, TL;DR and key points), keywords.
_WEIGHTS = "10.0, 2.0, 4.0, 2.0, 4.0"
_SNIPPET_COLUMNS = (2, 1, 3, 4)  # tldr first: on a tie, the shortest passage that says most
_SNIPPET_TOKENS = 24
_MATCHES = (
    "FROM papers_fts JOIN papers AS p ON p.id = papers_fts.rowid "
    "WHERE papers_fts MATCH :match AND p.title IS NOT NULL"
)
_COUNT = text(f"SELECT count(*) FROM (SELECT 1 {_MATCHES} LIMIT :limit)")
_PAGE = text(f"""
SELECT p.id, p.s2_id, p.title, p.year, p.citation_count, p.crawl_state,
    -bm25(papers_fts, {_WEIGHTS}) AS rank
{_MATCHES}
ORDER BY rank DESC, p.citation_count DESC NULLS LAST, p.s2_id
LIMIT :limit OFFSET :offset
""")
_SNIPPET_CALLS = ", ".join(
    f"snippet(papers_fts, {column}, :start, :end, '{ELLIPSIS.strip()}', {_SNIPPET_TOKENS})"
    for column in _SNIPPET_COLUMNS
)
# Snippets for the page's rows only: SQLite would make them for every match before sorting.
_SNIPPETS = text(f"""
SELECT rowid, highlight(papers_fts, 0, :start, :end), {_SNIPPET_CALLS}
FROM papers_fts
WHERE papers_fts MATCH :match AND rowid IN :ids
""").bindparams(bindparam("ids", expanding=True))


def best_snippet(snippets: list[str | None]) -> str:
    """The passage with the most matches; with none, the first passage there is."""
    present = [snippet for snippet in snippets if snippet]
    if not present:
        return ""
    return max(present, key=lambda snippet: snippet.count(MARK_START))


class SqliteMatches:
    def __init__(self, session: Session, query: str) -> None:
        self.session = session
        self.match = fts5_query(query)

    def page(self, *, limit: int, offset: int, cap: int) -> tuple[int, list[SearchRow]]:
        """FTS5 ranks every match as it finds them; `cap` bounds the count only."""
        matched = int(self.session.scalar(_COUNT, {"match": self.match, "limit": cap + 1}) or 0)
        if limit <= 0 or offset >= matched:
            return matched, []
        ranked = self.session.execute(
            _PAGE, {"match": self.match, "limit": limit, "offset": offset}
        ).all()
        marks = {"match": self.match, "start": MARK_START, "end": MARK_END}
        texts = {
            row[0]: (row[1], best_snippet(list(row[2:])))
            for row in self.session.execute(_SNIPPETS, {**marks, "ids": [r.id for r in ranked]})
        }
        return matched, [
            SearchRow(
                paper_id=row.id,
                s2_id=row.s2_id,
                title=row.title,
                year=row.year,
                citation_count=row.citation_count,
                crawl_state=row.crawl_state,
                rank=float(row.rank),
                snippet=texts[row.id][1],
                title_highlighted=texts[row.id][0],
            )
            for row in ranked
        ]
