"""What is deleted from the database leaves the vault on the next incremental run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from refnet.db.models import Summary
from refnet.db.queries.citations import delete_citations
from refnet.db.queries.summaries import delete_summaries
from refnet.db.session import get_engine, session_scope
from refnet.generator import service, vault
from tests.integration.generator.factory import (
    MARKER,
    citekeys,
    links,
    make_paper,
    section,
    split,
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

MINE = "My own words.\n"


@pytest.fixture(autouse=True)
def _exact_change_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs see exactly what changed since the last, not everything of the last 30 seconds."""
    monkeypatch.setattr(service, "LATE_COMMIT_SLACK", timedelta(0))


def note_of(network: Network, vault_dir: Path, name: str) -> Path:
    return vault_dir / "papers" / f"{citekeys(network.url)[network.ids[name]]}.md"


def add_my_words(note: Path) -> None:
    with note.open("a", encoding="utf-8") as file:
        file.write(MINE)


def delete_paper(url: str, paper_id: int, *, with_edges: bool = True) -> None:
    """As an operator would in SQL: its edges (no foreign keys), then the paper."""
    with get_engine(url).begin() as connection:
        if with_edges:
            connection.execute(
                sa.text("DELETE FROM citations WHERE citing_id = :id OR cited_id = :id"),
                {"id": paper_id},
            )
        connection.execute(sa.text("DELETE FROM papers WHERE id = :id"), {"id": paper_id})


@pytest.mark.parametrize("citing, cited", [("rag", "dpr"), ("atlas", "rag")])
def test_a_deleted_edge_leaves_both_notes(
    network: Network, vault_dir: Path, citing: str, cited: str
) -> None:
    generate(network, vault_dir)
    add_my_words(note_of(network, vault_dir, "rag"))
    before = snapshot(vault_dir)
    with session_scope(network.url) as session:
        delete_citations(session=session, edges=[(network.ids[citing], network.ids[cited])])
    report = generate(network, vault_dir)

    rewritten = {p for p in changed(before, snapshot(vault_dir)) if p.startswith("papers/")}
    assert rewritten == note_paths(network, citing, cited)
    assert (report.notes_written, report.notes_unchanged) == (2, len(VAULT) - 2)
    assert report.notes_rendered < len(VAULT)  # the two papers and their neighbours
    keys = citekeys(network.url)
    _, citing_body = split(note_of(network, vault_dir, citing).read_text())
    _, cited_body = split(note_of(network, vault_dir, cited).read_text())
    assert keys[network.ids[cited]] not in links(section(citing_body, "References"))
    assert keys[network.ids[citing]] not in links(section(cited_body, "Cited by"))
    assert note_of(network, vault_dir, "rag").read_text().endswith(f"{MARKER}\n{MINE}")


def test_a_deleted_summary_leaves_its_note(network: Network, vault_dir: Path) -> None:
    generate(network, vault_dir)
    rag = note_of(network, vault_dir, "rag")
    add_my_words(rag)
    assert split(rag.read_text())[0]["summary_source"] == "abstract"
    before = snapshot(vault_dir)
    with session_scope(network.url) as session:
        ids = session.scalars(sa.select(Summary.id).where(Summary.paper_id == network.ids["rag"]))
        delete_summaries(session=session, summary_ids=list(ids))
    report = generate(network, vault_dir)

    rewritten = {p for p in changed(before, snapshot(vault_dir)) if p.startswith("papers/")}
    assert rewritten == note_paths(network, "rag")
    assert (report.notes_written, report.notes_unchanged) == (1, len(VAULT) - 1)
    text = rag.read_text()
    front, body = split(text)
    assert (front["summary_source"], front["summary_provider"]) == ("none", None)
    assert section(body, "TL;DR").strip() == "_No TL;DR yet._"
    assert section(body, "Summary").strip() == "_Not summarized yet._"
    assert section(body, "Key points").strip() == "_None yet._"
    assert "A longer summary." not in text and "First point" not in text
    assert text.endswith(f"{MARKER}\n{MINE}")


def test_a_deleted_papers_untouched_note_is_removed_and_unlinked(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    gone = note_of(network, vault_dir, "lewis2")
    key = gone.stem
    before = snapshot(vault_dir)
    delete_paper(network.url, network.ids["lewis2"])
    report = generate(network, vault_dir)

    assert not gone.exists()
    assert (report.files_removed, report.files_kept, report.notes_failed) == (1, 0, [])
    assert f"papers/{key}.md" not in vault_rows(network.url)
    rewritten = {p for p in changed(before, snapshot(vault_dir)) if p.startswith("papers/")}
    assert rewritten == note_paths(network, "rag")  # the note that linked to it
    for path in (vault_dir / "papers").glob("*.md"):
        assert f"[[{key}|" not in path.read_text(), path
    assert f"[[{key}|" not in (vault_dir / vault.INDEX_PATH).read_text()


def test_a_deleted_papers_note_with_the_users_words_is_kept_marked_and_let_go(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    kept = note_of(network, vault_dir, "atlas")
    add_my_words(kept)
    with session_scope(network.url) as session:
        s2_id = session.scalar(
            sa.text(f"SELECT s2_id FROM papers WHERE id = {network.ids['atlas']}")
        )
    delete_paper(network.url, network.ids["atlas"])
    report = generate(network, vault_dir)

    assert (report.files_removed, report.files_kept, report.notes_failed) == (0, 1, [])
    text = kept.read_text()
    front, body = split(text)
    assert front["s2_id"] == s2_id and front[vault.REMOVED_KEY]
    assert body.startswith("> [!warning] Removed from RefNet")
    assert text.endswith(f"{MARKER}\n{MINE}")
    assert f"papers/{kept.name}" not in vault_rows(network.url)  # no longer RefNet's to write
    for name in ("rag", "dpr"):
        assert f"[[{kept.stem}|" not in note_of(network, vault_dir, name).read_text()
    before = snapshot(vault_dir)
    again = generate(network, vault_dir)
    assert (again.notes_written, again.files_kept, again.notes_failed) == (0, 0, [])
    assert snapshot(vault_dir) == before

    make_paper(network.url, title="Atlas: Few-shot Learning", year=2022, s2_id=s2_id)
    back = generate(network, vault_dir)  # the paper is back: its note is RefNet's again
    assert back.notes_failed == []
    text = kept.read_text()
    front, body = split(text)
    assert vault.REMOVED_KEY not in front and "Removed from RefNet" not in body
    assert text.endswith(f"{MARKER}\n{MINE}")


def test_a_paper_deleted_without_its_edges_leaves_no_link_behind(
    network: Network, vault_dir: Path
) -> None:
    generate(network, vault_dir)
    key = note_of(network, vault_dir, "lewis2").stem
    delete_paper(network.url, network.ids["lewis2"], with_edges=False)
    report = generate(network, vault_dir)

    assert (report.files_removed, report.notes_written, report.notes_failed) == (1, 1, [])
    assert f"[[{key}|" not in note_of(network, vault_dir, "rag").read_text()
    assert generate(network, vault_dir, full=True).notes_written == 0
