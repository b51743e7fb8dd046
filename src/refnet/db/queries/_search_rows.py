"""What each database's search returns to `queries.search`, before snippets become HTML."""

from __future__ import annotations

from typing import NamedTuple

# Match marks the databases put around matched words (`ts_headline`, FTS5 `snippet()`):
# characters no text shows, turned into <mark> tags after HTML escaping.
MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = " … "


class SearchRow(NamedTuple):
    paper_id: int
    s2_id: str
    title: str | None
    year: int | None
    citation_count: int | None
    crawl_state: str
    rank: float
    snippet: str | None
    title_highlighted: str | None
