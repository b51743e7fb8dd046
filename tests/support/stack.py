"""The Docker Compose stack as the stack tests and the failure drills start and use it: the
air-gapped images, the production file with the monitoring file and the air-gapped override
(plus one test override, docker-compose.test.yml in tests/deploy), secrets and a certificate
from `scripts/docker-dev.sh init`, and the fake Semantic Scholar and a fake OpenAI-compatible LLM
on the backend network's gateway, where the worker containers reach them (they have no route out
of the machine)."""

from __future__ import annotations

import ipaddress
import secrets
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.llm_servers import FakeOpenAI
from tests.fakes.s2_graph import SyntheticGraph
from tests.fakes.s2_server import FakeSemanticScholar
from tests.support.api import free_port
from tests.support.compose import DEV_SCRIPT, PRODUCTION_FILES, Compose, wait_until

PROJECT = "refnet-test"
# Networks of the test's own, so a developer's stack on the default subnets can run beside it.
FRONTEND_SUBNET = "172.30.110.0/24"
BACKEND_SUBNET = "172.30.120.0/24"
ADMIN = "admin"
REFNET_SCRAPE_JOBS = {"refnet-api", "refnet-worker", "refnet-beat", "flower"}
FILES = (*PRODUCTION_FILES, "tests/deploy/docker-compose.test.yml")
VAULT = "/var/lib/refnet/vault"


@dataclass
class Stack:
    compose: Compose
    s2: FakeSemanticScholar
    secrets_dir: Path
    tls_dir: Path
    workdir: Path
    https_port: int
    http_port: int
    prometheus_port: int
    s2_api_key: str
    llm: FakeOpenAI

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # The development certificate names 127.0.0.1: it is verified, not ignored.
        return httpx.Client(
            base_url=self.https,
            verify=ssl.create_default_context(cafile=self.tls_dir / "fullchain.pem"),
            headers=headers,
            timeout=30,
        )

    def secret(self, name: str) -> str:
        return (self.secrets_dir / name).read_text()

    def admin_token(self) -> str:
        """Signed in as the first admin; after a 429 (a load test's sign-ins have used up the
        address's allowance), again once its Retry-After has passed, as a client would."""
        credentials = {"username": ADMIN, "password": self.secret("bootstrap_admin_password")}
        with self.client() as client:
            answer = client.post("/auth/login", json=credentials)
            if answer.status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "60")) + 1)
                answer = client.post("/auth/login", json=credentials)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def up(self) -> None:
        self.compose.run("up", "--detach", "--wait", timeout=900)


def stack_environment(
    engine: dict[str, str], workdir: Path, ports: dict[str, int], s2_url: str
) -> dict[str, str]:
    return {
        **engine,
        "COMPOSE_PROJECT_NAME": PROJECT,  # for scripts/docker-dev.sh
        "REFNET_SECRETS_DIR": str(workdir / "secrets"),
        "REFNET_TLS_DIR": str(workdir / "tls"),
        "REFNET_BACKUP_COPY_DIR": str(workdir / "backups"),
        "REFNET_BIND_ADDRESS": "127.0.0.1",
        "REFNET_HTTP_PORT": str(ports["http"]),
        "REFNET_HTTPS_PORT": str(ports["https"]),
        "REFNET_PROMETHEUS_PORT": str(ports["prometheus"]),
        "REFNET_FRONTEND_SUBNET": FRONTEND_SUBNET,
        "REFNET_BACKEND_SUBNET": BACKEND_SUBNET,
        "REFNET_BOOTSTRAP_ADMIN": ADMIN,
        "SEMANTIC_SCHOLAR_API_URL": s2_url,
    }


