"""The search box's syntax, read the way PostgreSQL's `websearch_to_tsquery` reads it, and
written as an SQLite FTS5 expression that cannot fail.

Accepted: words (all must match), "quoted phrases", `-word` or `-"a phrase"` to exclude, and
`OR` between alternatives (each alternative is a group of words that must all match, so
`graph neural OR citation ranking` finds either pair). Anything else is a separator: FTS5's own
operators, column filters, `*`, `^`, `NEAR(`, parentheses and stray quotes reach FTS5 only as
quoted phrases of letters and digits, never as syntax.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from refnet.core.errors import InvalidInput

MAX_QUERY_LENGTH = 500
ACCEPTED = 'words (all must match), "quoted phrases", -word to exclude, and OR between alternatives'
# Letters and digits, as FTS5's unicode61 tokenizer splits text (punctuation, symbols and
# spaces separate tokens).
_TOKEN = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True)
class Group:
    """Terms that must all match (`required`) and none of `excluded`; a term is a phrase of
    one or more tokens."""

    required: list[tuple[str, ...]] = field(default_factory=list)
    excluded: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, text: str, *, exclude: bool) -> None:
        tokens = tuple(_TOKEN.findall(text))
        if tokens:
            (self.excluded if exclude else self.required).append(tokens)

    def __bool__(self) -> bool:
        return bool(self.required or self.excluded)


def check_length(query: str) -> None:
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            f"The search query is {len(query)} characters long; at most {MAX_QUERY_LENGTH} "
            "are accepted."
        )


def clean_query(query: str) -> str:
    """The query in Unicode's compatibility form, control characters (which no database takes
    and no person types) as spaces."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFKC", query))


def nothing_to_search(detail: str) -> InvalidInput:
    return InvalidInput(f"The search query has {detail}. Use {ACCEPTED}.")


def parse_query(query: str) -> list[Group]:
    """The query's OR-alternatives, each with at least one required term.

    Raises InvalidInput for a query that is too long, has no word to look for, or has an
    alternative made only of exclusions (which would match nearly every paper).
    """
    check_length(query)
    text = clean_query(query)
    groups = [Group()]
    exclude = False
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char == "-":
            exclude, position = True, position + 1
        elif char == '"':
            end = text.find('"', position + 1)
            end = len(text) if end < 0 else end  # an unclosed quote runs to the end
            groups[-1].add(text[position + 1 : end], exclude=exclude)
            exclude, position = False, end + 1
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            word = text[position:end]
            if word.upper() == "OR" and not exclude:
                if groups[-1]:
                    groups.append(Group())
            else:
                groups[-1].add(word, exclude=exclude)
                exclude = False
            position = end
    groups = [group for group in groups if group]
    if not groups:
        raise nothing_to_search("no word to look for")
    if not all(group.required for group in groups):
        raise nothing_to_search("an alternative with only excluded words")
    return groups


def _phrase(tokens: tuple[str, ...]) -> str:
    return '"' + " ".join(tokens) + '"'  # tokens hold letters and digits only: nothing to escape


def to_fts5(groups: list[Group]) -> str:
    """An FTS5 MATCH expression for parsed groups."""
    alternatives = []
    for group in groups:
        expression = " AND ".join(_phrase(term) for term in group.required)
        if group.excluded:
            excluded = " OR ".join(_phrase(term) for term in group.excluded)
            expression = f"({expression}) NOT ({excluded})"
        alternatives.append(f"({expression})")
    return " OR ".join(alternatives)


def fts5_query(query: str) -> str:
    """The user's query as a safe FTS5 expression; InvalidInput when nothing can be searched."""
    return to_fts5(parse_query(query))
