"""A seed's canvas: valid JSON Canvas 1.0, laid out by year, the same bytes every time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from refnet.db.queries.vault import LinkedPaper, NoteInputs, PaperRow
from refnet.generator.canvas import SEED_COLOR, render_canvas

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def seed_inputs(references: list[LinkedPaper], cited_by: list[LinkedPaper]) -> NoteInputs:
    paper = PaperRow(
        id=1,
        s2_id="s" * 40,
        citekey="seed2020",
        title="The Seed",
        abstract=None,
        tldr=None,
        year=2020,
        venue=None,
        journal=None,
        doi=None,
        arxiv_id=None,
        url=None,
        citation_count=None,
        reference_count=None,
        fields_of_study=[],
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return NoteInputs(paper=paper, references=references, cited_by=cited_by)


def linked(pid: int, year: int | None, citekey: str | None) -> LinkedPaper:
    return LinkedPaper(pid, f"{pid:040x}", f"Paper {pid}", year, citekey, None, None)


REFERENCES = [linked(2, 2018, "ref2018"), linked(3, 2018, "other2018"), linked(4, None, "undated")]
CITED_BY = [linked(5, 2022, "citer2022"), linked(6, 2021, None)]  # 6 is a stub


def test_canvas_is_valid_json_canvas() -> None:
    canvas = json.loads(render_canvas(seed_inputs(REFERENCES, CITED_BY)))
    assert set(canvas) == {"nodes", "edges"}
    ids = [node["id"] for node in canvas["nodes"]]
    assert len(ids) == len(set(ids)) and all(HEX16.match(i) for i in ids)
    for node in canvas["nodes"]:
        assert {"id", "type", "x", "y", "width", "height"} <= set(node)
        assert all(isinstance(node[k], int) for k in ("x", "y", "width", "height"))
        assert node["type"] in {"file", "group"}
    for edge in canvas["edges"]:
        assert edge["fromNode"] in ids and edge["toNode"] in ids
        assert HEX16.match(edge["id"])


def test_only_vault_papers_become_cards_and_the_seed_is_coloured() -> None:
    canvas = json.loads(render_canvas(seed_inputs(REFERENCES, CITED_BY)))
    cards = {n["file"]: n for n in canvas["nodes"] if n["type"] == "file"}
    assert set(cards) == {
        "papers/seed2020.md",
        "papers/ref2018.md",
        "papers/other2018.md",
        "papers/undated.md",
        "papers/citer2022.md",
    }
    assert cards["papers/seed2020.md"]["color"] == SEED_COLOR
    assert all("color" not in c for f, c in cards.items() if f != "papers/seed2020.md")


def test_columns_go_by_year_with_undated_last() -> None:
    canvas = json.loads(render_canvas(seed_inputs(REFERENCES, CITED_BY)))
    groups = sorted((n for n in canvas["nodes"] if n["type"] == "group"), key=lambda n: n["x"])
    assert [g["label"] for g in groups] == ["2018", "2020", "2022", "Undated"]
    cards = {n["file"]: n for n in canvas["nodes"] if n["type"] == "file"}
    assert cards["papers/ref2018.md"]["x"] == cards["papers/other2018.md"]["x"]
    assert cards["papers/ref2018.md"]["y"] != cards["papers/other2018.md"]["y"]
    for card in cards.values():  # each card sits inside its year's group
        group = next(g for g in groups if g["x"] <= card["x"] < g["x"] + g["width"])
        assert (
            group["y"] <= card["y"] and card["y"] + card["height"] <= group["y"] + group["height"]
        )


def test_edges_run_from_citing_to_cited() -> None:
    canvas = json.loads(render_canvas(seed_inputs(REFERENCES, CITED_BY)))
    by_id = {n["id"]: n.get("file") for n in canvas["nodes"]}
    edges = {(by_id[e["fromNode"]], by_id[e["toNode"]]) for e in canvas["edges"]}
    assert edges == {
        ("papers/seed2020.md", "papers/ref2018.md"),
        ("papers/seed2020.md", "papers/other2018.md"),
        ("papers/seed2020.md", "papers/undated.md"),
        ("papers/citer2022.md", "papers/seed2020.md"),
    }


def test_the_same_neighbourhood_gives_the_same_bytes_in_any_order() -> None:
    first = render_canvas(seed_inputs(REFERENCES, CITED_BY))
    again = render_canvas(seed_inputs(list(reversed(REFERENCES)), list(reversed(CITED_BY))))
    assert first == again
