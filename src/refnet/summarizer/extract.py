"""Text from PDFs with pypdf: cleaned, split into sections, prioritized for summarizers.

Cleaning, in order:
- NFKC normalization (ligatures such as "ﬁ" become "fi"), whitespace collapsed per line.
- Running headers/footers: with 3 or more pages, a line among the first or last three of a
  page whose text, digits ignored, recurs there on at least half of the pages is dropped.
  Lone page numbers ("7", "- 7 -", "Page 7 of 12") in those zones are dropped on any page.
- Lines are joined into paragraphs. A paragraph ends at a blank line, a heading, or a line
  ending a sentence that is clearly shorter than a full line.
- A word broken at a line end ("repre-" / "sentation") is joined without the hyphen when the
  next line starts lower-case, unless the hyphenated form occurs elsewhere in the document
  on one line ("self-attention") or either part already holds a hyphen ("state-of-" /
  "the-art"): then the hyphen stays. Before an upper-case letter or digit the hyphen stays too.

Sections start at short capitalized lines naming a known heading ("Abstract", "1 Introduction",
"I. INTRODUCTION", "5 Conclusions and Future Work", "References", ...), with optional arabic or
roman numbering; text before the first one is "front". Section names are canonical
("bibliography" is "references"). Unknown headings stay inside the current section.

Failures: every error pypdf raises on the file becomes an `ExtractionError` whose `kind` is
"corrupt", "encrypted" (no empty user password), "scanned" (pages with images but hardly any
text) or "empty" (no pages or no text). Errors opening the file itself (a missing path) are
OSErrors of the caller's making and are not wrapped. More than `max_pages` pages is no error:
only the first `max_pages` are read. Running out of memory is not a property of the file: it
propagates (the summarizer reads PDFs in a child process with a memory cap, see `isolation`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError
from pypdf.generic import DictionaryObject

from refnet.core.errors import PermanentError

PRIORITY = ("abstract", "introduction", "conclusion", "discussion")
EXCLUDED = frozenset({"references", "acknowledgments"})
_ZONE = 3  # lines at the top and bottom of a page where headers and footers live
_MIN_CHARS_PER_PAGE = 50  # below this, pages with images count as scanned
_HEADINGS = {  # canonical section name -> titles, lower case; plural words match too
    "abstract": "abstract",
    "introduction": "introduction",
    "background": "background|preliminaries",
    "related work": "related work|prior work|literature review",
    "methods": "method|methodology|approach|our approach|proposed method|material and method"
    "|method and material",
    "experiments": "experiment|experimental setup|experimental result|evaluation",
    "results": "result|result and discussion|finding",
    "discussion": "discussion",
    "limitations": "limitation",
    "conclusion": "conclusion|conclusion and future work|concluding remark|summary and conclusion"
    "|discussion and conclusion",
    "future work": "future work",
    "acknowledgments": "acknowledgment|acknowledgement",
    "references": "reference|bibliography|literature cited|works cited",
    "appendix": "appendix|appendices|supplementary material",
}
_CANONICAL = {title: name for name, titles in _HEADINGS.items() for title in titles.split("|")}
_HEADING = re.compile(  # optional "1", "2.1.", "IV." numbering, then a capitalized title
    r"^(?:\d{1,2}(?:\.\d{1,2})*\.?\s*|[IVX]{1,4}\.?\s+)?(?P<title>[A-Z][A-Za-z &]*?)\s*[.:]?$"
)
_DASH = "-\u2013\u2014"
_INLINE_ABSTRACT = re.compile(
    r"^(?:Abstract|ABSTRACT)(?:\s*[:\u2013\u2014]|\.|\s-)\s*(?P<rest>\S.*)$"
)
_PAGE_NUMBER = re.compile(
    rf"^(?:page\s+)?[{_DASH}]?\s*\d{{1,4}}\s*[{_DASH}]?(?:\s*(?:/|of)\s*\d{{1,4}})?$", re.I
)
_BROKEN_WORD = re.compile(r"([^\W\d_][\w-]*)-$")
_FIRST_WORD = re.compile(r"^[\w-]+")
_COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_PAINT_OPERATORS = frozenset(b"re f f* F S s B B* b b* Do BI sh".split())


class ExtractionError(PermanentError):
    """The PDF yields no usable text; `kind` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        # "corrupt" | "encrypted" | "scanned" | "empty"; read in a child process (`isolation`)
        # also "memory" | "timeout" | "crashed"
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ExtractedText:
    pages: int  # pages read (after the cap)
    total_pages: int
    sections: dict[str, str]  # canonical name -> paragraphs joined by blank lines, in order
    full_text: str

    def prioritized(self, max_chars: int) -> str:
        """Abstract, introduction, conclusion and discussion first, then the other sections in
        document order, never references or acknowledgments; each section after a "## Name"
        line (none for "front"), cut at `max_chars` on a paragraph or sentence boundary."""
        names = [name for name in PRIORITY if name in self.sections]
        names += [n for n in self.sections if n not in PRIORITY and n not in EXCLUDED]
        blocks: list[str] = []
        for name in names:
            blocks += [] if name == "front" else [f"## {name.capitalize()}"]
            blocks += self.sections[name].split("\n\n")
        return _cut(blocks, max_chars)


