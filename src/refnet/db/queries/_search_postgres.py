"""Search on PostgreSQL: `websearch_to_tsquery` against `papers.search_vector` (GIN-indexed),
`ts_rank` for relevance, `ts_headline` for the page's snippets only (it reparses the text).

One statement counts and ranks. Its first step takes the `cap` + 1 most cited matches (the count
is how many it found); only those are ranked. A word found in a few papers is looked up in the
GIN index and every match is ranked; for a word found in a large share of all papers PostgreSQL
walks `ix_papers_search_order` (most cited first) and stops after `cap` + 1 matches. Either way
a search reads about `cap` rows, not every match: ranking 30,000 matches of "learning" would
take a hundred times longer than the page needs.
"""

from __future__ import annotations

from sqlalchemy import String, bindparam, text
from sqlalchemy.orm import Session

from refnet.db.queries._search_rows import ELLIPSIS, MARK_END, MARK_START, SearchRow
from refnet.db.queries.search_syntax import clean_query, nothing_to_search

_PARSE = text(
    "SELECT CAST(q AS text) AS tsquery, querytree(q) AS indexable "
    "FROM websearch_to_tsquery('english', :query) AS q"
)
_HIGHLIGHT = f"StartSel={MARK_START}, StopSel={MARK_END}"
_TITLE_OPTIONS = f"{_HIGHLIGHT}, HighlightAll=true"
_SNIPPET_OPTIONS = (
    f'{_HIGHLIGHT}, MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter="{ELLIPSIS}"'
)
# Stray mark characters in stored text would pass for marks.
_UNMARKED = f"translate({{}}, '{MARK_START}{MARK_END}', '')"
# The searched text besides the title, for the snippet: the newest done summary's as well.
_SNIPPET_TEXT = (
    "concat_ws(' ', page.tldr, page.abstract, done.tldr, done.summary, "
    "(SELECT string_agg(value, '; ') FROM jsonb_array_elements_text(done.keywords)))"
)
_PAGE = text(f"""
WITH candidates AS MATERIALIZED (
    SELECT id, citation_count, s2_id FROM papers
    WHERE search_vector @@ CAST(:tsquery AS tsquery) AND title IS NOT NULL
    ORDER BY citation_count DESC NULLS LAST, s2_id
    LIMIT :cap + 1
),
page AS (
    SELECT p.id, p.s2_id, p.title, p.year, p.citation_count, p.crawl_state, p.tldr, p.abstract,
        ts_rank(p.search_vector, CAST(:tsquery AS tsquery)) AS rank
    FROM (
        SELECT id FROM candidates ORDER BY citation_count DESC NULLS LAST, s2_id LIMIT :cap
    ) AS ranked_among
    JOIN papers AS p USING (id)
    ORDER BY rank DESC, p.citation_count DESC NULLS LAST, p.s2_id
    LIMIT :limit OFFSET :offset
)
SELECT
    (SELECT count(*) FROM candidates) AS matched,
    page.id, page.s2_id, page.title, page.year, page.citation_count, page.crawl_state,
    page.rank,
    ts_headline('english', {_UNMARKED.format(_SNIPPET_TEXT)}, CAST(:tsquery AS tsquery),
        :snippet_options) AS snippet,
    ts_headline('english', {_UNMARKED.format("page.title")}, CAST(:tsquery AS tsquery),
        :title_options) AS title_marked
FROM (SELECT 1) AS one
LEFT JOIN page ON true
LEFT JOIN LATERAL (
    SELECT s.tldr, s.summary,
        CASE WHEN jsonb_typeof(s.keywords) = 'array' THEN s.keywords ELSE '[]' END AS keywords
    FROM summaries AS s
    WHERE s.paper_id = page.id AND s.status = 'done'
    ORDER BY s.updated_at DESC, s.id DESC
    LIMIT 1
) AS done ON true
ORDER BY page.rank DESC, page.citation_count DESC NULLS LAST, page.s2_id
""").bindparams(
    # Written into the statement: psycopg prepares a statement run often, and PostgreSQL's
    # generic plan for it (made for no query in particular) was ten times slower for common
    # words than the plan made for the query at hand.
    bindparam("tsquery", type_=String(), literal_execute=True)
)


class PostgresMatches:
    def __init__(self, session: Session, query: str) -> None:
        self.session = session
        parsed = session.execute(_PARSE, {"query": clean_query(query)}).one()
        if not parsed.tsquery:
            raise nothing_to_search("no word to look for (common words such as 'the' are skipped)")
        if parsed.indexable in ("", "T"):
            raise nothing_to_search("an alternative with only excluded words")
        self.tsquery: str = parsed.tsquery

    def page(self, *, limit: int, offset: int, cap: int) -> tuple[int, list[SearchRow]]:
        rows = self.session.execute(
            _PAGE,
            {
                "tsquery": self.tsquery,
                "cap": cap,
                "limit": limit,
                "offset": offset,
                "snippet_options": _SNIPPET_OPTIONS,
                "title_options": _TITLE_OPTIONS,
            },
        ).all()
        matched = int(rows[0].matched)
        return matched, [SearchRow(*row[1:]) for row in rows if row.id is not None]
