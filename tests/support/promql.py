"""What the generated Grafana dashboards query, read the way Prometheus reads it.

`metric_names` walks promql_parser's syntax tree, so label values, grouping clauses, function
names and durations are never mistaken for metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "monitoring" / "grafana" / "dashboards"


def metric_names(expr: str) -> set[str]:
    """Every metric name `expr` selects, wherever the selector sits: inside range vectors,
    subqueries, function calls, aggregations and either side of binary operators."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or _name_matcher(node)
            if name:
                names.add(name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _name_matcher(selector: promql_parser.VectorSelector) -> str | None:
    """The name of a selector written `{__name__="x"}`; a regex on the name selects no one name."""
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
            return matcher.value
    return None


def dashboards() -> dict[str, dict[str, Any]]:
    """The generated dashboards, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel but rows, including those folded inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def datasource_of(panel: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The datasource a target queries: its own, else its panel's."""
    found: dict[str, Any] = target.get("datasource") or panel.get("datasource") or {}
    return found


def dashboard_expressions() -> list[str]:
    """Every Prometheus query expression in the generated dashboards."""
    return [
        target["expr"]
        for dashboard in dashboards().values()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if datasource_of(panel, target).get("type") == "prometheus"
    ]
