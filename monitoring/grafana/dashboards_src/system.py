"""The system under RefNet: scrape targets, the host, PostgreSQL, Redis, nginx and TLS."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from .panels import board, graph, single

NOT_VIRTUAL = '{fstype!~"tmpfs|overlay"}'


def build() -> Dashboard:
    return board(
        "refnet-system",
        "RefNet system",
        "Scrape targets, the host, PostgreSQL, Redis, nginx and the TLS certificate.",
        [
            (
                "Targets",
                [
                    single(
                        "Targets up", "short", ("up", "{{job}} {{instance}}"), ok_or_failing=True
                    ).span(24)
                ],
            ),
            (
                "Host",
                [
                    graph(
                        "CPU busy",
                        "percentunit",
                        ('1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))', "cpu"),
                    ).span(8),
                    graph(
                        "Memory used",
                        "percentunit",
                        (
                            "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                            "{{instance}}",
                        ),
                    ).span(8),
                    graph(
                        "Disk used",
                        "percentunit",
                        (
                            f"1 - node_filesystem_avail_bytes{NOT_VIRTUAL}"
                            f" / node_filesystem_size_bytes{NOT_VIRTUAL}",
                            "{{mountpoint}}",
                        ),
                    ).span(8),
                ],
            ),
            (
                "PostgreSQL",
                [
                    single("PostgreSQL", "short", ("pg_up", "{{instance}}"), ok_or_failing=True),
                    graph(
                        "Connections",
                        "short",
                        ("sum(pg_stat_database_numbackends)", "backends"),
                    ).span(9),
                    graph(
                        "Commits",
                        "ops",
                        (
                            "sum by (datname) (rate(pg_stat_database_xact_commit[5m]))",
                            "{{datname}}",
                        ),
                    ).span(9),
                ],
            ),
            (
                "Redis",
                [
                    single("Redis", "short", ("redis_up", "{{instance}}"), ok_or_failing=True),
                    graph("Memory", "bytes", ("redis_memory_used_bytes", "{{instance}}")).span(9),
                    graph("Clients", "short", ("redis_connected_clients", "{{instance}}")).span(9),
                ],
            ),
            (
                "nginx and TLS",
                [
                    single("nginx", "short", ("nginx_up", "{{instance}}"), ok_or_failing=True),
                    graph(
                        "Requests", "reqps", ("rate(nginx_http_requests_total[5m])", "{{instance}}")
                    ).span(6),
                    graph(
                        "Active connections", "short", ("nginx_connections_active", "{{instance}}")
                    ).span(6),
                    single(
                        "TLS certificate expires in",
                        "d",
                        (
                            "(refnet_tls_certificate_expiry_timestamp_seconds - time()) / 86400",
                            "",
                        ),
                        description="Days left. Alerted within 14 days.",
                    ),
                ],
            ),
        ],
    )
