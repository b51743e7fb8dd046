"""PDFs made by the tests: realistic papers, encrypted, scanned, corrupt and empty files.

    paper = make_paper_pdf(tmp_path / "paper.pdf", title="Graph Summaries", pages=6)
    paper.openers["Conclusion"]  # the first sentence written under that heading
    paper.hyphenated             # words the layout broke across a line end ("repre-" "sentation")

Papers are laid out line by line (Helvetica, A4) so the tests know what is on the page: a
title and authors, numbered section headings, paragraphs wrapped with hyphenation, a running
header on every page (may contain "{page}") and a page-number footer. A paragraph containing
"\\n" is laid out with exactly those line breaks. Generation is deterministic for a given seed.
"""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

LEFT, WIDTH = 20.0, 170.0  # mm
TOP, BOTTOM, LINE = 25.0, 272.0, 5.0
LINES_PER_PAGE = int((BOTTOM - TOP) / LINE)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
OPENERS = {
    "Abstract": "We present a compact method for summarizing citation networks.",
    "1 Introduction": "Research literature grows faster than any reader can follow.",
    "2 Method": "Our method combines retrieval with extractive sentence scoring.",
    "3 Results": "The evaluation covers three benchmark collections of papers.",
    "4 Conclusion": "We conclude that structure-aware summaries help researchers.",
}
REFERENCES = (
    "[1] A. Author and B. Writer. Graph summarization revisited. In Proc. of Tests, 2021.",
    "[2] C. Scholar. Citation networks at scale. Journal of Examples, 12(3):45-67, 2019.",
    "[3] D. Reader. Reading less and learning more. arXiv preprint 2001.00001, 2020.",
)
LONG_WORDS = [
    *("representation", "transformation", "generalization", "characteristics"),
    *("interpretability", "configuration", "approximately", "computational"),
    *("experimentally", "understanding", "performance", "information", "distribution"),
    *("architecture", "optimization", "evaluation", "significantly", "comprehensive"),
    *("structured", "bibliographic", "summarization", "retrieval"),
]
SHORT_WORDS = ["the", "of", "and", "with", "for", "a", "we", "our", "is", "are", "this", "that"]


@dataclass(frozen=True)
class PaperPdf:
    path: Path
    title: str
    pages: int
    headings: tuple[str, ...]
    openers: dict[str, str]  # heading -> first sentence of its first paragraph
    hyphenated: tuple[str, ...]  # whole words that the layout split at a line end
    running_header: str | None


def make_paper_pdf(
    path: Path,
    *,
    title: str = "Structure-Aware Summaries of Citation Networks",
    pages: int = 6,
    sections: Sequence[tuple[str, Sequence[str]]] | None = None,
    running_header: str | None = "Proceedings of Something 2024",
    footer: str | None = "{page}",
    hyphenate: bool = True,
    seed: int = 0,
) -> PaperPdf:
    """A paper of (at least) `pages` pages; default sections are filled with text to fit."""
    rng = random.Random(seed)
    pdf = _new_pdf()
    chosen = [(h, list(p)) for h, p in sections] if sections else _default_sections(rng)
    layout = _Layout(pdf, hyphenate=hyphenate)
    rows = [("title", title), ("authors", "Ada Lovelace, Alan Turing and Grace Hopper")]
    rows += layout.rows(chosen)
    while not sections and len(rows) <= (pages - 1) * LINES_PER_PAGE:  # fill up the body
        index = _insert_point(rows, "4 Conclusion")
        rows[index:index] = layout.rows([("", [_paragraph(rng, rng.randint(3, 5))])])
    page_count = _draw(pdf, rows, running_header, footer)
    pdf.output(str(path))
    return PaperPdf(
        path=path,
        title=title,
        pages=page_count,
        headings=tuple(h for h, _ in chosen),
        openers={h: ps[0].split(". ")[0].rstrip(".") + "." for h, ps in chosen if ps},
        hyphenated=tuple(layout.hyphenated),
        running_header=running_header,
    )


