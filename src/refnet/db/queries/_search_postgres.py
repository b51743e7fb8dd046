"""Search on PostgreSQL: `websearch_to_tsquery` against `papers.search_vector` (GIN-indexed),
`ts_rank` for relevance, and for the page's rows the words that matched (`_excerpts` makes the
snippets from them).

Only the `cap` + 1 most cited matches are read (their number is the count) and ranked: ranking
30,000 matches of "learning" would take a hundred times longer than the page needs. There are
two ways to find them, and which is cheaper depends on how many papers match:

- a word in a few thousand papers or fewer: look the matches up in the GIN index and sort
  them by citations (cost grows with the matches);
- a word in a large share of all papers: walk `ix_papers_search_order`, most cited first, and
  stop after `cap` + 1 matches (cost grows with the papers walked, about `cap` * all / matches).

PostgreSQL's own choice between the two goes wrong in between: it walks for a word in 3% of
papers and reads thirty thousand rows for 200 matches. So the search asks the planner how many
papers it expects to match (its estimate comes from the statistics of `search_vector`) and picks
the way whose cost is lower, by the rule in `walks_citation_order`.
"""

from __future__ import annotations

import math
import re

from refnet.db.queries._excerpts import Excerpts
from refnet.db.queries._search_rows import SearchRow
from refnet.db.queries._steps import Statement, Steps
from refnet.db.queries.search_syntax import clean_query, nothing_to_search

_PARSE = (
    "SELECT CAST(q AS text), querytree(q), "
    "(SELECT reltuples FROM pg_class WHERE oid = CAST('papers' AS regclass)) "
    "FROM websearch_to_tsquery('english', %(query)s) AS q"
)
_ESTIMATE = (
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM papers "
    "WHERE search_vector @@ CAST(%(tsquery)s AS tsquery) AND title IS NOT NULL"
)
_CANDIDATES = (
    "SELECT id FROM papers WHERE search_vector @@ CAST(%(tsquery)s AS tsquery) "
    "AND title IS NOT NULL ORDER BY {order} DESC NULLS LAST, s2_id LIMIT %(take)s"
)
# The order index serves `citation_count` but not `citation_count + 0`: the planner then reads
# the matches from the GIN index whatever it estimates.
_WALKING = _CANDIDATES.format(order="citation_count")
_SORTING = _CANDIDATES.format(order="citation_count + 0")

# The searched text besides the title, for the snippet: the newest done summary's as well.
_SNIPPET_TEXT = (
    "concat_ws(' ', p.tldr, p.abstract, done.tldr, done.summary, "
    "(SELECT string_agg(value, '; ') FROM jsonb_array_elements_text(done.keywords)))"
)
# Prepared once per connection: nothing in its plan depends on the words searched for.
# `matched` is the distinct words of the title and text that stem to a lexeme of the query:
# candidates are the words starting as a lexeme does (`word_starts`), and the stemmer of the
# `english` configuration, which made the lexemes, decides.
_PAGE = f"""
SELECT p.id, p.s2_id, p.title, p.year, p.citation_count, p.crawl_state, ranked.rank, body.whole,
    ARRAY(
        SELECT DISTINCT candidate.word
        FROM (
            SELECT lower(found[1]) AS word
            FROM regexp_matches(concat_ws(' ', p.title, body.whole), %(word_starts)s, 'gi')
                AS found
        ) AS candidate
        WHERE ts_lexize('english_stem', candidate.word) && CAST(%(lexemes)s AS text[])
    ) AS matched
FROM (
    SELECT id, citation_count, s2_id, ts_rank(search_vector, CAST(%(tsquery)s AS tsquery)) AS rank
    FROM papers
    WHERE id = ANY(CAST(%(ids)s AS integer[]))
    ORDER BY rank DESC, citation_count DESC NULLS LAST, s2_id
    LIMIT %(limit)s OFFSET %(offset)s
) AS ranked
JOIN papers AS p USING (id)
LEFT JOIN LATERAL (
    SELECT s.tldr, s.summary,
        CASE WHEN jsonb_typeof(s.keywords) = 'array' THEN s.keywords ELSE '[]' END AS keywords
    FROM summaries AS s
    WHERE s.paper_id = p.id AND s.status = 'done'
    ORDER BY s.updated_at DESC, s.id DESC
    LIMIT 1
) AS done ON true
CROSS JOIN LATERAL (SELECT {_SNIPPET_TEXT} AS whole OFFSET 0) AS body
ORDER BY ranked.rank DESC, ranked.citation_count DESC NULLS LAST, ranked.s2_id
"""
_LEXEME = re.compile(r"(!?)'((?:[^']|'')+)'")
_PROBE_MIN = 3