@dataclass
class _RawPdf:
    total_pages: int
    texts: list[str] = field(default_factory=list)
    graphics: bool = False  # some page without text draws images or shapes
    failed_pages: int = 0


def extract_text(path: Path, *, max_pages: int = 40) -> ExtractedText:
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    with path.open("rb") as handle:
        raw = _read(handle, path, max_pages)
    lines = [line for page in _strip_running_lines(raw.texts) for line in page]
    sections, full_text = _sections(lines)
    chars = len(full_text)
    if raw.total_pages == 0:
        raise ExtractionError("empty", f"{path.name}: the PDF has no pages")
    if raw.texts and raw.failed_pages == len(raw.texts):
        raise ExtractionError("corrupt", f"{path.name}: no page could be read")
    if raw.graphics and chars < _MIN_CHARS_PER_PAGE * len(raw.texts):
        raise ExtractionError("scanned", f"{path.name}: pages are images without a text layer")
    if not chars:
        raise ExtractionError("empty", f"{path.name}: the PDF contains no text")
    return ExtractedText(len(raw.texts), raw.total_pages, sections, full_text)


# -- reading (the pypdf boundary) ---------------------------------------------------------


def _read(handle: BinaryIO, path: Path, max_pages: int) -> _RawPdf:
    try:
        reader = PdfReader(handle)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ExtractionError("encrypted", f"{path.name}: the PDF needs a password")
        raw = _RawPdf(total_pages=len(reader.pages))
        for index in range(min(raw.total_pages, max_pages)):
            _read_page(reader.pages[index], raw)
        return raw
    except (ExtractionError, MemoryError, RecursionError):
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ExtractionError("encrypted", f"{path.name}: cannot decrypt the PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds of errors on malformed input
        message = f"{path.name}: unreadable PDF ({type(exc).__name__}: {exc})"
        raise ExtractionError("corrupt", message) from exc


def _read_page(page: PageObject, raw: _RawPdf) -> None:
    try:
        text = page.extract_text() or ""
        if not text.strip():
            raw.graphics = raw.graphics or _draws_something(page)
    except (FileNotDecryptedError, MemoryError, RecursionError):
        raise
    except Exception:  # one broken page should not cost the rest of the paper
        raw.failed_pages += 1
        text = ""
    raw.texts.append(text)


def _draws_something(page: PageObject) -> bool:
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    if isinstance(resources, DictionaryObject) and "/XObject" in resources:
        return True
    contents = page.get_contents()
    return contents is not None and bool(_PAINT_OPERATORS & set(contents.get_data().split()))


# -- cleaning -----------------------------------------------------------------------------


def _strip_running_lines(texts: list[str]) -> list[list[str]]:
    pages = [_page_lines(text) for text in texts]
    seen = Counter(sig for lines in pages for sig in {_signature(lines[i]) for i in _zone(lines)})
    repeated = {sig for sig, count in seen.items() if len(pages) >= 3 and 2 * count >= len(pages)}
    for lines in pages:
        for i in sorted(_zone(lines), reverse=True):
            if _signature(lines[i]) in repeated or _PAGE_NUMBER.match(lines[i]):
                del lines[i]
    return pages


def _page_lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).replace("\u2010", "-")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _zone(lines: list[str]) -> set[int]:
    filled = [i for i, line in enumerate(lines) if line]
    return set(filled[:_ZONE] + filled[-_ZONE:])


