"""The panel vocabulary every RefNet dashboard is written in.

Each panel names its datasource by the uid provisioned in
`provisioning/datasources/datasources.yml`, so a dashboard never depends on Grafana's default.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import (
    common,
    dashboard,
    logs,
    loki,
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    LogsSortOrder,
    TooltipDisplayMode,
)

PROMETHEUS = models.DataSourceRef(type_val="prometheus", uid="refnet-prometheus")
LOKI = models.DataSourceRef(type_val="loki", uid="refnet-loki")
GRID_WIDTH = 24

Query = tuple[str, str]  # a PromQL expression and its legend
Row = tuple[str, list[Builder[models.Panel]]]

OK_OR_FAILING = [
    models.ValueMap(
        options={
            "0": models.ValueMappingResult(text="failing", color="red", index=0),
            "1": models.ValueMappingResult(text="ok", color="green", index=1),
        }
    )
]


def _targets(queries: tuple[Query, ...], *, instant: bool = False) -> list[Builder[Dataquery]]:
    targets: list[Builder[Dataquery]] = []
    for number, (expr, legend) in enumerate(queries):
        ref_id = chr(ord("A") + number)
        target = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)
        target.datasource(PROMETHEUS)
        targets.append(target.instant() if instant else target.range())
    return targets


def graph(title: str, unit: str, *queries: Query, description: str = "") -> timeseries.Panel:
    """A time series of one or more PromQL queries."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .targets(_targets(queries))
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI))
        .height(8)
        .span(12)
    )


def single(
    title: str,
    unit: str,
    *queries: Query,
    description: str = "",
    ok_or_failing: bool = False,
) -> stat.Panel:
    """The current value of each series, big."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .targets(_targets(queries, instant=True))
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(BigValueGraphMode.NONE)
        .height(5)
        .span(6)
    )
    if ok_or_failing:
        panel.mappings(list(OK_OR_FAILING))
    return panel


def log_lines(title: str, expr: str, *, description: str = "") -> logs.Panel:
    """Log lines from Loki, newest first."""
    return (
        logs.Panel()
        .title(title)
        .description(description)
        .datasource(LOKI)
        .with_target(loki.Dataquery().expr(expr).ref_id("A").datasource(LOKI))
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(LogsSortOrder.DESCENDING)
        .height(12)
        .span(24)
    )


def board(uid: str, title: str, description: str, rows: list[Row]) -> models.Dashboard:
    """A dashboard of titled rows, its panels numbered in order and laid out left to right."""
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["refnet"])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("1m")
    )
    for row_title, panels in rows:
        builder.with_row(dashboard.Row(row_title))
        for panel in panels:
            builder.with_panel(panel)
    built = builder.build()
    _lay_out(built.panels or [])
    return built


def _lay_out(panels: list[models.Panel | models.RowPanel]) -> None:
    """Number the panels and place them on Grafana's 24-column grid, wrapping a panel that
    does not fit on the current line (the SDK's own layout lets it overflow)."""
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        panel.id_val = number
        size = panel.grid_pos or models.GridPos()
        if isinstance(panel, models.RowPanel):
            x, y, line_height = 0, y + line_height + 1, 0
            panel.grid_pos = models.GridPos(h=1, w=24, x=0, y=y - 1)
            continue
        if x + size.w > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        panel.grid_pos = models.GridPos(h=size.h, w=size.w, x=x, y=y)
        x += size.w
        line_height = max(line_height, size.h)


def to_json(built: models.Dashboard) -> str:
    """Stable text: the same source always gives the same bytes."""
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
