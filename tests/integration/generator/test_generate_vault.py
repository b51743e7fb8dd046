"""The whole vault, generated from SQLite and PostgreSQL and read back as Obsidian would."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.db.queries import vault as vault_queries
from refnet.db.session import get_engine
from refnet.generator import service
from refnet.generator.render import NOTE_KEYS
from tests.integration.generator.factory import (
    MARKER,
    citekeys,
    files,
    links,
    make_edges,
    make_seeds,
    make_summary,
    resolve,
    section,
    split,
    update_paper,
    vault_rows,
)
from tests.integration.generator.sample import (
    VAULT,
    Network,
    changed,
    generate,
    note_paths,
    snapshot,
)


def test_vault_reads_back_with_links_that_match_the_stored_edges(
    network: Network, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CHUNK", 3)  # several chunks, and a cache that overflows
    monkeypatch.setattr(vault_queries, "KNOWN_LIMIT", 4)
    report = generate(network, vault_dir)
    assert (report.notes_written, report.notes_failed) == (len(VAULT), [])
    keys = {name: citekeys(network.url)[pid] for name, pid in network.ids.items() if name in VAULT}
    assert keys["rag"] == "lewis2020retrieval"
    assert keys["lewis2"] == "lewis2020retrieval-2"
    assert keys["tricky"] == "jegou2021colon"
    assert keys["undated"] == "nietzscheuntimely"
    assert set(citekeys(network.url)) == {network.ids[name] for name in VAULT}  # no stub keys

    vault_files = files(vault_dir)
    assert {p for p in vault_files if p.startswith("papers/")} == {
        f"papers/{k}.md" for k in keys.values()
    }
    name_of = {key: name for name, key in keys.items()}
    for name, key in keys.items():
        front, body = split(vault_files[f"papers/{key}.md"].read_text())
        assert list(front) == list(NOTE_KEYS)
        references = {name_of[k] for k in links(section(body, "References"))}
        cited_by = {name_of[k] for k in links(section(body, "Cited by"))}
        assert references == {b for a, b in network.edges if a == name and b in VAULT}
        assert cited_by == {a for a, b in network.edges if b == name and a in VAULT}
        assert ("seed" in front["tags"]) == (name in ("rag", "dpr"))

    rag_front, rag_body = split(vault_files["papers/lewis2020retrieval.md"].read_text())
    assert (rag_front["summary_source"], rag_front["summary_provider"]) == ("abstract", "anthropic")
    assert "- A Stub Known By Reference (2015) · [DOI](https://doi.org/10.1/stub)" in rag_body
    assert "- Untitled · [S2](https://www.semanticscholar.org/paper/" in section(
        rag_body, "Cited by"
    )
    tricky_front, _ = split(vault_files["papers/jegou2021colon.md"].read_text())
    assert tricky_front["title"] == 'Colon: "Quotes" | Pipes [[and]] #Tags %% yes'
    assert tricky_front["tags"] == ["paper", "computer-science", "economie"]

    for path, file in vault_files.items():  # no dangling wikilinks anywhere
        if path.endswith(".md"):
            front, body = split(file.read_text())
            for target in links(body) + links(str(front.get("seed", ""))):
                assert resolve(vault_dir, target) is not None, (path, target)
    index = vault_files["RefNet Index.md"].read_text()
    assert set(keys.values()) <= set(links(index))
    for seed in ("rag", "dpr"):
        assert f"maps/{keys[seed]} map.md" in vault_files
        canvas = json.loads(vault_files[f"maps/{keys[seed]}.canvas"].read_text())
        cards = [n["file"] for n in canvas["nodes"] if n["type"] == "file"]
        assert all(card in vault_files for card in cards)
        assert len(cards) == 1 + len(network.neighbours(seed) & set(VAULT))


def test_users_edits_survive_two_regenerations(network: Network, vault_dir: Path) -> None:
    generate(network, vault_dir)
    path = vault_dir / "papers" / "lewis2020retrieval.md"
    text = path.read_bytes().decode()
    text = text.replace("title: Retrieval", "rating: 5\ntitle: Hacked Retrieval", 1)
    text = text.replace("\n---\n", "\nstatus: reading  # my own\n---\n", 1)
    mine = "My thoughts on [[karpukhin2020dense]].\r\n\n---\nmore: not front matter\n"
    path.write_bytes((text + mine).encode())

    update_paper(network.url, network.ids["rag"], title="RAG, Second Edition")
    generate(network, vault_dir)
    update_paper(network.url, network.ids["rag"], title="RAG, Third Edition")
    generate(network, vault_dir, full=True)

    final = path.read_bytes().decode()
    front, _ = split(final)
    assert list(front) == [*NOTE_KEYS, "rating", "status"]
    assert (front["title"], front["rating"], front["status"]) == (
        "RAG, Third Edition",
        5,
        "reading",
    )
    assert "status: reading  # my own\n" in final
    assert final.endswith(f"{MARKER}\n{mine}")


def test_a_foreign_file_at_a_notes_path_is_left_alone(network: Network, vault_dir: Path) -> None:
    (vault_dir / "papers").mkdir(parents=True)
    mine = vault_dir / "papers" / "lewis2020retrieval.md"
    mine.write_text("my own note about RAG\n")
    elsewhere = vault_dir / "reading" / "Karpukhin2020Dense.md"  # another folder, other case
    elsewhere.parent.mkdir()
    elsewhere.write_text("Obsidian resolves [[karpukhin2020dense]] by name, anywhere\n")

    report = generate(network, vault_dir)
    assert report.notes_failed == []
    assert mine.read_text() == "my own note about RAG\n"
    assert elsewhere.read_text().startswith("Obsidian resolves")
    keys = citekeys(network.url)
    assert keys[network.ids["rag"]] == "lewis2020retrieval-2"
    assert keys[network.ids["lewis2"]] == "lewis2020retrieval-3"
    assert keys[network.ids["dpr"]] == "karpukhin2020dense-2"
    assert "papers/lewis2020retrieval.md" not in set(vault_rows(network.url))


def test_unchanged_notes_are_not_rewritten(network: Network, vault_dir: Path) -> None:
    generate(network, vault_dir)
    before = snapshot(vault_dir)
    again = generate(network, vault_dir)
    full = generate(network, vault_dir, full=True)
    assert (again.notes_written, again.other_files_written) == (0, 0)
    assert (full.notes_written, full.other_files_written, full.notes_rendered) == (0, 0, len(VAULT))
    assert full.notes_unchanged == len(VAULT)
    assert snapshot(vault_dir) == before


def test_a_title_change_rewrites_that_note_and_its_neighbours_only(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    before = snapshot(vault_dir)
    update_paper(network.url, network.ids["bert"], title="BERT, Renamed")
    report = generate(network, vault_dir)

    rewritten = changed(before, snapshot(vault_dir))
    expected = note_paths(network, "bert", *(network.neighbours("bert") & set(VAULT)))
    assert {p for p in rewritten if p.startswith("papers/")} == expected
    assert report.notes_written == len(expected) == 4
    assert "RefNet Index.md" in rewritten
    assert rewritten - expected <= {
        "RefNet Index.md",
        *(p for p in before if p.startswith("maps/")),
    }
    assert "BERT, Renamed (2019)" in (vault_dir / "papers" / "lewis2020retrieval.md").read_text()


def test_citekeys_never_change_with_the_metadata(network: Network, vault_dir: Path) -> None:
    generate(network, vault_dir)
    keys = citekeys(network.url)
    update_paper(network.url, network.ids["rag"], title="Something Else", year=1999)
    generate(network, vault_dir, full=True)
    assert citekeys(network.url) == keys
    front, _ = split((vault_dir / "papers" / "lewis2020retrieval.md").read_text())
    assert (front["title"], front["year"]) == ("Something Else", 1999)


def test_new_inputs_rewrite_the_notes_they_touch(network: Network, vault_dir: Path) -> None:
    generate(network, vault_dir)
    before = snapshot(vault_dir)
    make_summary(network.url, network.ids["bert"], provider="openai", model="other")
    make_edges(network.url, [(network.ids["undated"], network.ids["lewis2"])])
    update_paper(network.url, network.ids["stub_doi"], crawl_state="collected")
    (vault_dir / "papers" / "izacard2022atlas.md").unlink()
    report = generate(network, vault_dir)

    expected = note_paths(network, "bert", "undated", "lewis2", "stub_doi", "rag", "atlas")
    assert {p for p in changed(before, snapshot(vault_dir)) if p.startswith("papers/")} == expected
    assert report.notes_written == len(expected)
    bert_front, _ = split((vault_dir / "papers" / "devlin2019bert.md").read_text())
    assert (bert_front["summary_source"], bert_front["summary_provider"]) == ("abstract", "openai")
    rag = (vault_dir / "papers" / "lewis2020retrieval.md").read_text()
    assert "[[smith2015stub|A Stub Known By Reference (2015)]]" in rag


def test_failed_writes_are_recorded_and_retried(
    network: Network, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = service.vault.os.replace
    failing = {"karpukhin2020dense.md": 28, "devlin2019bert.md": 30}  # ENOSPC, EROFS

    def replace(source: str, target: str) -> None:
        code = failing.get(Path(target).name)
        if code:
            raise OSError(code, "injected")
        real_replace(source, target)

    monkeypatch.setattr(service.vault.os, "replace", replace)
    report = generate(network, vault_dir)
    monkeypatch.undo()

    assert dict(report.notes_failed) == {
        "papers/karpukhin2020dense.md": "ENOSPC: injected",
        "papers/devlin2019bert.md": "EROFS: injected",
    }
    assert report.notes_written == len(VAULT) - 2
    rows = vault_rows(network.url)
    assert rows["papers/karpukhin2020dense.md"] == ("failed", "ENOSPC: injected")
    assert not [p for p in files(vault_dir) if ".refnet-" in p]
    assert not (vault_dir / "papers" / "devlin2019bert.md").exists()

    before = snapshot(vault_dir)
    rerun = generate(network, vault_dir)
    assert (rerun.notes_written, rerun.notes_failed) == (2, [])
    assert {p for p in changed(before, snapshot(vault_dir)) if p.startswith("papers/")} == {
        "papers/karpukhin2020dense.md",
        "papers/devlin2019bert.md",
    }
    assert vault_rows(network.url)["papers/devlin2019bert.md"] == ("written", None)


def test_a_directory_in_place_of_a_note_fails_only_that_note(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    note = vault_dir / "papers" / "vaswani2017attention.md"
    note.unlink()
    note.mkdir()
    update_paper(network.url, network.ids["bert"], title="BERT, Renamed")
    report = generate(network, vault_dir)
    assert [path for path, _ in report.notes_failed] == ["papers/vaswani2017attention.md"]
    assert report.notes_failed[0][1].startswith("EISDIR")
    assert report.notes_written == 3  # bert, and its other neighbours get the new title


def test_a_foreign_file_at_a_never_written_notes_path_moves_the_note(
    network: Network, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = service.vault.os.replace

    def replace(source: str, target: str) -> None:
        if Path(target).name == "vaswani2017attention.md":
            raise OSError(28, "injected")
        real_replace(source, target)

    monkeypatch.setattr(service, "LATE_COMMIT_SLACK", timedelta(0))
    with monkeypatch.context() as patch:
        patch.setattr(service.vault.os, "replace", replace)
        generate(network, vault_dir)
    foreign = vault_dir / "papers" / "vaswani2017attention.md"
    foreign.write_text("the user's own file\n")

    report = generate(network, vault_dir)
    assert report.notes_failed == []
    assert report.notes_rendered == 4  # attention and its neighbours, which link to it
    assert foreign.read_text() == "the user's own file\n"
    assert citekeys(network.url)[network.ids["attention"]] == "vaswani2017attention-2"
    assert "papers/vaswani2017attention.md" not in set(vault_rows(network.url))
    for path, file in files(vault_dir).items():
        if path.endswith(".md") and path != "papers/vaswani2017attention.md":
            assert "[[vaswani2017attention|" not in file.read_text(), path


def test_change_detection_renders_only_notes_whose_inputs_changed(
    network: Network, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "LATE_COMMIT_SLACK", timedelta(0))  # see exactly, not safely
    ids = network.ids

    def rendered_after(change: Callable[[], object]) -> tuple[int, int]:
        change()
        report = generate(network, vault_dir)
        return report.notes_rendered, report.notes_written

    assert rendered_after(lambda: None) == (len(VAULT), len(VAULT))
    assert rendered_after(lambda: None) == (0, 0)
    title = partial(update_paper, network.url, ids["bert"], title="BERT, Renamed")
    assert rendered_after(title) == (4, 4)  # bert, rag, dpr, attention
    assert rendered_after(partial(make_summary, network.url, ids["undated"])) == (1, 1)
    edge = partial(make_edges, network.url, [(ids["atlas"], ids["bert"])])
    assert rendered_after(edge) == (2, 2)
    assert rendered_after(partial(make_seeds, network.url, [ids["undated"]])) == (1, 1)
    assert "seed" in split((vault_dir / "papers/nietzscheuntimely.md").read_text())[0]["tags"]
    collected = partial(update_paper, network.url, ids["stub_doi"], crawl_state="collected")
    assert rendered_after(collected) == (2, 2)  # the new note, and rag now links to it
    assert rendered_after((vault_dir / "papers/izacard2022atlas.md").unlink) == (1, 1)
    assert rendered_after(lambda: None) == (0, 0)


def test_generations_at_the_same_time_take_turns(network: Network, vault_dir: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: generate(network, vault_dir), range(4)))

    assert sum(report.notes_written for report in reports) == len(VAULT)
    assert len(list((vault_dir / "papers").glob("*.md"))) == len(VAULT)  # no duplicate notes
    assert all(not report.notes_failed for report in reports)


def test_a_new_database_takes_over_the_vault_refnet_wrote(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    files = sorted(p.relative_to(vault_dir) for p in vault_dir.rglob("*") if p.is_file())
    note = next((vault_dir / "papers").glob("*.md"))
    note.write_text(note.read_text() + "\nStill mine.\n")
    with get_engine(network.url).begin() as connection:  # what a new database knows
        connection.execute(sa.text("DELETE FROM vault_files"))
        connection.execute(sa.text("UPDATE papers SET citekey = NULL"))

    report = generate(network, vault_dir)

    assert report.notes_failed == []
    assert sorted(p.relative_to(vault_dir) for p in vault_dir.rglob("*") if p.is_file()) == files
    assert note.read_text().endswith("\nStill mine.\n")
    assert generate(network, vault_dir).notes_failed == []
