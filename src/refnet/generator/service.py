"""Generate the vault: citekeys, then changed notes chunk by chunk, then the index and maps.

Change detection: `vault_files.updated_at` of a note records up to when its inputs were looked
at (the run's start, less `LATE_COMMIT_SLACK`). A note is rendered again when its paper row,
one of its summaries, one of its edges or one of its neighbours is newer than that
(`list_changed_note_ids`), when it was never written or failed, or when its file is gone. A
rendered note is written only if its bytes differ from the file's.

Deletions leave no newer row behind: whatever deletes an edge or a summary stamps the papers
concerned (`delete_citations`, `delete_summaries`). A deleted paper leaves its record without a
paper: its note is removed or marked (`retire`), and the notes it linked to are rendered again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from refnet.core.batching import chunks
from refnet.core.metrics import NOTES_WRITTEN
from refnet.db.base import utcnow
from refnet.db.models import VaultFileKind
from refnet.db.queries.vault import (
    LinkedPaper,
    VaultFileRow,
    delete_vault_files,
    list_changed_note_ids,
    list_citekey_candidates,
    list_citekeys,
    list_index_entries,
    list_note_inputs,
    list_s2_ids,
    list_seed_ids,
    list_vault_files,
    list_vault_papers,
    set_citekeys,
    set_notes_seen,
    upsert_vault_files,
)
from refnet.db.session import session_scope
from refnet.generator import retire, vault
from refnet.generator.adopt import orphaned_files
from refnet.generator.canvas import render_canvas
from refnet.generator.citekeys import family_name, make_citekey
from refnet.generator.render import RenderedNote, render_index, render_map, render_note

log = structlog.get_logger(__name__)

CHUNK = 1000
WRITERS = 8  # threads writing notes: fsync waits on the disk, several at once go faster
# A writer stamps `updated_at` before it commits; a change stamped up to this long before a
# run started may be invisible to it, so the run only claims to have seen inputs up to then.
# Looking again costs the next run a render, never a write.
LATE_COMMIT_SLACK = timedelta(seconds=30)
OTHER_KINDS = (VaultFileKind.INDEX.value, VaultFileKind.MAP.value, VaultFileKind.CANVAS.value)


@dataclass
class GenerateReport:
    notes_written: int = 0
    notes_unchanged: int = 0
    # (path, reason) of every file that could not be written: notes, and index/map/canvas.
    notes_failed: list[tuple[str, str]] = field(default_factory=list)
    other_files_written: int = 0
    seconds: float = 0.0
    notes_rendered: int = 0  # notes whose inputs changed (or all, with `full`)
    # Files of papers gone from the database (maps and canvases: no longer seeds), deleted as
    # RefNet wrote them, or kept because the user added to them (see refnet.generator.retire).
    files_removed: int = 0
    files_kept: int = 0


@dataclass
class _Run:
    url: str
    vault_dir: Path
    seen_until: datetime  # what a processed note's `updated_at` is set to
    report: GenerateReport
    rows: dict[str, VaultFileRow]  # what RefNet wrote before, by path
    known: dict[int, LinkedPaper] = field(default_factory=dict)  # neighbour rows read so far
    orphans: dict[str, str | None] = field(default_factory=dict)  # see refnet.generator.adopt
    notes_failed: int = 0  # of the notes of vault papers

    def owned(self, path: str) -> bool:
        row = self.rows.get(path)
        return (row is not None and row.written_at is not None) or path in self.orphans

    def record(
        self, path: str, kind: str, paper_id: int | None, result: vault.FileResult
    ) -> VaultFileRow:
        previous = self.rows.get(path)
        now = utcnow()
        if result.status == "failed":
            self.report.notes_failed.append((path, result.error or "unknown error"))
            log.warning("vault_file_failed", path=path, error=result.error)
            return VaultFileRow(
                path,
                kind,
                paper_id,
                previous.content_hash if previous else None,
                "failed",
                result.error,
                previous.written_at if previous else None,
                now,
            )
        written_at = previous.written_at if previous else None
        if result.status == "written" or (written_at is None and path in self.orphans):
            written_at = now  # written now, or RefNet's own file taken over unchanged
        return VaultFileRow(
            path,
            kind,
            paper_id,
            result.content_hash,
            "written",
            None,
            written_at,
            self.seen_until,
        )


def generate_vault(*, database_url: str, vault_dir: Path, full: bool = False) -> GenerateReport:
    """Write the notes whose inputs changed (all with `full`), the index, and each seed's map."""
    with vault.exclusive(Path(vault_dir)):
        return _generate(database_url=database_url, vault_dir=Path(vault_dir), full=full)