def matches(query: str, *, limit: int, offset: int, cap: int) -> Steps[tuple[int, list[SearchRow]]]:
    """How many papers match, counted up to `cap` + 1, and rows `offset`… of the best matches
    (rows before `cap` only), best first. InvalidInput for a query with nothing to search."""
    ((tsquery, indexable, papers),) = yield Statement(_PARSE, {"query": clean_query(query)})
    if not tsquery:
        raise nothing_to_search("no word to look for (common words such as 'the' are skipped)")
    if indexable in ("", "T"):
        raise nothing_to_search("an alternative with only excluded words")
    estimate = yield Statement(_ESTIMATE, {"tsquery": tsquery}, prepare=False)
    expected = estimate[0][0][0]["Plan"]["Plan Rows"]
    candidates = Statement(
        _WALKING if walks_citation_order(expected, papers, cap) else _SORTING,
        {"tsquery": tsquery, "take": cap + 1},
        prepare=False,
    )
    found = [row[0] for row in (yield candidates)]
    if limit <= 0 or offset >= min(len(found), cap):
        return len(found), []
    lexemes = wanted_lexemes(tsquery)
    page = yield Statement(
        _PAGE,
        {
            "tsquery": tsquery,
            "ids": found[:cap],
            "limit": limit,
            "offset": offset,
            "word_starts": word_starts(lexemes),
            "lexemes": lexemes,
        },
    )
    rows = []
    for paper_id, s2_id, title, year, citations, state, rank, text, matched in page:
        excerpts = Excerpts(matched)
        snippet, title_marked = excerpts.snippet(text), excerpts.highlighted(title)
        rows.append(
            SearchRow(paper_id, s2_id, title, year, citations, state, rank, snippet, title_marked)
        )
    return len(found), rows


def walks_citation_order(expected_matches: float, papers: float, cap: int) -> bool:
    """Whether walking the papers most cited first is cheaper than sorting every match.

    Walking reads about `cap` * papers / matches rows, sorting reads every match, and a row
    read while walking costs about twice as much (its search vector is read to test it); the
    two cost the same at matches = sqrt(2 * cap * papers), about 6,300 of 100,000 papers.
    """
    if papers <= 0:  # never analyzed: a table this new is small
        return False
    return expected_matches > math.sqrt(2 * (cap + 1) * papers)


def wanted_lexemes(tsquery: str) -> list[str]:
    """The lexemes of `tsquery` a hit's text is searched for (not the excluded ones)."""
    return [
        lexeme.replace("''", "'") for negated, lexeme in _LEXEME.findall(tsquery) if not negated
    ]


def word_starts(lexemes: list[str]) -> str:
    """A regular expression (PostgreSQL's) for the words that may stem to one of `lexemes`:
    those starting as a lexeme does without its last letter, which stemming often changes
    ("accuracy" is 'accuraci')."""
    starts = sorted({lexeme if len(lexeme) <= _PROBE_MIN else lexeme[:-1] for lexeme in lexemes})
    if not starts:
        return "a^"  # matches nothing
    return "\\m((?:" + "|".join(re.escape(start) for start in starts) + ")\\w*)"