@contextmanager
def running_stack(
    engine: dict[str, str],
    graph: SyntheticGraph,
    workdir: Path,
    extra_files: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """The stack up with every health check passing, the fake Semantic Scholar serving `graph`;
    everything removed afterwards. `extra_files`: Compose files given after FILES."""
    ports = {"http": free_port(), "https": free_port(), "prometheus": free_port()}
    # The host's address on the backend network: Docker gives a bridge network's gateway the
    # subnet's first address.
    gateway = str(next(ipaddress.ip_network(BACKEND_SUBNET).hosts()))
    s2_port, llm_port = free_port(), free_port()
    env = stack_environment(engine, workdir, ports, f"http://{gateway}:{s2_port}/graph/v1")
    env["REFNET_TEST_LLM_URL"] = f"http://{gateway}:{llm_port}/v1"  # docker-compose.test.yml
    dev_script(env, "init")  # random secrets, empty key files, a development certificate
    secrets_dir, tls_dir = workdir / "secrets", workdir / "tls"
    s2_api_key = secrets.token_hex(20)
    (secrets_dir / "semantic_scholar_api_key").write_text(s2_api_key)
    s2 = FakeSemanticScholar(graph, host=gateway, port=s2_port, required_api_key=s2_api_key)
    llm = FakeOpenAI(host=gateway, port=llm_port)
    compose = Compose(PROJECT, env, files=(*FILES, *extra_files))
    compose.down()  # whatever an interrupted run left
    deployed = Stack(
        compose, s2, secrets_dir, tls_dir, workdir, ports["https"], ports["http"],
        ports["prometheus"], s2_api_key, llm,
    )  # fmt: skip
    try:
        deployed.up()
        s2.start()  # the gateway's address exists once the network does
        llm.start()
        yield deployed
    finally:
        s2.stop()
        llm.stop()
        compose.down()


def well_cited(graph: SyntheticGraph, rank: int) -> str:
    ranked = sorted(graph.papers, key=lambda p: (-len(graph.citations_of(p)), p))
    return ranked[rank]


def paper_url(graph: SyntheticGraph, paper: str) -> str:
    title = str(graph.papers[paper].get("title") or "paper").lower().replace(" ", "-")
    return f"https://www.semanticscholar.org/paper/{title[:40]}/{paper}"


def request_crawl(client: httpx.Client, graph: SyntheticGraph, paper: str) -> str:
    """POST /api/papers/crawl with the paper's URL (depth 1, 12 papers); the job's location."""
    accepted = client.post(
        "/api/papers/crawl",
        json={"paper_url": paper_url(graph, paper), "depth": 1, "max_papers": 12},
    )
    assert accepted.status_code == 202, accepted.text
    location: str = accepted.headers["location"]
    return location


def job_in(client: httpx.Client, location: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """The job at `location` if its status is one of `statuses`; None while it is not (or while
    the API cannot say)."""
    try:
        answer = client.get(location)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    job: dict[str, Any] = answer.json()
    return job if job["status"] in statuses else None


def finished_job(client: httpx.Client, location: str, seconds: float = 300) -> dict[str, Any]:
    job: dict[str, Any] = wait_until(
        lambda: job_in(client, location, ("completed", "failed")),
        f"crawl job {location} finishing",
        seconds=seconds,
        interval=1,
    )
    return job


def crawl_to_notes(stack: Stack, graph: SyntheticGraph, paper: str) -> dict[str, Any]:
    """POST /api/papers/crawl with the paper's URL; the job done and its note in the vault."""
    token = stack.admin_token()
    with stack.client(token) as client:
        job = finished_job(client, request_crawl(client, graph, paper))
        assert job["status"] == "completed", job
        note = wait_until(
            lambda: (
                (answer := client.get(f"/api/papers/{paper}/note")).status_code == 200 and answer
            ),
            f"the note of {paper}",
            seconds=300,
            interval=2,
        )
        detail = client.get(f"/api/papers/{paper}").json()
    return {"job": job, "note": note.text, "detail": detail}


def vault_copy(stack: Stack, name: str) -> Path:
    """The vault volume as the generator's container sees it, copied out."""
    target = stack.workdir / name
    stack.compose.run("cp", f"worker-generator:{VAULT}/.", str(target))
    return target


def dev_script(env: dict[str, str], *arguments: str, check: bool = True) -> str:
    """scripts/docker-dev.sh as the operator runs it on this stack; its output (prefixed with
    the exit status when it failed and `check` is off)."""
    done = subprocess.run(
        [str(DEV_SCRIPT), "--prod", "--monitoring", "--airgap", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 or not check, output
    return output if done.returncode == 0 else f"exit {done.returncode}: {output}"


def sql(stack: Stack, statement: str) -> str:
    return stack.compose.exec(
        "postgres", "psql", "--username=refnet", "--dbname=refnet", "--no-align",
        "--tuples-only", f"--command={statement}",
    ).strip()  # fmt: skip
