"""Backups: create, verify and restore a 10,000-paper network and its vault, against bare tools.

Inserts the synthetic crawl of `benchmarks.vault_generation` (10,000 collected papers, 2,000
stubs, about 150,000 edges, a summary for every collected paper) into a fresh SQLite file, and
into PostgreSQL too when `--database-url` is given (that database is dropped and re-created).
Then, per database, each phase in a fresh process (so `peak_rss_mb` is that phase's own):

- `create`: `create_backup(kind="database")`; the baseline is the bare tool alone on the same
  database (`pg_dump --format=custom` into a file; SQLite: `sqlite3.Connection.backup`), so
  `overhead_ratio` is the cost of RefNet's snapshot-consistent row counts and checksums, the
  sha256 of the file and the metadata. On PostgreSQL `checksums_alone_s` times the counts and
  checksums by themselves (in a backup they run beside pg_dump);
- `verify`: `verify_backup` (sha256, restore into a scratch database or file, compare every
  table); the baseline is bare `pg_restore` of the same file into a new empty database
  (created and dropped in the timing; SQLite: copying the file);
- `restore`: after some rows were deleted and changed, `restore_backup` (its safety backup of
  the database it replaces included); `counts_match` says every
  table's `count(*)` afterwards equals that before the backup. The baseline is bare
  `pg_restore --clean --single-transaction` of the same file over the live database (SQLite:
  the backup API copying the file over the live one).

Each phase's `steps` are the seconds spent in RefNet's parts (the dump, the checksums, the
sha256, the safety backup, ...), timed by wrapping those functions in the phase's process;
`other_s` is the rest. `peak_rss_mb` is the phase's VmHWM.

The vault: generated from the SQLite database with `generate_vault` (one note per collected
paper), then backed up, verified and restored (after notes were deleted and changed) the same
way; the baselines are Python's `tarfile` alone (write the tar.gz, read it in full, extract it).

Prints one JSON line. Run with `.venv/bin/python -m benchmarks.backup_restore`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue as queue_module
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from benchmarks.memory import peak_rss_mb
from benchmarks.vault_generation import build, reset_postgres
from refnet.core.config import BackupSettings, Settings
from refnet.db.session import dispose_engines, get_engine
from refnet.ops.table_checksums import known_tables


def settings_for(url: str, root: str) -> Settings:
    base = Path(root)
    return Settings(
        database_url=url,
        data_dir=base / "data",
        vault_dir=base / "vault",
        backup=BackupSettings(dir=base / "backups"),
    )


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def _libpq(url: str) -> dict[str, str]:
    from refnet.ops.backup_postgres import libpq_environment

    return libpq_environment(url)


def _round(seconds: float) -> float:
    return round(seconds, 3)


class Steps:
    """Seconds spent in named RefNet functions during one phase, patched in for the phase's
    (fresh) process only; a call made inside another timed call counts for the outer one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._depth = 0

    def time(self, owner: object, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    spent = time.perf_counter() - started
                    self.seconds[label] = self.seconds.get(label, 0.0) + spent

        setattr(owner, attribute, timed)

    def figures(self, total: float) -> dict[str, float]:
        steps = {label: _round(spent) for label, spent in self.seconds.items()}
        return {**steps, "other_s": _round(total - sum(self.seconds.values()))}


# --- phases, each run in a fresh process -------------------------------------------------------


def db_baseline_create(url: str, root: str) -> dict[str, Any]:
    target = Path(root) / ("baseline.dump" if _is_postgres(url) else "baseline.sqlite3")
    started = time.perf_counter()
    if _is_postgres(url):
        command = ["pg_dump", "--format=custom", "--no-password", f"--file={target}"]
        subprocess.run(command, env=_libpq(url), check=True, stdin=subprocess.DEVNULL)
    else:
        live, copy = sqlite3.connect(_sqlite_path(url)), sqlite3.connect(target)
        live.backup(copy)
        copy.close()
        live.close()
    seconds = time.perf_counter() - started
    return {"seconds": _round(seconds), "bytes": target.stat().st_size}


def create(url: str, root: str, kind: str) -> dict[str, Any]:
    from refnet.ops import backup_create, backup_postgres, backup_sqlite, backup_vault

    steps = Steps()
    steps.time(backup_sqlite, "copy_database", "copy_s")
    steps.time(backup_sqlite, "file_stats", "checksums_s")
    steps.time(backup_postgres, "dump_database", "dump_with_checksums_s")
    steps.time(backup_vault, "archive_vault", "archive_s")
    steps.time(backup_create, "sha256_of", "sha256_s")
    steps.time(backup_create, "write_metadata", "metadata_s")
    started = time.perf_counter()
    info = backup_create.create_backup(settings=settings_for(url, root), kind=kind)
    seconds = time.perf_counter() - started
    return {
        "seconds": _round(seconds),
        "bytes": info.size,
        "steps": steps.figures(seconds),
        "name": info.name,
        "file": str(info.file),
    }


def pg_checksums(url: str, root: str) -> dict[str, Any]:
    """The per-table row counts and checksums alone, read as create reads them (on PostgreSQL
    they run beside pg_dump, in its snapshot)."""
    from refnet.ops import backup_postgres

    started = time.perf_counter()
    backup_postgres.database_stats(url=url)
    return {"seconds": _round(time.perf_counter() - started)}


def db_baseline_verify(url: str, root: str, file: str) -> dict[str, Any]:
    started = time.perf_counter()
    if _is_postgres(url):
        scratch = f"{make_url(url).database}_bench_scratch"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{scratch}" TEMPLATE template0'))
            command = ["pg_restore", "--no-owner", "--no-password", f"--dbname={scratch}", file]
            subprocess.run(command, env=_libpq(url), check=True, stdin=subprocess.DEVNULL)
            connection.execute(sa.text(f'DROP DATABASE "{scratch}" WITH (FORCE)'))
        admin.dispose()
    else:
        with tempfile.TemporaryDirectory(dir=root) as scratch:
            shutil.copyfile(file, Path(scratch) / "copy.sqlite3")
    return {"seconds": _round(time.perf_counter() - started)}


def verify(url: str, root: str, name: str) -> dict[str, Any]:
    from refnet.ops import backup, backup_postgres, backup_sqlite, backup_vault

    steps = Steps()
    steps.time(backup, "check_data_file", "sha256_s")
    steps.time(backup_sqlite, "restore_copy", "restore_s")
    steps.time(backup_sqlite, "file_stats", "integrity_and_checksums_s")
    steps.time(backup_postgres, "restore_database", "restore_s")
    steps.time(backup_postgres, "database_stats", "checksums_s")
    steps.time(backup_vault, "check_archive", "read_archive_s")
    started = time.perf_counter()
    backup.verify_backup(settings=settings_for(url, root), name=name)
    seconds = time.perf_counter() - started
    return {"seconds": _round(seconds), "steps": steps.figures(seconds)}


def restore(url: str, root: str, name: str) -> dict[str, Any]:
    from refnet.ops import backup_postgres, backup_sqlite, backup_vault
    from refnet.ops import restore as module

    steps = Steps()
    steps.time(module, "check_data_file", "sha256_s")
    steps.time(module, "create_backup", "safety_backup_s")
    steps.time(backup_sqlite, "restore_database", "restore_s")  # with its checks of the copy
    steps.time(backup_postgres, "restore_database", "restore_s")
    steps.time(backup_postgres, "database_stats", "checksums_s")
    steps.time(backup_vault, "check_archive", "read_archive_s")
    steps.time(backup_vault, "restore_vault", "restore_s")
    started = time.perf_counter()
    report = module.restore_backup(settings=settings_for(url, root), name=name, force=False)
    seconds = time.perf_counter() - started
    assert report.safety_backup is not None
    return {"seconds": _round(seconds), "steps": steps.figures(seconds)}


def db_baseline_restore(url: str, root: str, file: str) -> dict[str, Any]:
    started = time.perf_counter()
    if _is_postgres(url):
        command = [
            "pg_restore", "--no-owner", "--no-password", "--clean", "--if-exists",
            "--single-transaction", f"--dbname={make_url(url).database}", file,
        ]  # fmt: skip
        subprocess.run(command, env=_libpq(url), check=True, stdin=subprocess.DEVNULL)
    else:
        backup, live = sqlite3.connect(file), sqlite3.connect(_sqlite_path(url))
        backup.backup(live)
        live.close()
        backup.close()
    return {"seconds": _round(time.perf_counter() - started)}


def vault_baseline_create(url: str, root: str) -> dict[str, Any]:
    target = Path(root) / "baseline-vault.tar.gz"
    started = time.perf_counter()
    with tarfile.open(target, "w:gz") as archive:
        archive.add(Path(root) / "vault", arcname=".")
    return {"seconds": _round(time.perf_counter() - started), "bytes": target.stat().st_size}


def vault_baseline_verify(url: str, root: str, file: str) -> dict[str, Any]:
    started = time.perf_counter()
    with tarfile.open(file, "r:gz") as archive:
        for member in archive:
            if member.isfile():
                stream = archive.extractfile(member)
                assert stream is not None
                while stream.read(1024 * 1024):
                    pass
    return {"seconds": _round(time.perf_counter() - started)}


def vault_baseline_restore(url: str, root: str, file: str) -> dict[str, Any]:
    target = Path(root) / "vault-extracted"
    started = time.perf_counter()
    with tarfile.open(file, "r:gz") as archive:
        archive.extractall(target, filter="data")
    seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return {"seconds": _round(seconds)}


PHASES: dict[str, Callable[..., dict[str, Any]]] = {
    function.__name__: function
    for function in (
        db_baseline_create,
        create,
        pg_checksums,
        db_baseline_verify,
        verify,
        restore,
        db_baseline_restore,
        vault_baseline_create,
        vault_baseline_verify,
        vault_baseline_restore,
    )
}


def _child(phase: str, kwargs: dict[str, str], queue: Any) -> None:
    from refnet.core.logging import configure_logging

    configure_logging(level="WARNING")
    try:
        figures = PHASES[phase](**kwargs)
    except BaseException:
        queue.put({"error": traceback.format_exc()})
        return
    figures["peak_rss_mb"] = peak_rss_mb()
    dispose_engines()
    queue.put(figures)


def in_fresh_process(phase: str, **kwargs: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(phase, kwargs, queue))
    process.start()
    try:
        result: dict[str, Any] = queue.get(timeout=1800)
    except queue_module.Empty:
        process.kill()
        raise SystemExit(f"phase {phase} died (exit code {process.exitcode})") from None
    process.join()
    if "error" in result:
        raise SystemExit(f"phase {phase} failed:\n{result['error']}")
    return result


# --- the parent: build, damage, count ----------------------------------------------------------


def row_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as connection:
        present = set(sa.inspect(connection).get_table_names())
        counts = {
            table: int(connection.scalar(sa.text(f'SELECT count(*) FROM "{table}"')) or 0)
            for table in known_tables()
            if table in present
        }
    dispose_engines()
    return counts


def database_bytes(url: str) -> int:
    if not _is_postgres(url):
        return _sqlite_path(url).stat().st_size
    with get_engine(url).connect() as connection:
        size = int(connection.scalar(sa.text("SELECT pg_database_size(current_database())")) or 0)
    dispose_engines()
    return size


def damage_database(url: str) -> None:
    """What a restore must undo: 2% of the edges deleted, 1% of the titles changed."""
    with get_engine(url).begin() as connection:
        connection.execute(sa.text("DELETE FROM citations WHERE citing_id % 50 = 0"))
        connection.execute(sa.text("UPDATE papers SET title = 'Changed' WHERE id % 100 = 0"))
    dispose_engines()


def damage_vault(vault: Path) -> None:
    notes = sorted(vault.rglob("*.md"))
    for note in notes[::50]:
        note.unlink()
    for note in notes[1::100]:
        note.write_text("changed\n", encoding="utf-8")


def vault_files(vault: Path) -> tuple[int, int, int]:
    """(notes, files, bytes) of the vault."""
    files = [path for path in vault.rglob("*") if path.is_file()]
    notes = sum(path.suffix == ".md" for path in files)
    return notes, len(files), sum(path.stat().st_size for path in files)


def _ratio(figures: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    figures["baseline_seconds"] = baseline["seconds"]
    if "bytes" in baseline:
        figures["baseline_bytes"] = baseline["bytes"]
    figures["overhead_ratio"] = round(figures["seconds"] / max(baseline["seconds"], 0.001), 2)
    return figures


def measure_database(url: str, root: str) -> dict[str, Any]:
    before = row_counts(url)
    rows = {table: count for table, count in before.items() if count}
    figures: dict[str, Any] = {"database_bytes": database_bytes(url), "rows": rows}
    baseline = in_fresh_process("db_baseline_create", url=url, root=root)
    create = in_fresh_process("create", url=url, root=root, kind="database")
    name, file = create.pop("name"), create.pop("file")
    if _is_postgres(url):
        alone = in_fresh_process("pg_checksums", url=url, root=root)
        create["checksums_alone_s"] = alone["seconds"]
    figures["create"] = _ratio(create, baseline)
    baseline = in_fresh_process("db_baseline_verify", url=url, root=root, file=file)
    figures["verify"] = _ratio(in_fresh_process("verify", url=url, root=root, name=name), baseline)
    damage_database(url)
    damaged = row_counts(url)
    figures["restore"] = in_fresh_process("restore", url=url, root=root, name=name)
    after = row_counts(url)
    figures["restore"]["counts_differed_before"] = damaged != before
    figures["restore"]["counts_match"] = after == before
    baseline = in_fresh_process("db_baseline_restore", url=url, root=root, file=file)
    _ratio(figures["restore"], baseline)
    figures["restore"]["counts_match_after_baseline"] = row_counts(url) == before
    return figures


def measure_vault(url: str, root: str) -> dict[str, Any]:
    from refnet.generator.service import generate_vault

    vault = Path(root) / "vault"
    report = generate_vault(database_url=url, vault_dir=vault)
    dispose_engines()
    notes, files, size = vault_files(vault)
    figures: dict[str, Any] = {
        "notes": notes,
        "files": files,
        "vault_bytes": size,
        "generate_s": report.seconds,
    }
    baseline = in_fresh_process("vault_baseline_create", url=url, root=root)
    create = in_fresh_process("create", url=url, root=root, kind="vault")
    name, file = create.pop("name"), create.pop("file")
    figures["create"] = _ratio(create, baseline)
    baseline = in_fresh_process("vault_baseline_verify", url=url, root=root, file=file)
    verify = in_fresh_process("verify", url=url, root=root, name=name)
    figures["verify"] = _ratio(verify, baseline)
    damage_vault(vault)
    figures["restore"] = in_fresh_process("restore", url=url, root=root, name=name)
    figures["restore"]["files_match"] = vault_files(vault) == (notes, files, size)
    baseline = in_fresh_process("vault_baseline_restore", url=url, root=root, file=file)
    _ratio(figures["restore"], baseline)
    return figures


def main() -> None:
    from refnet.core.logging import configure_logging

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--stubs", type=int, default=None, help="default: papers / 5")
    parser.add_argument("--edges-per-paper", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--database-url", help="also measure on this PostgreSQL database (reset!)")
    args = parser.parse_args()
    stubs = args.papers // 5 if args.stubs is None else args.stubs
    configure_logging(level="WARNING")  # logs to stderr: stdout carries the JSON line only
    result: dict[str, Any] = {
        "benchmark": "backup_restore",
        "papers": args.papers,
        "stubs": stubs,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="refnet-bench-") as tmp:
        databases = {"sqlite": f"sqlite:///{Path(tmp) / 'sqlite' / 'refnet.sqlite3'}"}
        if args.database_url:
            reset_postgres(args.database_url)
            databases["postgresql"] = args.database_url
        for name, url in databases.items():
            root = Path(tmp) / name
            root.mkdir(exist_ok=True)
            build(url, args.papers, stubs, args.edges_per_paper, args.seeds)
            dispose_engines()
            result[name] = measure_database(url, str(root))
            result["edges"] = result[name]["rows"]["citations"]
        result["vault"] = measure_vault(databases["sqlite"], str(Path(tmp) / "sqlite"))
    print(json.dumps(result), file=sys.stdout)


if __name__ == "__main__":
    main()