def _generate(*, database_url: str, vault_dir: Path, full: bool) -> GenerateReport:
    started = time.monotonic()
    vault_dir = Path(vault_dir)
    run = _Run(database_url, vault_dir, utcnow() - LATE_COMMIT_SLACK, GenerateReport(), {})
    if removed := vault.remove_stale_temp_files(vault_dir):
        log.info("vault_temp_files_removed", files=removed)
    with session_scope(database_url) as session:
        run.rows = list_vault_files(session=session, kinds=[VaultFileKind.NOTE.value])
        others = list_vault_files(session=session, kinds=OTHER_KINDS)
        run.orphans = orphaned_files(vault_dir, set(run.rows) | set(others))
        papers = list_vault_papers(session=session)
        seed_ids = list_seed_ids(session=session)
        linked = _retire(session, run, {pid for pid, _ in papers}, seed_ids, others)
        citekeys = _assign_citekeys(session, run, papers)
        changed = set() if full else list_changed_note_ids(session=session)
    changed.update(pid for pid, key in citekeys.items() if key in linked)
    todo = [pid for pid, key in citekeys.items() if full or pid in changed or _stale(run, pid, key)]
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="vault-writer") as writers:
        for part in chunks(sorted(todo), CHUNK):
            _write_notes(run, part, seed_ids, writers)
    with session_scope(database_url) as session:
        set_notes_seen(session=session, seen_until=run.seen_until)
    run.report.notes_rendered = len(todo)
    run.report.notes_unchanged = len(citekeys) - run.report.notes_written - run.notes_failed
    _write_overview(run, seed_ids)
    run.report.seconds = round(time.monotonic() - started, 3)
    log.info(
        "vault_generated",
        vault_dir=str(vault_dir),
        full=full,
        notes=len(citekeys),
        notes_rendered=run.report.notes_rendered,
        notes_written=run.report.notes_written,
        notes_unchanged=run.report.notes_unchanged,
        files_failed=len(run.report.notes_failed),
        other_files_written=run.report.other_files_written,
        files_removed=run.report.files_removed,
        files_kept=run.report.files_kept,
        seconds=run.report.seconds,
    )
    _count_notes(run)
    return run.report


def _count_notes(run: _Run) -> None:
    report = run.report
    NOTES_WRITTEN.labels("written").inc(report.notes_written)
    NOTES_WRITTEN.labels("failed").inc(run.notes_failed)
    NOTES_WRITTEN.labels("removed").inc(report.files_removed)
    rendered_same = report.notes_rendered - report.notes_written - run.notes_failed
    NOTES_WRITTEN.labels("unchanged").inc(max(0, rendered_same))


def _write_notes(
    run: _Run, paper_ids: list[int], seed_ids: set[int], writers: ThreadPoolExecutor
) -> None:
    """Render and merge one chunk of notes, then write the changed ones with the writer threads.

    The phases do not overlap on purpose: a writer thread returning from `fsync` would wait for
    the GIL behind the renderer, up to the 5 ms switch interval per system call.
    """
    with session_scope(run.url) as session:
        inputs = list_note_inputs(
            session=session, paper_ids=paper_ids, seed_ids=seed_ids, known=run.known
        )
    # (path, paper id, the merge to run again if the user saves the note before it is
    # written (kept only for a note to write), its result)
    merged: list[tuple[str, int, Callable[[], vault.FileResult] | None, vault.FileResult]] = []
    for note in inputs:
        path = vault.note_path(note.paper.citekey)
        merge = _merge_note(run, path, render_note(note))
        first = merge()
        merged.append((path, note.paper.id, merge if first.status == "changed" else None, first))
    del inputs
    written = writers.map(lambda item: vault.write_result(run.vault_dir / item[0], item[3]), merged)
    records = []
    for (path, paper_id, again, _), result in zip(merged, written, strict=True):
        if result.status == "edited" and again is not None:  # saved in Obsidian meanwhile
            attempts = vault.WRITE_ATTEMPTS - 1
            result = vault.write_merged(run.vault_dir / path, again, attempts=attempts)
        run.report.notes_written += result.status == "written"
        run.notes_failed += result.status == "failed"
        records.append(run.record(path, VaultFileKind.NOTE.value, paper_id, result))
    with session_scope(run.url) as session:
        upsert_vault_files(session=session, rows=records)


def _merge_note(run: _Run, path: str, rendered: RenderedNote) -> Callable[[], vault.FileResult]:
    """The merge of a rendered note with the file at `path`, to run again if the file changes."""
    return partial(
        vault.merge_note,
        run.vault_dir / path,
        rendered.front_matter,
        rendered.body,
        owned=run.owned(path),
    )


def _retire(
    session: Session,
    run: _Run,
    vault_ids: set[int],
    seed_ids: set[int],
    others: dict[str, VaultFileRow],
) -> set[str]:
    """Remove or mark the files of papers gone from the vault (maps and canvases: from the
    seeds), and forget them; returns the citekeys their notes linked to."""
    gone = [row for row in run.rows.values() if row.paper_id not in vault_ids]
    index = VaultFileKind.INDEX.value
    gone += [r for r in others.values() if r.kind != index and r.paper_id not in seed_ids]
    if not gone:
        return set()
    retired = retire.retire_files(run.vault_dir, gone, today=utcnow().date())
    delete_vault_files(session=session, paths=retired.forget)
    for path in retired.forget:
        run.rows.pop(path, None)
    run.report.files_removed += len(retired.removed)
    run.report.files_kept += len(retired.kept)
    run.report.notes_failed.extend(retired.failed)
    if retired.kept:  # released: RefNet's by its marks, to take over if the paper comes back
        recorded = set(run.rows) | (set(others) - set(retired.forget))
        run.orphans = orphaned_files(run.vault_dir, recorded)
    log.info("vault_files_retired", removed=len(retired.removed), kept=len(retired.kept))
    return retired.linked


