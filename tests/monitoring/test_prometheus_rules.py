"""The scrape configuration and the rules load in Prometheus' own checker, every alert is
unit-tested both ways with `promtool test rules` and carries what a person paged needs. That the
metrics they name are exported is tested on the running stack (tests/e2e/test_observability.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_every_alert_but_the_watchdog_names_its_cause() -> None:
    """Alertmanager silences a warning while a critical of the same cause fires."""
    for alert in alerts():
        if alert["alert"] != "RefNetWatchdog":
            assert alert["labels"].get("cause"), f"{alert['alert']} has no cause label"


def test_promtool_accepts_the_scrape_configuration() -> None:
    checked = subprocess.run(
        [promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