def make_encrypted_pdf(path: Path, *, password: str = "secret", **paper: Any) -> PaperPdf:
    """A paper (3 pages unless told) encrypted with RC4-128; `password=""` opens for anyone."""
    paper.setdefault("pages", 3)
    plain = make_paper_pdf(path.with_suffix(".plain.pdf"), **paper)
    writer = PdfWriter(clone_from=PdfReader(plain.path))
    writer.encrypt(user_password=password, owner_password="owner-password", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    plain.path.unlink()
    return replace(plain, path=path)


def make_scanned_pdf(path: Path, *, pages: int = 3) -> Path:
    """Pages that only carry an image and a drawn frame, as scanners produce: no text layer."""
    pdf = _new_pdf()
    image = Image.new("L", (120, 160), 235)
    draw = ImageDraw.Draw(image)
    for y in range(12, 150, 6):
        draw.line((10, y, 110, y), fill=40, width=2)  # "lines of text" as pixels
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(15, 15, 180, 267)
        pdf.image(image, x=20, y=20, w=170)
    pdf.output(str(path))
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """Starts like a PDF, then garbage."""
    garbage = random.Random(7).randbytes(4096)
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + garbage)
    return path


def make_empty_pdf(path: Path) -> Path:
    """A valid PDF with one blank page: nothing on it at all."""
    pdf = _new_pdf()
    pdf.add_page()
    pdf.output(str(path))
    return path


def make_unicode_pdf(path: Path, lines: Sequence[str], *, font: Path = DEJAVU) -> Path:
    """One page of `lines` in a Unicode TrueType font, e.g. with ligatures such as "\ufb01"."""
    pdf = _new_pdf()
    pdf.add_font("Unicode", fname=str(font))
    pdf.set_font("Unicode", size=11)
    pdf.add_page()
    for slot, line in enumerate(lines, start=1):
        pdf.text(LEFT, TOP + slot * LINE, line)
    pdf.output(str(path))
    return path


def make_operator_bomb_pdf(path: Path, *, pages: int = 2, operators: int = 3_000_000) -> Path:
    """A small file whose pages each draw millions of tiny text operators: a few hundred KB on
    disk that take pypdf hundreds of MB and seconds per page to read (a hostile PDF)."""
    content = b"BT /F1 1 Tf " + b"(a) Tj 0 0 Td " * operators + b"ET"
    return _write_raw_pdf(path, [zlib.compress(content, 9)] * pages)


