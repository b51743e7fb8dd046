"""The provisioned dashboards are exactly what their Python source generates, query only
provisioned datasources, and every query parses; a user opening Grafana sees working panels.

Grafana is not installable on the test machines, so this checks by parsing (issue 9)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.promql import (
    DASHBOARDS,
    ROOT,
    dashboard_expressions,
    dashboards,
    datasource_of,
    metric_names,
    panels,
)

GRAFANA = ROOT / "monitoring" / "grafana"
GENERATOR = GRAFANA / "generate_dashboards.py"
PROVISIONING = GRAFANA / "provisioning"
EXPECTED = {"refnet-api.json", "refnet-celery.json", "refnet-pipeline.json", "refnet-system.json"}


def provisioned_datasources() -> dict[str, str]:
    """Type of each provisioned datasource, by uid."""
    document = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    return {source["uid"]: source["type"] for source in document["datasources"]}


def queries() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(file, panel title, panel, target) for every query of every dashboard."""
    return [
        (name, panel.get("title", ""), panel, target)
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_the_committed_dashboards_are_what_the_source_generates(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(GENERATOR), str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    generated = {path.name: path.read_text() for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert set(generated) == EXPECTED
    assert generated == committed, (
        "monitoring/grafana/dashboards/ is out of date with dashboards_src/: run `make dashboards`"
    )


def test_generating_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    for run in ("first", "second"):
        subprocess.run([sys.executable, str(GENERATOR), str(tmp_path / run)], check=True)
    first, second = (sorted((tmp_path / run).iterdir()) for run in ("first", "second"))
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_every_datasource_a_panel_or_query_uses_is_provisioned_with_its_type() -> None:
    provisioned = provisioned_datasources()
    assert provisioned == {"refnet-prometheus": "prometheus", "refnet-loki": "loki"}
    for name, title, panel, target in queries():
        for ref in (panel.get("datasource"), datasource_of(panel, target)):
            assert ref and ref.get("uid") in provisioned, f"{name} / {title}: {ref}"
            assert provisioned[ref["uid"]] == ref["type"], f"{name} / {title}: {ref}"


def test_the_request_id_link_in_logs_queries_a_provisioned_datasource() -> None:
    document = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    loki = next(source for source in document["datasources"] if source["type"] == "loki")
    (link,) = loki["jsonData"]["derivedFields"]
    assert link["datasourceUid"] in provisioned_datasources()
    assert '"request_id":' in link["matcherRegex"]
    assert link["url"].startswith("{") and "request_id=" in link["url"]


def test_every_prometheus_query_parses() -> None:
    checked = 0
    for name, title, panel, target in queries():
        if datasource_of(panel, target)["type"] != "prometheus":
            continue
        try:
            promql_parser.parse(target["expr"])
        except Exception as exc:
            pytest.fail(f"{name} / {title}: {target['expr']!r} does not parse: {exc}")
        checked += 1
    assert checked == len(dashboard_expressions()) > 0


def test_every_loki_query_starts_with_a_stream_selector() -> None:
    loki = [t for _, _, p, t in queries() if datasource_of(p, t)["type"] == "loki"]
    assert loki, "no dashboard shows log lines"
    for target in loki:
        assert re.match(r'\{\s*\w+\s*(=|!=|=~|!~)\s*"[^"]*"', target["expr"]), target["expr"]


def test_the_api_dashboard_shows_the_api_logs() -> None:
    api = dashboards()["refnet-api.json"]
    log_panels = [panel for panel in panels(api) if panel["type"] == "logs"]
    assert [t["expr"] for p in log_panels for t in p["targets"]] == ['{service="api"} | json']


def test_dashboards_have_distinct_fixed_uids_and_titles() -> None:
    found = dashboards()
    assert set(found) == EXPECTED
    uids = [dashboard["uid"] for dashboard in found.values()]
    titles = [dashboard["title"] for dashboard in found.values()]
    assert [f"{uid}.json" for uid in uids] == list(found)
    assert len(set(titles)) == len(titles)


def test_every_panel_has_a_title_queries_and_a_unit() -> None:
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            assert panel.get("title"), f"{name}: panel {panel.get('id')} has no title"
            assert panel.get("targets"), f"{name} / {panel['title']} has no queries"
            if panel["type"] != "logs":
                unit = panel["fieldConfig"]["defaults"].get("unit")
                assert unit, f"{name} / {panel['title']} has no unit"
            assert all(target.get("expr") for target in panel["targets"]), panel["title"]


def test_panels_fit_the_grid_without_overlapping() -> None:
    for name, dashboard in dashboards().items():
        taken: set[tuple[int, int]] = set()
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name} / {panel['title']} overflows the grid"
            cells = {
                (grid["x"] + dx, grid["y"] + dy)
                for dx in range(grid["w"])
                for dy in range(grid["h"])
            }
            assert not cells & taken, f"{name} / {panel['title']} overlaps another panel"
            taken |= cells


def test_the_dashboards_are_provisioned_into_the_refnet_folder() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())
    (provider,) = document["providers"]
    assert provider["type"] == "file" and provider["folder"] == "RefNet"
    assert provider["options"]["path"].startswith("/")


def test_metric_names_are_read_from_the_syntax_tree() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le) (rate(refnet_x_bucket{le="1", job=~"a.."}[5m])))'
    ) == {"refnet_x_bucket"}
    assert metric_names(
        'refnet_a / on (job) group_left (version) refnet_b{job="refnet_c"} > bool 0.5'
    ) == {"refnet_a", "refnet_b"}
    assert metric_names('absent(up{job="refnet-api"})') == {"up"}
    assert metric_names("vector(1)") == set()
    assert metric_names("time() - max by (kind) (refnet_t) > 26 * 3600") == {"refnet_t"}
    assert metric_names('max_over_time(refnet_s[1h:5m]) or {__name__="refnet_n"}') == {
        "refnet_s",
        "refnet_n",
    }


def test_dashboard_expressions_cover_every_dashboard_and_only_prometheus() -> None:
    expressions = dashboard_expressions()
    names = set().union(*(metric_names(expr) for expr in expressions))
    assert {"refnet_http_requests_total", "refnet_celery_queue_length", "refnet_papers"} <= names
    assert {"node_cpu_seconds_total", "pg_up", "redis_up", "nginx_up"} <= names
    assert not any("| json" in expr for expr in expressions)
