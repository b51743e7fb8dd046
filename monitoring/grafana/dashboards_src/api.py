"""The API: traffic, errors, latency, load and the database pool, with the API's own logs."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from .panels import board, graph, log_lines

LATENCY = (
    "histogram_quantile({q}, sum by (le) (rate(refnet_http_request_duration_seconds_bucket[5m])))"
)


def build() -> Dashboard:
    return board(
        "refnet-api",
        "RefNet API",
        "Requests, errors and latency of the RefNet API, and its database pool.",
        [
            (
                "Traffic and errors",
                [
                    graph(
                        "Requests by route",
                        "reqps",
                        ("sum by (route) (rate(refnet_http_requests_total[5m]))", "{{route}}"),
                    ),
                    graph(
                        "5xx error ratio",
                        "percentunit",
                        (
                            # 0, not "no data", while no request has failed yet
                            '(sum(rate(refnet_http_requests_total{status="5xx"}[5m])) or vector(0))'
                            " / sum(rate(refnet_http_requests_total[5m]))",
                            "5xx",
                        ),
                        description="Share of requests answered with a server error. "
                        "Alerted above 1% for 5 minutes.",
                    ),
                ],
            ),
            (
                "Latency and load",
                [
                    graph(
                        "Latency",
                        "s",
                        (LATENCY.format(q=0.5), "p50"),
                        (LATENCY.format(q=0.95), "p95"),
                        (LATENCY.format(q=0.99), "p99"),
                    ),
                    graph(
                        "Requests in flight",
                        "short",
                        ("sum(refnet_http_requests_in_flight)", "in flight"),
                    ),
                ],
            ),
            (
                "Database pool",
                [
                    graph(
                        "Pool connections in use",
                        "percentunit",
                        (
                            "sum by (pool) (refnet_db_pool_in_use_connections)"
                            " / sum by (pool) (refnet_db_pool_size_connections)",
                            "{{pool}}",
                        ),
                    ),
                    graph(
                        "Requests waiting for a connection",
                        "short",
                        ("sum by (pool) (refnet_db_pool_waiting_requests)", "{{pool}}"),
                    ),
                ],
            ),
            (
                "Logs",
                [
                    log_lines(
                        "API log lines",
                        '{service="api"} | json',
                        description='Add | request_id="…" to follow one request; '
                        'use {service=~".+"} to follow it into the workers.',
                    )
                ],
            ),
        ],
    )
