"""The Markdown of the vault: paper notes, the index note and each seed's map note.

Renderers return the front matter (a dict of Obsidian properties) and the body above the
`%% refnet:end %%` line; `vault.compose_note` puts them together with what the user added.
Everything here is a pure function of its inputs, so an unchanged paper renders byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Any
from urllib.parse import quote

from refnet.db.base import as_utc
from refnet.db.models import InputKind
from refnet.db.queries.vault import LinkedPaper, NoteInputs, SummaryRow, newest_first
from refnet.generator.citekeys import ascii_fold
from refnet.generator.vault import INDEX_NAME, canvas_path, map_name

# The keys RefNet owns in a paper note's front matter, in the order it writes them.
NOTE_KEYS = (
    "title",
    "aliases",
    "authors",
    "year",
    "venue",
    "doi",
    "arxiv",
    "s2_id",
    "url",
    "citation_count",
    "reference_count",
    "fields_of_study",
    "tags",
    "summary_source",
    "summary_provider",
    "refnet_updated",
)
MAP_KEYS = ("tags", "seed")  # the keys RefNet owns in a seed's map note
S2_PAPER_URL = "https://www.semanticscholar.org/paper/"
UNTITLED = "Untitled"
_WORD_HASH = re.compile(r"(^|\s)#(?=\S)", re.MULTILINE)
_PERCENTS = re.compile("%+")
_SPECIAL = re.compile(r"[\[\]%#]")
_RUNS = re.compile(r"\[{2,}|\]{2,}|%{2,}")  # `[[`, `]]` and `%%` start links and comments
_NOT_TAG = re.compile(r"[^a-z0-9]+")
_URL_SAFE = "/:;.,-_~"  # a DOI keeps its slashes; spaces, brackets and the like are encoded


@dataclass(frozen=True, slots=True)
class RenderedNote:
    front_matter: dict[str, Any]
    body: str


def one_line(text: str | None) -> str | None:
    """Whitespace (newlines, tabs, U+2028) collapsed to single spaces; None when empty."""
    collapsed = " ".join((text or "").split())
    return collapsed or None


def escape_prose(text: str) -> str:
    """Text from the database shown as Markdown, unable to make links, tags or comments."""
    if not _SPECIAL.search(text):
        return text
    text = _RUNS.sub(lambda run: "".join("\\" + c for c in run.group()), text)
    return _WORD_HASH.sub(r"\1\\#", text)


def link_label(text: str) -> str:
    """Text safe after the `|` of a wikilink: no brackets, pipes or comment marks.

    `#` and `^` stay: they only mean heading or block before the `|`, and the target before it
    is always a citekey, which cannot contain them.
    """
    label = one_line(text) or UNTITLED
    label = label.replace("[", "(").replace("]", ")").replace("|", "¦").replace("`", "'")
    return _PERCENTS.sub("%", label).rstrip("\\") or UNTITLED


def paper_label(title: str | None, year: int | None) -> str:
    title = one_line(title) or UNTITLED
    return f"{title} ({year})" if year is not None else title


def wikilink(target: str, label: str) -> str:
    return f"[[{target}|{link_label(label)}]]"


def paper_url(s2_id: str) -> str:
    return S2_PAPER_URL + quote(s2_id, safe="")


def doi_url(doi: str) -> str:
    return "https://doi.org/" + quote(doi, safe=_URL_SAFE)


@lru_cache(maxsize=1 << 15)  # a paper is listed in the notes of all its neighbours
def reference_line(paper: LinkedPaper) -> str:
    """A link for a vault paper; plain text with a DOI or Semantic Scholar link otherwise."""
    label = paper_label(paper.title, paper.year)
    if paper.citekey:
        return f"- {wikilink(paper.citekey, label)}"
    link = f"[DOI]({doi_url(paper.doi)})" if paper.doi else f"[S2]({paper_url(paper.s2_id)})"
    return f"- {escape_prose(label)} · {link}"


def tag(text: str) -> str | None:
    """An Obsidian tag: `Computer Science` -> `computer-science` (never only digits)."""
    slug = _NOT_TAG.sub("-", ascii_fold(text).lower()).strip("-")
    if not slug:
        return None
    return f"field-{slug}" if slug.replace("-", "").isdigit() else slug


def summary_source(note: NoteInputs) -> str:
    """What the summary was made from: `pdf`, `abstract` or `tldr`; `none` without one."""
    if note.summary is None:
        return "none"
    return note.summary.input_kind or InputKind.ABSTRACT.value


def front_matter(note: NoteInputs) -> dict[str, Any]:
    paper = note.paper
    title = one_line(paper.title)
    fields = [f for f in (one_line(f) for f in paper.fields_of_study or []) if f]
    tags = ["paper", *(t for t in map(tag, fields) if t)]
    if note.is_seed:
        tags.append("seed")
    changed = max(
        map(as_utc, [paper.updated_at, *([note.summary.updated_at] if note.summary else [])])
    )
    values = {
        "title": title,
        "aliases": [title] if title else [],
        "authors": [a for a in map(one_line, note.authors) if a],
        "year": paper.year,
        "venue": one_line(paper.venue) or one_line(paper.journal),
        "doi": one_line(paper.doi),
        "arxiv": one_line(paper.arxiv_id),
        "s2_id": paper.s2_id,
        "url": one_line(paper.url) or paper_url(paper.s2_id),
        "citation_count": paper.citation_count,
        "reference_count": paper.reference_count,
        "fields_of_study": fields,
        "tags": list(dict.fromkeys(tags)),
        "summary_source": summary_source(note),
        "summary_provider": note.summary.provider if note.summary else None,
        "refnet_updated": changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {key: values[key] for key in NOTE_KEYS}


def _section(heading: str, content: str | None, empty: str) -> str:
    return f"## {heading}\n\n{content if content else f'_{empty}_'}\n"


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {escape_prose(one_line(item) or '')}" for item in items if one_line(item))


def _byline(note: NoteInputs) -> str:
    paper = note.paper
    parts = [", ".join(escape_prose(a) for a in note.authors)] if note.authors else []
    venue = one_line(paper.venue) or one_line(paper.journal)
    parts += [escape_prose(venue)] if venue else []
    parts += [str(paper.year)] if paper.year is not None else []
    links = [f"[DOI]({doi_url(paper.doi)})"] if paper.doi else []
    if paper.arxiv_id:
        links.append(f"[arXiv](https://arxiv.org/abs/{quote(paper.arxiv_id, safe='/.')})")
    links.append(f"[Semantic Scholar]({paper_url(paper.s2_id)})")
    return " · ".join([*parts, *links])


def render_note(note: NoteInputs) -> RenderedNote:
    """The note of one vault paper."""
    paper, summary = note.paper, note.summary
    tldr = (summary.tldr if summary else None) or paper.tldr
    abstract = (paper.abstract or "").strip()
    references, cited_by = note.references, note.cited_by  # sorted by the query
    keywords = [k for k in (one_line(k) for k in (summary.keywords if summary else [])) if k]
    sections = [
        f"# {escape_prose(one_line(paper.title) or UNTITLED)}\n\n{_byline(note)}\n",
        _section("TL;DR", escape_prose(tldr.strip()) if tldr else None, "No TL;DR yet."),
        _section("Summary", _summary_text(summary), "Not summarized yet."),
        _section("Key points", _bullets(summary.key_points if summary else []), "None yet."),
        _section("Keywords", escape_prose(", ".join(keywords)), "None yet."),
        _section("Abstract", escape_prose(abstract), "No abstract available."),
        _section("References", "\n".join(map(reference_line, references)), "None stored."),
        _section("Cited by", "\n".join(map(reference_line, cited_by)), "None stored."),
    ]
    return RenderedNote(front_matter(note), "\n".join(sections))


SUMMARY_INPUTS = {
    "pdf": "the open-access PDF",
    "abstract": "the abstract (no open-access PDF text was available)",
    "tldr": "Semantic Scholar's TL;DR (no PDF text or abstract was available)",
}


def _summary_text(summary: SummaryRow | None) -> str | None:
    """The summary, and what it was made from and by."""
    text = (summary.summary or "").strip() if summary else ""
    if summary is None or not text:
        return None
    made_from = SUMMARY_INPUTS.get(summary.input_kind or "", "the paper")
    source = f"*Summarized from {made_from} by {escape_prose(summary.provider)}.*"
    return f"{escape_prose(text)}\n\n{source}"


def _by_year(papers: list[LinkedPaper], level: str) -> str:
    blocks = []
    for year, group in groupby(sorted(papers, key=newest_first), key=lambda p: p.year):
        lines = "\n".join(reference_line(p) for p in group)
        blocks.append(f"{level} {year if year is not None else 'Undated'}\n\n{lines}\n")
    return "\n".join(blocks)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def render_index(*, papers: list[LinkedPaper], seeds: list[LinkedPaper]) -> RenderedNote:
    """The map of content: seeds with their maps, then every vault paper by year."""
    seed_lines = "\n".join(
        f"{reference_line(s)} · {wikilink(map_name(s.citekey), 'map')}"
        for s in sorted(seeds, key=newest_first)
        if s.citekey
    )
    body = "\n".join(
        [
            f"# {INDEX_NAME}\n\n{_count(len(papers), 'paper')}, {_count(len(seeds), 'seed')}.\n",
            _section("Seeds", seed_lines, "No seeds."),
            _section("Papers by year", _by_year(papers, "###").rstrip("\n"), "No papers yet."),
        ]
    )
    return RenderedNote({"tags": ["refnet-index"]}, body)


def render_map(note: NoteInputs) -> RenderedNote:
    """A seed's map note: its references and citing papers in the vault, by year."""
    key = note.paper.citekey
    label = paper_label(note.paper.title, note.paper.year)
    references = [p for p in note.references if p.citekey]
    cited_by = [p for p in note.cited_by if p.citekey]
    canvas = canvas_path(key).rsplit("/", 1)[-1]
    body = "\n".join(
        [
            f"# Map of {escape_prose(label)}\n",
            f"Seed: {wikilink(key, label)} · {wikilink(canvas, 'canvas')} · "
            f"{wikilink(INDEX_NAME, 'index')}\n",
            _section(
                f"References in the vault ({len(references)})",
                _by_year(references, "###").rstrip("\n"),
                "None.",
            ),
            _section(
                f"Cited by in the vault ({len(cited_by)})",
                _by_year(cited_by, "###").rstrip("\n"),
                "None.",
            ),
        ]
    )
    values = {"tags": ["refnet-map"], "seed": f"[[{key}]]"}
    return RenderedNote({name: values[name] for name in MAP_KEYS}, body)
