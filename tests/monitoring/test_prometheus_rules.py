"""The alert and recording rules load in Prometheus' own checker, every alert is unit-tested both
ways with `promtool test rules`, carries what a person paged needs, and names only metrics that a
running RefNet exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from refnet.core.config import Settings
from refnet.db.queries.operations import (
    record_failure,
    record_finished,
    record_fired,
    register_entries,
    store_findings,
)
from refnet.db.session import session_scope
from refnet.ops.backup import create_backup
from tests.support.api import api_server

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "monitoring" / "prometheus"
RULES = PROMETHEUS / "rules" / "refnet.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "refnet.test.yml"
SEVERITIES = {"none", "info", "warning", "critical"}
KEYWORDS = {"and", "or", "unless", "bool", "offset"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: `apt-get install -y prometheus` (Debian)")
    return found


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_passes_its_unit_tests() -> None:
    tested = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for alert in alerts():
        name = alert["alert"]
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} is never tested firing"
        if name != "RefNetWatchdog":
            assert any(not case["exp_alerts"] for case in mine), f"{name} never tested silent"


def test_every_alert_says_how_bad_what_and_where_the_runbook_is() -> None:
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        runbook = ROOT / annotations["runbook_url"]
        assert runbook.is_file() and runbook.parent.name == "runbooks", (name, runbook)
        assert name in runbook.read_text(), f"{runbook.name} does not name {name}"


def metric_names(expression: str) -> set[str]:
    """The series names an expression selects: what is left once strings, label matchers,
    ranges, grouping clauses and function calls are taken out."""
    text = re.sub(r'"[^"]*"', "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\b[a-zA-Z_]\w*\s*\(", "(", text)
    names = set(re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*", text)) - KEYWORDS
    return {name for name in names if ":" not in name}  # recording rules' names contain ':'


def test_the_names_are_read_as_prometheus_does() -> None:
    assert metric_names(
        'sum by (le) (rate(refnet_x_bucket{le="1", a=~"5.."}[5m])) / on(job) up > 0.5'
    ) == {"refnet_x_bucket", "up"}
    assert metric_names("time() - max(refnet_y) > 26 * 3600 and refnet:z:rate5m") == {"refnet_y"}
    assert metric_names("absent(up{job='api'})") == {"up"}


def test_every_metric_a_rule_uses_is_exported(tmp_path: Path) -> None:
    """Scraped from a running API that has served requests and holds operations records."""
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    used.discard("up")  # Prometheus' own, per target
    with api_server(tmp_path, {}) as server:
        settings = Settings(database_url=server.database_url, data_dir=tmp_path / "data")
        with session_scope(server.database_url) as session:
            register_entries(session=session, entries={"health": "refnet.maintenance.check_health"})
            record_fired(session=session, entry="health", task_name="t", task_id="rules-1")
            record_finished(session=session, entry="health", outcome="ok", detail=None)
            record_failure(
                session=session,
                task_id="rules-failure",
                task_name="refnet.test.rules",
                queue=None,
                kwargs={},
                error_type="InvalidInput",
                reason="malformed",
                retries=0,
            )
            store_findings(session=session, findings=[("database", True, "ok")])
        create_backup(settings=settings, kind="database")
        httpx.get(server.base_url + "/health", timeout=10)
        exported = httpx.get(server.base_url + "/metrics", timeout=10).text
    names = {line.split("{")[0].split(" ")[0] for line in exported.splitlines() if line[:1] != "#"}
    assert used, "no metric names found in the rules"
    assert used <= names, f"rules use metrics nothing exports: {sorted(used - names)}"
