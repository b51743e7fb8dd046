"""A seed's neighbourhood as a JSON Canvas 1.0 file (https://jsoncanvas.org/spec/1.0/).

One column per publication year, oldest on the left (undated last), each column a labelled
group; the seed's card is coloured. References point left, citing papers sit to the right, and
an arrow runs from each citing paper to the paper it cites. Ids are hashes of paths and
positions follow from the sort order, so the same neighbourhood always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from refnet.db.queries.vault import LinkedPaper, NoteInputs
from refnet.generator.vault import note_path

CARD_WIDTH = 400
CARD_HEIGHT = 100
GAP_X = 120
GAP_Y = 40
PADDING = 40  # between a group's edge and its cards
HEADER = 60  # room for the group's label
SEED_COLOR = "1"  # red, one of the six preset colours


def _id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _column_key(year: int | None) -> tuple[int, int]:
    return (1, 0) if year is None else (0, year)


def render_canvas(note: NoteInputs) -> str:
    """The canvas of the seed whose inputs are `note`; only vault papers become cards."""
    p = note.paper
    seed = LinkedPaper(p.id, p.s2_id, p.title, p.year, p.citekey, p.doi, p.url)
    papers = {seed.paper_id: seed}
    for linked in [*note.references, *note.cited_by]:
        if linked.citekey:
            papers.setdefault(linked.paper_id, linked)
    columns: dict[tuple[int, int], list[LinkedPaper]] = {}
    for paper in papers.values():
        columns.setdefault(_column_key(paper.year), []).append(paper)

    groups: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    node_ids: dict[int, str] = {}
    for index, key in enumerate(sorted(columns)):
        members = sorted(
            columns[key],
            key=lambda p: (p.paper_id != seed.paper_id, (p.title or "").lower(), p.s2_id),
        )
        x = index * (CARD_WIDTH + 2 * PADDING + GAP_X)
        label = "Undated" if key[0] else str(key[1])
        groups.append(
            {
                "id": _id("group", str(seed.citekey), label),
                "type": "group",
                "x": x,
                "y": 0,
                "width": CARD_WIDTH + 2 * PADDING,
                "height": HEADER + PADDING + len(members) * (CARD_HEIGHT + GAP_Y),
                "label": label,
            }
        )
        for row, paper in enumerate(members):
            path = note_path(str(paper.citekey))
            node_ids[paper.paper_id] = node_id = _id("file", path)
            card: dict[str, Any] = {
                "id": node_id,
                "type": "file",
                "file": path,
                "x": x + PADDING,
                "y": HEADER + row * (CARD_HEIGHT + GAP_Y),
                "width": CARD_WIDTH,
                "height": CARD_HEIGHT,
            }
            if paper.paper_id == seed.paper_id:
                card["color"] = SEED_COLOR
            cards.append(card)

    pairs = {(seed.paper_id, p.paper_id) for p in note.references if p.paper_id in node_ids}
    pairs |= {(p.paper_id, seed.paper_id) for p in note.cited_by if p.paper_id in node_ids}
    edges = [
        {
            "id": _id("edge", node_ids[citing], node_ids[cited]),
            "fromNode": node_ids[citing],
            "toNode": node_ids[cited],
            "toEnd": "arrow",
        }
        for citing, cited in sorted(pairs, key=lambda e: (node_ids[e[0]], node_ids[e[1]]))
    ]
    # Groups first: a canvas draws its nodes in order, so cards sit on top of their group.
    return json.dumps({"nodes": groups + cards, "edges": edges}, indent="\t", ensure_ascii=False)
