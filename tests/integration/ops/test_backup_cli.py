"""`refnet backup …` as an operator runs it: exit codes and one-line messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refnet.db import migrate
from refnet.db.base import utcnow
from refnet.db.models import CrawlJob, JobStatus
from refnet.db.session import dispose_engines, session_scope
from refnet.ops.backup import create_backup, restore_backup, verify_backup
from tests.integration.ops.backup_support import fill_network, settings_for, table_stats

REFNET = str(Path(sys.executable).parent / "refnet")


def refnet(env: dict[str, str], *args: str) -> tuple[int, str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REFNET_"))},
        **env,
        "COLUMNS": "200",
    }
    result = subprocess.run([REFNET, *args], env=environment, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


@pytest.fixture
def embedded(tmp_path: Path) -> tuple[dict[str, str], str]:
    """(environment of an embedded installation, its database URL), with papers in it."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'refnet.sqlite3'}"
    data.mkdir()
    migrate.upgrade(url)
    fill_network(url, papers=4)
    dispose_engines()
    env = {"REFNET_DATA_DIR": str(data), "VAULT_DIR": str(tmp_path / "vault")}
    return env, url


def _name(output: str, kind: str) -> str:
    return next(word for word in output.split() if word.startswith(f"{kind}-"))


def test_backup_commands_from_create_to_restore(embedded: tuple[dict[str, str], str]) -> None:
    env, url = embedded
    code, output = refnet(env, "backup", "list")
    assert code == 0 and "No backups in" in output

    code, output = refnet(env, "backup", "create")
    assert code == 0, output
    assert "Created database backup database-" in output and "No vault at" in output
    name = _name(output, "database")
    before = table_stats(url)

    code, output = refnet(env, "backup", "list")
    assert code == 0 and name in output and "ok" in output

    code, output = refnet(env, "backup", "verify", name)
    assert code == 0 and f"Backup {name} is good." in output

    with session_scope(url) as session:
        session.add(CrawlJob(source="test", status=JobStatus.RUNNING.value, heartbeat_at=utcnow()))
    code, output = refnet(env, "backup", "restore", name)
    assert code == 1 and "crawl job" in output and "--force" in output
    assert len(output.strip().splitlines()) <= 3  # one message, wrapped at most

    code, output = refnet(env, "backup", "restore", name, "--force")
    assert code == 0, output
    assert f"Restored the database from backup {name}." in output
    assert "What it replaced is kept in backup database-" in output
    assert table_stats(url) == before


def test_backup_command_failures_are_one_line_errors(
    embedded: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, _url = embedded
    code, output = refnet(env, "backup", "create", "--kind", "everything")
    assert code == 2 and "unknown backup kind 'everything'" in output

    code, output = refnet(env, "backup", "create", "--kind", "vault")
    assert code == 1 and "nothing to back up: the vault directory" in output

    code, output = refnet(env, "backup", "verify", "database-20200101T000000Z")
    assert code == 1 and "no backup named database-20200101T000000Z" in output

    code, output = refnet(env, "backup", "create", "--kind", "database")
    name = _name(output, "database")
    data = next((tmp_path / "data" / "backups").glob(f"{name}.sqlite3"))
    data.write_bytes(data.read_bytes()[:-4096])
    for command in ("verify", "restore"):
        code, output = refnet(env, "backup", command, name)
        assert code == 1 and "size check failed" in output and "truncated" in output

    blocked = {**env, "BACKUP__DIR": str(data / "backups")}
    code, output = refnet(blocked, "backup", "create", "--kind", "database")
    assert code == 1 and f"backup directory {data / 'backups'} is not a directory" in output


def test_vault_restore_by_name_from_the_command_line(
    embedded: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, _url = embedded
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "note.md").write_text("as backed up")
    code, output = refnet(env, "backup", "create", "--kind", "vault")
    assert code == 0, output
    name = _name(output, "vault")
    (vault / "note.md").write_text("changed later")

    code, output = refnet(env, "backup", "restore", name)

    assert code == 0 and f"Restored the vault from backup {name}." in output
    assert (vault / "note.md").read_text() == "as backed up"


class _RecordingPopen(subprocess.Popen[Any]):
    """The real Popen, remembering each command line and environment it started."""

    started: list[tuple[list[str], dict[str, str]]] = []  # noqa: RUF012

    def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
        _RecordingPopen.started.append((list(map(str, args)), dict(options.get("env") or {})))
        super().__init__(args, *rest, **options)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_password_reaches_the_tools_only_through_the_environment(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "s3cret-backup-pw-4711"  # the test server trusts local connections
    url = database_url.replace("postgres@", f"postgres:{password}@")
    settings = settings_for(url, tmp_path)
    fill_network(database_url, papers=2)
    _RecordingPopen.started.clear()
    monkeypatch.setattr(subprocess, "Popen", _RecordingPopen)

    info = create_backup(settings=settings, kind="database")
    verify_backup(settings=settings, name=info.name)
    restore_backup(settings=settings, name=info.name)

    tools = [Path(args[0]).name for args, _env in _RecordingPopen.started]
    assert tools.count("pg_dump") == 2 and tools.count("pg_restore") == 2  # + safety, scratch
    for args, environment in _RecordingPopen.started:
        assert password not in " ".join(args)
        assert environment["PGPASSWORD"] == password
    assert "--single-transaction" in _RecordingPopen.started[-1][0]
    assert table_stats(database_url) == info.contents