def make_flate_bomb_pdf(path: Path, *, expanded: int = 1 << 30) -> Path:
    """A "zip bomb": one page whose compressed content stream, about a thousandth of its size
    on disk, inflates to `expanded` bytes."""
    packer = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    stream = packer.compress(b"BT /F1 12 Tf 72 720 Td (Inflated) Tj ET\n")
    stream += b"".join(packer.compress(chunk) for _ in range(expanded // len(chunk)))
    return _write_raw_pdf(path, [stream + packer.flush()])


def make_huge_page_pdf(path: Path) -> Path:
    """One page 200 km wide and high (the largest MediaBox and UserUnit PDF allows), with text."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (A page of absurd size) Tj ET", 9)
    return _write_raw_pdf(path, [content], media_box="0 0 14400 14400", user_unit=75000)


def _write_raw_pdf(
    path: Path, streams: Sequence[bytes], *, media_box: str = "0 0 612 792", user_unit: int = 1
) -> Path:
    """A PDF written object by object: one page per FlateDecode content stream, Helvetica."""
    pages = len(streams)
    kids = " ".join(f"{3 + 2 * n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    font = 3 + 2 * pages
    for n, stream in enumerate(streams):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [{media_box}] /UserUnit {user_unit} "
            f"/Contents {4 + 2 * n} 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = bytearray(b"%PDF-1.6\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        table,
    )
    path.write_bytes(bytes(out))
    return path


def pdf_bytes(*, title: str = "Served Paper") -> bytes:
    """A small one-page paper as bytes, for serving over HTTP."""
    buffer = io.BytesIO()
    pdf = _new_pdf()
    layout = _Layout(pdf, hyphenate=False)
    rows = [("title", title)]
    rows += layout.rows([("Abstract", [OPENERS["Abstract"]])])
    _draw(pdf, rows, None, "{page}")
    pdf.output(buffer)
    return buffer.getvalue()


# -- layout ---------------------------------------------------------------------------------


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.core_fonts_encoding = "windows-1252"  # Latin-1 plus dashes and quotes
    pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=UTC))  # same input, same bytes
    pdf.set_font("Helvetica", size=10)
    return pdf


def _default_sections(rng: random.Random) -> list[tuple[str, list[str]]]:
    sections = [(h, [f"{opener} {_paragraph(rng, 3)}"]) for h, opener in OPENERS.items()]
    return [*sections, ("References", list(REFERENCES))]


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _sentence(rng: random.Random) -> str:
    words = [
        rng.choice(LONG_WORDS) if rng.random() < 0.5 else rng.choice(SHORT_WORDS)
        for _ in range(rng.randint(8, 14))
    ]
    if rng.random() < 0.2:
        words.insert(rng.randrange(1, len(words)), "state-of-the-art")
    return " ".join(words).capitalize() + "."


def _insert_point(rows: list[tuple[str, str]], heading: str) -> int:
    for index, (kind, text) in enumerate(rows):
        if kind == "heading" and text == heading:
            return index - 1 if rows[index - 1][0] == "gap" else index
    return len(rows)


class _Layout:
    def __init__(self, pdf: FPDF, *, hyphenate: bool) -> None:
        self.pdf = pdf
        self.hyphenate = hyphenate
        self.hyphenated: list[str] = []

    def rows(self, sections: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for heading, paragraphs in sections:
            if heading:
                rows += [("gap", ""), ("heading", heading)]
            for paragraph in paragraphs:
                lines = paragraph.split("\n") if "\n" in paragraph else self.wrap(paragraph)
                rows += [("line", line) for line in lines]
        return rows

    def wrap(self, text: str) -> list[str]:
        lines: list[str] = []
        line = ""
        for word in text.split():
            candidate = f"{line} {word}".strip()
            if self._fits(candidate):
                line = candidate
                continue
            head, tail = self._split(line, word)
            lines.append(f"{line} {head}".strip() if head else line)
            line = tail
        return [*lines, line] if line else lines

    def _split(self, line: str, word: str) -> tuple[str, str]:
        core = word.rstrip(".,;:")
        if not (self.hyphenate and core.isalpha() and len(core) >= 8):
            return "", word
        for cut in range(len(core) - 3, 2, -1):
            if self._fits(f"{line} {word[:cut]}-".strip()):
                self.hyphenated.append(core.lower())
                return f"{word[:cut]}-", word[cut:]
        return "", word

    def _fits(self, text: str) -> bool:
        return self.pdf.get_string_width(text) <= WIDTH


def _draw(pdf: FPDF, rows: list[tuple[str, str]], header: str | None, footer: str | None) -> int:
    pages = [rows[i : i + LINES_PER_PAGE] for i in range(0, len(rows), LINES_PER_PAGE)]
    for number, page_rows in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.set_font("Helvetica", "I", 8)
            pdf.text(LEFT, 15, header.format(page=number, pages=len(pages)))
        for slot, (kind, text) in enumerate(page_rows):
            style, size = {"title": ("B", 16), "heading": ("B", 12)}.get(kind, ("", 10))
            pdf.set_font("Helvetica", style, size)
            pdf.text(LEFT, TOP + (slot + 1) * LINE, text)
        if footer:
            pdf.set_font("Helvetica", size=9)
            pdf.text(103, 287, footer.format(page=number, pages=len(pages)))
    pdf.set_font("Helvetica", size=10)
    return len(pages)
