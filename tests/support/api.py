"""A real `refnet serve` process for API tests, and the calls a client makes to it."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from refnet.security.accounts import Actor, create_user
from refnet.security.roles import Role
from tests.support.processes import serving
from tests.support.workers import REFNET

JWT_SECRET = "api-tests-signing-secret-0123456789abcdef"
PASSWORD = "correct horse battery staple"
RAG = "ARXIV:2005.11401"  # a seed of the bundled sample
RAG_S2 = "d8fd2b529ce7fe84367bf297bcb97d53a90718e4"  # its Semantic Scholar id
SETTINGS = (
    "DATABASE_",
    "REDIS_URL",
    "CELERY_",
    "API__",
    "AUTH__",
    "RATE_LIMIT__",
    "JWT_",
    "REFNET_BOOTSTRAP",
    "ENVIRONMENT",
    "SEMANTIC_SCHOLAR_",
)
# Far above what any test sends, except where a test sets its own.
UNLIMITED = {
    "RATE_LIMIT__LOGIN": "10000/minute",
    "RATE_LIMIT__READ": "100000/minute",
    "RATE_LIMIT__WRITE": "10000/minute",
    "RATE_LIMIT__CRAWL": "10000/minute",
    # Every failed sign-in of the package's tests comes from 127.0.0.1.
    "AUTH__MAX_FAILED_LOGINS_PER_CLIENT": "10000",
}


_USER_NUMBERS = itertools.count(1)


def clean_environment() -> dict[str, str]:
    """This process's environment without any RefNet setting, so only what a test says counts."""
    return {name: value for name, value in os.environ.items() if not name.startswith(SETTINGS)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ApiServer:
    base_url: str
    database_url: str
    env: dict[str, str]
    log: Path
    tokens: dict[Role, str] = field(default_factory=dict)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def new_user(self, role: Role, password: str = PASSWORD) -> str:
        username = f"{role.value}{next(_USER_NUMBERS)}-{os.getpid()}"
        create_user(
            database_url=self.database_url,
            username=username,
            password=password,
            role=role,
            actor=Actor.cli(),
        )
        return username

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        with self.client() as client:
            answer = client.post("/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        return tokens

    def token(self, role: Role) -> str:
        """An access token of a user with `role` (one user per role per server)."""
        if role not in self.tokens:
            self.tokens[role] = self.login(self.new_user(role))["access_token"]
        return self.tokens[role]

    def get(self, path: str, role: Role = Role.READER, **kwargs: Any) -> httpx.Response:
        with self.client(self.token(role)) as client:
            return client.get(path, **kwargs)

    def post(self, path: str, role: Role = Role.OPERATOR, **kwargs: Any) -> httpx.Response:
        with self.client(self.token(role)) as client:
            return client.post(path, **kwargs)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def api_server(
    workdir: Path, env: Mapping[str, str], *, workers: int = 1, wait_ready: bool = True
) -> Iterator[ApiServer]:
    """`refnet serve` on a free loopback port with `env` on top of this environment."""
    port = free_port()
    environment = {
        **clean_environment(),
        "JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "INFO",
        "REFNET_DATA_DIR": str(workdir / "data"),
        "VAULT_DIR": str(workdir / "vault"),
        **UNLIMITED,
        **env,
    }
    database_url = environment.get("DATABASE_URL") or (
        f"sqlite:///{(workdir / 'data' / 'refnet.sqlite3').resolve()}"
    )
    log = workdir / f"api-{port}.log"
    command = [REFNET, "serve", "--port", str(port), "--workers", str(workers)]
    base_url = f"http://127.0.0.1:{port}"
    ready_url = base_url + ("/ready" if wait_ready else "/health")
    with serving(command, log=log, ready_url=ready_url, env=environment, cwd=workdir):
        yield ApiServer(base_url, database_url, environment, log)


def load_sample(workdir: Path, env: Mapping[str, str]) -> None:
    """Crawl the bundled sample around RAG, summarize it and write the vault, in-process."""
    environment = {
        **clean_environment(),
        "REFNET_DATA_DIR": str(workdir / "data"),
        "VAULT_DIR": str(workdir / "vault"),
        **{k: v for k, v in env.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
    }
    subprocess.run(
        [REFNET, "crawl", "--source", "sample", "--depth", "1", "--max-papers", "40", RAG],
        env=environment,
        cwd=workdir,
        check=True,
        capture_output=True,
    )
