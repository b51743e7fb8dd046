"""A PostgreSQL server of a load test's own: a fresh cluster on a free loopback port, with
`pg_stat_statements` preloaded, stopped and removed when the block ends.

The machine's shared server cannot be given `shared_preload_libraries` without a restart that
would disturb everything else using it; a private one also keeps the load test's connections
and statistics apart from other work. As root, the server runs as the `postgres` user, as
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.api_wrk import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "max_connections": "200",
    "shared_buffers": "512MB",
    "synchronous_commit": "off",  # a scratch server: a crash loses nothing worth keeping
    "listen_addresses": "127.0.0.1",
}


def server_binary(name: str) -> Path:
    for directory in BIN_DIRS:
        if (directory / name).is_file():
            return directory / name
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: `apt-get install -y postgresql` (Debian)")
    return Path(found)


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass(frozen=True)
class PrivatePostgres:
    url: str  # SQLAlchemy URL of the database
    data_dir: Path

    def pid(self) -> int:
        """The postmaster's process id."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


@contextmanager
def private_postgres(database: str = "refnet_load") -> Iterator[PrivatePostgres]:
    """`database` on a new server with pg_stat_statements preloaded."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="refnet-pg-") as workdir:
        data, socket_dir = Path(workdir) / "data", Path(workdir) / "run"
        socket_dir.mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (Path(workdir), socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        initdb = [str(server_binary("initdb")), "-D", str(data), "-U", "postgres", "-A", "trust"]
        subprocess.run(
            _as_owner([*initdb, "-E", "UTF8", "--no-sync"]), check=True, capture_output=True
        )
        options = " ".join(f"-c {name}={value}" for name, value in SETTINGS.items())
        options += f" -c port={port} -c unix_socket_directories={socket_dir}"
        pg_ctl = str(server_binary("pg_ctl"))
        log = Path(workdir) / "server.log"
        started = subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}{log.read_text()}")
        try:
            admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{database}"')
            yield PrivatePostgres(
                f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}", data
            )
        finally:
            subprocess.run(
                _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
