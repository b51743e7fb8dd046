"""Small hand-made paper sets: snapshot lines whose open-access PDFs live on a fake host."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def s2_id(number: int) -> str:
    return f"{number:040x}"


def paper_json(
    number: int, *, references: Sequence[int] = (), pdf_url: str | None = None
) -> dict[str, Any]:
    """A paper object as /paper/batch returns it (references as {"paperId": …})."""
    return {
        "paperId": s2_id(number),
        "externalIds": {"DOI": f"10.5555/paper.{number}"},
        "title": f"Graph summaries, part {number}",
        "abstract": (
            f"Paper {number} studies how citation networks can be summarized. Our method "
            "ranks papers by centrality. Experiments on three corpora show large gains."
        ),
        "year": 2020 + number % 5,
        "citationCount": 10 * number,
        "openAccessPdf": {"url": pdf_url, "status": "GREEN"} if pdf_url else None,
        "authors": [{"authorId": None, "name": f"Ada Author{number}"}],
        "references": [{"paperId": s2_id(ref)} for ref in references],
    }


def write_papers(path: Path, papers: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(paper) + "\n" for paper in papers), encoding="utf-8")
    return path
