"""Alertmanager's configuration loads in its own checker, sends each severity to the right
receiver, keeps every secret in a file, and, run for real, lets a critical silence the warning of
the same cause while an unrelated warning still goes out."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.api import free_port
from tests.support.processes import serving

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
# Keys whose value is a secret; each has a `<key>_file` twin that names a file instead.
SECRET_KEYS = {
    "api_key",
    "api_secret",
    "api_url",
    "auth_password",
    "auth_secret",
    "bot_token",
    "credentials",
    "password",
    "routing_key",
    "service_key",
    "smtp_auth_password",
    "smtp_auth_secret",
    "token",
    "user_key",
}
SECRETS_DIR = "/run/secrets/"


def tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    pytest.fail(
        f"{' or '.join(names)} is not installed: `apt-get install -y prometheus-alertmanager`"
    )


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("amtool"), *args], capture_output=True, text=True, timeout=30)


def test_amtool_accepts_the_config() -> None:
    checked = amtool("check-config", str(CONFIG))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=RefNetVerySlowRequests", "severity=critical", "cause=api-latency"], "pager"),
        (["alertname=RefNetTargetDown", "severity=critical", "job=refnet-worker"], "pager"),
        (["alertname=RefNetSlowRequests", "severity=warning", "cause=api-latency"], "ticket"),
        (["alertname=RefNetWatchdog", "severity=none"], "heartbeat"),
        (["alertname=SomethingNew"], "ticket"),  # no severity: still reaches a person
    ],
)
def test_each_severity_reaches_its_receiver(labels: list[str], receiver: str) -> None:
    routed = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.split() == [receiver], f"{labels} went to {routed.stdout.strip()!r}"


def literal_secrets(node: Any, path: str = "") -> list[str]:
    """Where `node` (a parsed configuration) writes a secret instead of naming its file, or
    names a secret file outside the Docker secrets directory."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in SECRET_KEYS:
                found.append(where)
            elif str(key).endswith("_file") and key[: -len("_file")] in SECRET_KEYS:
                if not str(value).startswith(SECRETS_DIR):
                    found.append(f"{where} (not under {SECRETS_DIR})")
            elif key == "url" and "@" in str(value):
                found.append(f"{where} (credentials in the URL)")
            else:
                found.extend(literal_secrets(value, where))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(literal_secrets(item, f"{path}[{index}]"))
    return found


def test_the_secret_check_finds_a_literal_secret() -> None:
    planted = {
        "global": {"smtp_auth_password": "hunter2"},
        "receivers": [
            {"slack_configs": [{"api_url": "https://hooks.slack.com/services/T/B/x"}]},
            {"webhook_configs": [{"url": "https://user:pw@hook.example.org/"}]},
            {"pagerduty_configs": [{"routing_key_file": "/etc/alertmanager/key"}]},
        ],
    }
    assert literal_secrets(planted) == [
        "global.smtp_auth_password",
        "receivers[0].slack_configs[0].api_url",
        "receivers[1].webhook_configs[0].url (credentials in the URL)",
        "receivers[2].pagerduty_configs[0].routing_key_file (not under /run/secrets/)",
    ]


def test_every_secret_comes_from_a_file() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert literal_secrets(config) == []
    secret_files = [line for line in CONFIG.read_text().splitlines() if "_file:" in line]
    assert len(secret_files) >= 3, "expected the pager, ticket and heartbeat secrets as files"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager with RefNet's configuration on a free loopback port, alone (no
    cluster); its receivers reach nothing, which only makes its notifications fail."""
    port = free_port()
    log = tmp_path / "alertmanager.log"
    command = [
        tool("alertmanager", "prometheus-alertmanager"),
        f"--config.file={CONFIG}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    base_url = f"http://127.0.0.1:{port}"
    with serving(command, log=log, ready_url=base_url + "/-/ready", seconds=30):
        yield base_url


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} posted by the test"},
    }


def states(base_url: str) -> dict[str, dict[str, Any]]:
    """Each alert's status, by its name and the queue it is about."""
    answer = httpx.get(base_url + "/api/v2/alerts", timeout=5)
    answer.raise_for_status()
    return {name(item["labels"]): item["status"] for item in answer.json()}


def name(labels: dict[str, str]) -> str:
    return " ".join(filter(None, [labels["alertname"], labels.get("queue")]))


def test_a_critical_silences_only_the_warnings_of_its_cause(alertmanager: str) -> None:
    worker = {"job": "refnet-worker", "instance": "worker-1:9808"}
    posted = [
        alert("RefNetVerySlowRequests", "critical", cause="api-latency"),
        alert("RefNetSlowRequests", "warning", cause="api-latency"),
        alert("RefNetDiskNearlyFull", "warning", cause="disk"),
        alert("RefNetFailedTasks", "warning"),  # no cause: no critical may hide it
        alert("RefNetQueueBacklogCritical", "critical", cause="queue-backlog", queue="crawler"),
        alert("RefNetQueueBacklog", "warning", cause="queue-backlog", queue="crawler"),
        alert("RefNetQueueBacklog", "warning", cause="queue-backlog", queue="summarizer"),
        alert("RefNetTargetDown", "critical", **worker),
        alert("RefNetScheduleEntryLate", "warning", cause="beat", **worker),
        alert("RefNetNoLiveWorker", "critical", cause="no-worker", **worker),
    ]
    expected = {
        "RefNetVerySlowRequests": "active",
        "RefNetSlowRequests": "suppressed",
        "RefNetDiskNearlyFull": "active",
        "RefNetFailedTasks": "active",
        "RefNetQueueBacklogCritical crawler": "active",
        "RefNetQueueBacklog crawler": "suppressed",
        "RefNetQueueBacklog summarizer": "active",  # another queue's backlog
        "RefNetTargetDown": "active",
        "RefNetScheduleEntryLate": "suppressed",  # its target is down
        "RefNetNoLiveWorker": "suppressed",  # a critical too, from the same down target
    }
    sent = httpx.post(alertmanager + "/api/v2/alerts", json=posted, timeout=5)
    assert sent.status_code == 200, sent.text

    deadline = time.monotonic() + 15  # the inhibitor learns its sources asynchronously
    while True:
        seen = states(alertmanager)
        found = {name: status["state"] for name, status in seen.items()}
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == expected, f"alert states {found}, expected {expected}"
    assert seen["RefNetSlowRequests"]["inhibitedBy"], "a suppressed alert names what inhibits it"
    assert seen["RefNetDiskNearlyFull"]["inhibitedBy"] == []
