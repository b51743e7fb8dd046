"""The log pipeline keeps lines for a month, ships every container's output to the Loki that
Grafana reads, keeps request ids searchable but out of the labels, and the container runtime
rotates its own log files.

Loki and Promtail are not installable on the test machines, so this checks by parsing (issue 9)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[2]
LOKI = ROOT / "monitoring" / "loki" / "loki.yml"
PROMTAIL = ROOT / "monitoring" / "promtail" / "promtail.yml"
DATASOURCES = ROOT / "monitoring" / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DAEMON = ROOT / "deploy" / "docker" / "daemon.json"
SIZE_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def promtail_job() -> dict[str, Any]:
    (job,) = load(PROMTAIL)["scrape_configs"]
    assert isinstance(job, dict)
    return job


def stage(job: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [step[kind] for step in job["pipeline_stages"] if kind in step]
    assert isinstance(found, dict)
    return found


def labels(job: dict[str, Any]) -> set[str]:
    """Every label a stream can carry: set by relabeling, by a labels stage or statically."""
    relabeled = {rule["target_label"] for rule in job["relabel_configs"] if "target_label" in rule}
    staged = {name for step in job["pipeline_stages"] for name in step.get("labels") or {}}
    static = {name for config in job.get("static_configs", []) for name in config["labels"]}
    return relabeled | staged | static


def test_loki_keeps_lines_for_a_month_and_deletes_older_ones() -> None:
    config = load(LOKI)
    retention = promql_parser.parse_duration(config["limits_config"]["retention_period"])
    assert timedelta(days=28) <= retention <= timedelta(days=93)
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"


def test_loki_stores_on_its_own_filesystem_with_the_current_schema() -> None:
    config = load(LOKI)
    (schema,) = config["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == (
        "tsdb",
        "v13",
        "filesystem",
    )
    assert config["common"]["storage"]["filesystem"]["chunks_directory"]


def test_promtail_pushes_to_the_loki_grafana_reads() -> None:
    (client,) = load(PROMTAIL)["clients"]
    (loki,) = [source for source in load(DATASOURCES)["datasources"] if source["type"] == "loki"]
    assert client["url"] == loki["url"] + "/loki/api/v1/push"
    assert urlsplit(client["url"]).port == load(LOKI)["server"]["http_listen_port"] == 3100


def test_promtail_reads_every_compose_container_through_docker() -> None:
    job = promtail_job()
    (docker,) = job["docker_sd_configs"]
    assert docker["host"] == "unix:///var/run/docker.sock"
    assert {"service", "container"} <= labels(job)
    service = next(rule for rule in job["relabel_configs"] if rule.get("target_label") == "service")
    assert service["source_labels"] == ["__meta_docker_container_label_com_docker_compose_service"]


def test_promtail_reads_the_json_fields_of_each_line() -> None:
    extracted = stage(promtail_job(), "json")["expressions"]
    assert {"level", "event", "request_id", "task_name"} <= set(extracted)


def test_request_ids_stay_in_the_line_and_only_bounded_labels_are_set() -> None:
    found = labels(promtail_job())
    assert "level" in found
    assert not found & {"request_id", "task_id", "job_id", "user_id", "event", "task_name"}
    assert found <= {"service", "container", "stream", "level"}


def test_the_docker_daemon_rotates_container_logs() -> None:
    daemon = json.loads(DAEMON.read_text())
    assert daemon["log-driver"] == "json-file"
    options = daemon["log-opts"]
    size = options["max-size"]
    assert int(size[:-1]) * SIZE_UNITS[size[-1]] <= 100 * 1024**2
    assert 2 <= int(options["max-file"]) <= 10
