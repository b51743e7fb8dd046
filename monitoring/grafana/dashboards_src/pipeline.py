"""The pipeline: papers and edges, summaries, vault notes, external APIs, the LLM budget,
backups and health checks."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from .panels import board, graph, single


def build() -> Dashboard:
    return board(
        "refnet-pipeline",
        "RefNet pipeline",
        "What RefNet has crawled, summarized and written, what it spent, and its backups.",
        [
            (
                "Library",
                [
                    graph(
                        "Papers by state", "short", ("max by (state) (refnet_papers)", "{{state}}")
                    ),
                    graph("Citation edges", "short", ("max(refnet_citation_edges)", "edges")),
                    graph(
                        "Summaries",
                        "short",
                        ("max by (provider, status) (refnet_summaries)", "{{provider}} {{status}}"),
                    ),
                    graph(
                        "Vault notes written",
                        "ops",
                        (
                            "sum by (outcome) (rate(refnet_vault_notes_written_total[5m]))",
                            "{{outcome}}",
                        ),
                    ),
                ],
            ),
            (
                "External APIs",
                [
                    graph(
                        "Semantic Scholar requests",
                        "reqps",
                        ("sum by (outcome) (rate(refnet_s2_requests_total[5m]))", "{{outcome}}"),
                    ).span(8),
                    graph(
                        "Waiting on the Semantic Scholar rate limiter",
                        "percentunit",
                        ("rate(refnet_s2_rate_limit_wait_seconds_total[5m])", "{{instance}}"),
                        description="Seconds spent waiting per second: 100% is one process "
                        "waiting all the time.",
                    ).span(8),
                    graph(
                        "PDF downloads",
                        "ops",
                        ("sum by (outcome) (rate(refnet_pdf_downloads_total[5m]))", "{{outcome}}"),
                    ).span(8),
                ],
            ),
            (
                "LLM spending",
                [
                    graph(
                        "LLM tokens",
                        "short",
                        (
                            "sum by (provider, direction) (rate(refnet_llm_tokens_total[1h]))",
                            "{{provider}} {{direction}}",
                        ),
                        description="Tokens per second, averaged over the last hour.",
                    ).span(8),
                    graph(
                        "LLM cost per day",
                        "currencyUSD",
                        (
                            "sum by (provider) (increase(refnet_llm_cost_dollars_total[1d]))",
                            "{{provider}}",
                        ),
                        description="Estimated dollars spent over the preceding 24 hours.",
                    ).span(8),
                    single(
                        "LLM budget used",
                        "percentunit",
                        (
                            "max by (provider) (refnet_llm_budget_used_tokens)"
                            " / max by (provider) (refnet_llm_budget_tokens)",
                            "{{provider}}",
                        ),
                        description="Alerted at 80%.",
                    )
                    .span(8)
                    .height(8),
                ],
            ),
            (
                "Backups and health",
                [
                    single(
                        "Since the last good backup",
                        "s",
                        (
                            "time() - max by (kind) (refnet_backup_last_success_timestamp_seconds)",
                            "{{kind}}",
                        ),
                        description="Alerted above 26 hours.",
                    ),
                    single(
                        "Last backup size",
                        "bytes",
                        ("max by (kind) (refnet_backup_last_size_bytes)", "{{kind}}"),
                    ),
                    single(
                        "Health checks",
                        "short",
                        ("min by (part) (refnet_health_check_ok)", "{{part}}"),
                        ok_or_failing=True,
                    ).span(12),
                ],
            ),
        ],
    )
