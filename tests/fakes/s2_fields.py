"""The `fields` parameter of the S2 Graph API: parsing, validation and rendering.

Rules (from the official spec):
- `paperId` is always returned; without `fields` only `paperId` and `title` are.
- `authors` gives `authorId` and `name`; `authors.url` etc. pick author subfields.
- `citations` / `references` give `paperId` and `title`; `references.year` etc. pick subfields
  (BasePaper fields only: no tldr, embedding or further nesting).
- Listings (`/citations`, `/references`): the edge fields `contexts`, `intents`,
  `contextsWithIntent`, `isInfluential` go on the row, every other name on the nested paper.
- Unknown names give 400 "Unrecognized or unsupported fields: [a, b]".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

BASE_PAPER_FIELDS = (
    "paperId", "corpusId", "externalIds", "url", "title", "abstract", "venue",
    "publicationVenue", "year", "referenceCount", "citationCount", "influentialCitationCount",
    "isOpenAccess", "openAccessPdf", "fieldsOfStudy", "s2FieldsOfStudy", "publicationTypes",
    "publicationDate", "journal", "citationStyles", "authors",
)  # fmt: skip
NESTED_LISTS = ("citations", "references")
FULL_PAPER_FIELDS = (*BASE_PAPER_FIELDS, *NESTED_LISTS, "embedding", "tldr")
AUTHOR_FIELDS = (
    "authorId", "externalIds", "url", "name", "affiliations", "homepage", "paperCount",
    "citationCount", "hIndex",
)  # fmt: skip
EDGE_FIELDS = ("contexts", "intents", "contextsWithIntent", "isInfluential")
EMBEDDING_MODELS = {"specter_v1": "specter@v0.1.1", "specter_v2": "specter_v2"}
EMBEDDING_SIZE = 768
DEFAULT_AUTHOR_FIELDS = ("authorId", "name")


class FieldError(ValueError):
    """Field names the API does not know; rendered as a 400."""

    def __init__(self, bad: list[str]) -> None:
        super().__init__(f"Unrecognized or unsupported fields: [{', '.join(bad)}]")


@dataclass
class PaperSelection:
    """Which parts of a paper to return."""

    fields: list[str] = field(default_factory=lambda: ["paperId"])
    author_fields: list[str] | None = None
    nested: dict[str, PaperSelection] = field(default_factory=dict)
    embedding_model: str | None = None

    def add(self, name: str) -> None:
        if name not in self.fields:
            self.fields.append(name)

    def add_author_fields(self, names: tuple[str, ...]) -> None:
        selected = self.author_fields if self.author_fields is not None else ["authorId"]
        self.author_fields = list(dict.fromkeys([*selected, *names]))


def split_fields(raw: str | None) -> list[str] | None:
    """Field names in `raw`, or None when the parameter is absent or blank."""
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return names or None


def parse_paper_fields(raw: str | None, *, nested: bool = True) -> PaperSelection:
    """Selection for a paper object; `nested=False` allows BasePaper fields only."""
    names = split_fields(raw) or ["title"]
    selection = PaperSelection()
    bad = [name for name in names if not _select(selection, name, nested=nested)]
    if bad:
        raise FieldError(bad)
    return selection


def parse_listing_fields(raw: str | None) -> tuple[list[str], PaperSelection]:
    """(edge fields for the row, selection for the nested citingPaper/citedPaper)."""
    names = split_fields(raw)
    if names is None:
        return [], parse_paper_fields(None, nested=False)
    edge = [name for name in dict.fromkeys(names) if name in EDGE_FIELDS]
    selection = PaperSelection()
    bad = [n for n in names if n not in EDGE_FIELDS and not _select(selection, n, nested=False)]
    if bad:
        raise FieldError(bad)
    return edge, selection


def _select(selection: PaperSelection, name: str, *, nested: bool) -> bool:
    """Add `name` to `selection`; False when the name is not accepted here."""
    head, _, sub = name.partition(".")
    allowed = FULL_PAPER_FIELDS if nested else BASE_PAPER_FIELDS
    if head not in allowed and head != "author":
        return False
    if head in ("authors", "author"):
        if sub and sub not in AUTHOR_FIELDS:
            return False
        selection.add_author_fields((sub,) if sub else DEFAULT_AUTHOR_FIELDS)
    elif head in NESTED_LISTS:
        inner = selection.nested.setdefault(head, PaperSelection())
        return _select(inner, sub or "title", nested=False)
    elif head == "embedding":
        model = EMBEDDING_MODELS.get(sub or "specter_v1")
        selection.embedding_model = model
        return model is not None
    elif sub:
        return False
    else:
        selection.add(head)
    return True


# -- rendering -----------------------------------------------------------------------------


def render_paper(
    paper: dict[str, Any],
    selection: PaperSelection,
    *,
    nested_papers: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The selected view of `paper`. `nested_papers` holds the citations/references lists
    (full paper dicts or unresolved stubs) when the selection asks for them."""
    out = {name: paper.get(name) for name in selection.fields}
    if selection.author_fields is not None:
        out["authors"] = [
            render_author(author, selection.author_fields) for author in paper.get("authors") or []
        ]
    for key, inner in selection.nested.items():
        papers = (nested_papers or {}).get(key, [])
        out[key] = [render_paper(p, inner) for p in papers]
    if selection.embedding_model is not None:
        out["embedding"] = embedding(str(paper.get("paperId")), selection.embedding_model)
    return out


def render_author(author: dict[str, Any], names: list[str]) -> dict[str, Any]:
    author_id = author.get("authorId")
    derived: dict[str, Any] = {
        "url": f"https://www.semanticscholar.org/author/{author_id}" if author_id else None,
        "externalIds": {},
        "affiliations": [],
    }
    return {name: author.get(name, derived.get(name)) for name in names}


def render_row(
    edge: dict[str, Any], edge_fields: list[str], paper_key: str, paper: dict[str, Any],
    selection: PaperSelection,
) -> dict[str, Any]:  # fmt: skip
    """One listing row: edge fields, then the other paper under `citingPaper`/`citedPaper`."""
    row = {name: edge[name] for name in edge_fields}
    row[paper_key] = render_paper(paper, selection)
    return row


def embedding(paper_id: str, model: str) -> dict[str, Any]:
    """A deterministic unit-scale vector standing in for a SPECTER embedding."""
    rng = random.Random(f"{model}:{paper_id}")
    return {"model": model, "vector": [round(rng.gauss(0, 1), 6) for _ in range(EMBEDDING_SIZE)]}