def _stale(run: _Run, paper_id: int, citekey: str) -> bool:
    """Never written, failed last time, or its file is gone."""
    row = run.rows.get(vault.note_path(citekey))
    if row is None or row.status != "written" or row.paper_id != paper_id:
        return True
    return not (run.vault_dir / row.path).is_file()


def _assign_citekeys(
    session: Session, run: _Run, papers: list[tuple[int, str | None]]
) -> dict[int, str]:
    """Every vault paper's citekey, giving one to papers new to the vault.

    A paper whose note was never written, and whose path now holds a file RefNet did not
    write, gets another key: nothing links to the old one yet (its note does not exist).
    """
    new = [pid for pid, key in papers if key is None]
    new, keys_taken_over = _take_over_orphans(session, run, new)
    blocked = [
        pid
        for pid, key in papers
        if key is not None
        and not run.owned(vault.note_path(key))
        and (run.vault_dir / vault.note_path(key)).exists()
    ]
    keys = {pid: key for pid, key in papers if key is not None} | keys_taken_over
    if not new and not blocked:
        return keys
    taken = list_citekeys(session=session) | vault.note_stems(run.vault_dir)
    assigned: dict[int, str] = {}
    for candidate in list_citekey_candidates(session=session, paper_ids=new + blocked):
        key = make_citekey(
            first_author_family=family_name(candidate.first_author),
            year=candidate.year,
            title=candidate.title,
            taken=taken,
        )
        taken.add(key)
        assigned[candidate.paper_id] = key
    set_citekeys(session=session, citekeys={p: assigned[p] for p in new}, touch=False)
    set_citekeys(session=session, citekeys={p: assigned[p] for p in blocked}, touch=True)
    stale = [vault.note_path(keys[p]) for p in blocked]
    delete_vault_files(session=session, paths=stale)  # failed rows of keys given up
    for path in stale:
        run.rows.pop(path, None)
    if blocked:
        log.info("citekeys_reassigned", papers=len(blocked))
    return keys | assigned


def _take_over_orphans(
    session: Session, run: _Run, new: list[int]
) -> tuple[list[int], dict[int, str]]:
    """Give papers new to the database the note RefNet already wrote for them, if any."""
    notes = {s2: path for path, s2 in run.orphans.items() if s2 and path.endswith(".md")}
    if not new or not notes:
        return new, {}
    taken = {key.lower() for key in list_citekeys(session=session)}
    adopted: dict[int, str] = {}
    for paper_id, s2_id in list_s2_ids(session=session, paper_ids=new).items():
        path = notes.get(s2_id)
        key = Path(path).stem if path else None
        if key and key.lower() not in taken:
            adopted[paper_id] = key
            taken.add(key.lower())
    set_citekeys(session=session, citekeys=adopted, touch=True)
    if adopted:
        log.info("vault_notes_taken_over", notes=len(adopted))
    return [pid for pid in new if pid not in adopted], adopted


def _write_overview(run: _Run, seed_ids: set[int]) -> None:
    """The index note, and each seed's map note and canvas."""
    with session_scope(run.url) as session:
        run.rows.update(list_vault_files(session=session, kinds=OTHER_KINDS))
        entries = list_index_entries(session=session)
        seeds = list_note_inputs(session=session, paper_ids=sorted(seed_ids), seed_ids=seed_ids)

    index = render_index(papers=entries, seeds=[e for e in entries if e.paper_id in seed_ids])
    index_note = _merge_note(run, vault.INDEX_PATH, index)
    planned: list[tuple[str, str, int | None, Callable[[], vault.FileResult]]] = [
        (vault.INDEX_PATH, VaultFileKind.INDEX.value, None, index_note)
    ]
    for seed in seeds:
        key, seed_id = seed.paper.citekey, seed.paper.id
        map_path, canvas_path = vault.map_path(key), vault.canvas_path(key)
        map_note = _merge_note(run, map_path, render_map(seed))
        planned.append((map_path, VaultFileKind.MAP.value, seed_id, map_note))
        previous = run.rows.get(canvas_path)
        canvas = partial(
            vault.merge_file,
            run.vault_dir / canvas_path,
            render_canvas(seed).encode("utf-8"),
            owned=run.owned(canvas_path),
            last_hash=previous.content_hash if previous else None,
        )
        planned.append((canvas_path, VaultFileKind.CANVAS.value, seed_id, canvas))
    records = []
    for path, kind, paper_id, merge in planned:
        result = vault.write_merged(run.vault_dir / path, merge)
        run.report.other_files_written += result.status == "written"
        records.append(run.record(path, kind, paper_id, result))
    with session_scope(run.url) as session:
        upsert_vault_files(session=session, rows=records)