def _signature(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _sections(lines: list[str]) -> tuple[dict[str, str], str]:
    """Split cleaned lines into sections of paragraphs; also the full text."""
    builder = _SectionBuilder(
        full_length=_full_line_length(lines),
        compounds={m.lower() for line in lines for m in _COMPOUND.findall(line.rstrip("-"))},
    )
    for line in lines:
        builder.add(line)
    builder.flush()
    sections = {name: "\n\n".join(texts) for name, texts in builder.sections.items()}
    return sections, "\n\n".join(builder.paragraphs)


@dataclass
class _SectionBuilder:
    full_length: int
    compounds: set[str]
    name: str = "front"
    pending: list[str] = field(default_factory=list)  # lines of the paragraph being read
    sections: dict[str, list[str]] = field(default_factory=dict)
    paragraphs: list[str] = field(default_factory=list)  # headings included

    def add(self, line: str) -> None:
        heading = _heading(line)
        if heading is not None:
            self.flush()
            self.name, rest = heading
            self.paragraphs.append(line if rest is None else line[: -len(rest)].strip())
            self.pending.extend([rest] if rest else [])
        elif not line or (self.pending and _ends_paragraph(self.pending[-1], self.full_length)):
            self.flush()
            self.pending.extend([line] if line else [])
        else:
            self.pending.append(line)

    def flush(self) -> None:
        if self.pending:
            text = _join_lines(self.pending, self.compounds)
            self.sections.setdefault(self.name, []).append(text)
            self.paragraphs.append(text)
            self.pending.clear()


def _heading(line: str) -> tuple[str, str | None] | None:
    """(canonical section name, text after an inline "Abstract—") if `line` is a heading."""
    inline = _INLINE_ABSTRACT.match(line)
    if inline:
        return "abstract", inline.group("rest")
    match = _HEADING.match(line) if len(line) <= 60 else None
    if match is None:
        return None
    words = match.group("title").lower().replace("&", "and").split()
    name = _CANONICAL.get(" ".join(words)) or _CANONICAL.get(
        " ".join(word.removesuffix("s") for word in words)
    )
    return None if name is None else (name, None)


def _full_line_length(lines: list[str]) -> int:
    lengths = sorted(len(line) for line in lines if line)
    return lengths[int(0.8 * (len(lengths) - 1))] if lengths else 0


def _ends_paragraph(line: str, full_length: int) -> bool:
    return bool(_SENTENCE_END.search(line[-3:])) and len(line) < 0.85 * full_length


def _join_lines(lines: list[str], compounds: set[str]) -> str:
    pieces = [lines[0]]
    for previous, line in itertools.pairwise(lines):
        if _drops_hyphen(previous, line, compounds):
            pieces[-1] = pieces[-1][:-1]
            pieces.append(line)
        else:
            pieces.append(line if _BROKEN_WORD.search(previous) else f" {line}")
    return "".join(pieces).replace("\u00ad", "")


def _drops_hyphen(previous: str, line: str, compounds: set[str]) -> bool:
    """Whether `previous` ends in a hyphen that only broke a word (rule in the docstring)."""
    if previous.endswith("\u00ad"):  # a soft hyphen always does
        return True
    broken = _BROKEN_WORD.search(previous)
    if broken is None or not line[:1].islower():
        return False
    before = broken.group(1)
    after = match.group(0) if (match := _FIRST_WORD.match(line)) else ""
    return "-" not in before + after and f"{before}-{after}".lower() not in compounds


# -- prioritizing ---------------------------------------------------------------------------


def _cut(blocks: list[str], max_chars: int) -> str:
    """Whole blocks while they fit, then the whole sentences of the next one that fit."""
    kept: list[str] = []
    used = -2  # no separator before the first block
    for block in blocks:
        room = max_chars - used - 2
        if len(block) <= room:
            kept.append(block)
            used += 2 + len(block)
            continue
        ends = [m.end() for m in _SENTENCE_END.finditer(block) if m.end() <= room]
        if ends:
            kept.append(block[: ends[-1]])
        elif room > 0 and all(b.startswith("## ") for b in kept):  # nothing useful kept yet
            kept.append(block[:room].rsplit(" ", 1)[0])
        break
    while kept and kept[-1].startswith("## "):
        kept.pop()
    return "\n\n".join(kept)
