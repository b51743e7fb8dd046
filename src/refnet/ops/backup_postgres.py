"""PostgreSQL backups: `pg_dump --format=custom` and `pg_restore`, with row counts and content
checksums taken in the dump's own snapshot.

The dump and the counts see the same data: one REPEATABLE READ transaction exports its snapshot,
pg_dump runs with `--snapshot` while that transaction stays open, and the counts are read in it.
Connection parameters, the password above all, reach the tools through the libpq environment
(PGHOST, PGPASSWORD, …), never their command line, where every process listing would show it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from refnet.ops.backup_files import BackupFailed, ContentStats
from refnet.ops.table_checksums import postgres_stats

# How long a restore waits for a table lock before giving up (the database stays as it was).
RESTORE_LOCK_TIMEOUT_MS = 60_000
_QUERY_TO_ENVIRONMENT = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
}


class ToolFailed(BackupFailed):
    """pg_dump or pg_restore exited with an error; `output` is what it printed."""

    def __init__(self, tool: str, output: str) -> None:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        super().__init__(f"{tool} failed: {lines[-1] if lines else 'no message'}")
        self.output = output


def libpq_environment(url: str, *, lock_timeout_ms: int | None = None) -> dict[str, str]:
    """The process environment with `url`'s connection parameters as libpq variables."""
    parsed = make_url(url)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values: dict[str, object] = {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
        "PGAPPNAME": "refnet-backup",
    }
    for key, value in parsed.query.items():
        if key in _QUERY_TO_ENVIRONMENT:
            values[_QUERY_TO_ENVIRONMENT[key]] = value if isinstance(value, str) else value[0]
    if lock_timeout_ms is not None:
        values["PGOPTIONS"] = f"-c lock_timeout={lock_timeout_ms}"
    environment.update({name: str(value) for name, value in values.items() if value is not None})
    return environment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupFailed(f"{name} is not installed; install the PostgreSQL client tools")
    return path


@contextmanager
def _engine(url: str, **options: object) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url, poolclass=NullPool, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def _read_output(stream: IO[bytes], code: int) -> str:
    stream.seek(0)
    output = stream.read().decode("utf-8", "replace")
    if code < 0:  # killed: SIGXFSZ is the file-size limit, SIGKILL often the OOM killer
        name = signal.Signals(-code).name
        reason = "file size limit exceeded" if name == "SIGXFSZ" else "killed"
        output += f"\n{reason} ({name})"
    return output


def dump_database(*, url: str, target: Path) -> tuple[dict[str, ContentStats], str | None]:
    """Write a custom-format dump of `url` to `target`; the per-table stats and the schema
    revision of the same snapshot."""
    command = [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}"]
    with _engine(url) as engine, engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
            with tempfile.TemporaryFile() as output:
                process = subprocess.Popen(
                    [*command, f"--snapshot={snapshot}"],
                    env=libpq_environment(url),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=output,
                )
                try:
                    stats, revision = postgres_stats(connection)
                except BaseException:
                    process.kill()
                    process.wait()
                    raise
                # The transaction (and its snapshot) stays open until pg_dump is done.
                code = process.wait()
                if code != 0:
                    raise ToolFailed("pg_dump", _read_output(output, code))
    return stats, revision


def restore_database(*, url: str, source: Path, clean: bool) -> None:
    """pg_restore `source` into `url` in one transaction: all of it, or nothing. With `clean`,
    the objects the dump holds are dropped first (inside that transaction)."""
    command = [
        _tool("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        *(["--clean", "--if-exists"] if clean else []),
        f"--dbname={make_url(url).database}",
        str(source),
    ]
    with tempfile.TemporaryFile() as output:
        code = subprocess.run(
            command,
            env=libpq_environment(url, lock_timeout_ms=RESTORE_LOCK_TIMEOUT_MS),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
        if code != 0:
            raise ToolFailed("pg_restore", _read_output(output, code))


def database_stats(*, url: str) -> tuple[dict[str, ContentStats], str | None]:
    """Per-table stats and schema revision of `url`, read in one snapshot."""
    with _engine(url) as engine, engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            return postgres_stats(connection)


@contextmanager
def scratch_database(*, url: str) -> Iterator[str]:
    """A new empty database `<name>_verify_<random>` on `url`'s server, dropped afterwards."""
    parsed = make_url(url)
    name = f"{(parsed.database or 'refnet')[:40]}_verify_{secrets.token_hex(4)}"
    with _engine(url, isolation_level="AUTOCOMMIT") as admin:
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise BackupFailed(
                f"cannot create the scratch database {name} to restore into ({reason}); "
                "the database user needs the CREATEDB privilege"
            ) from None
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
