"""Celery: queues, live workers, task outcomes and timings, the beat schedule and failed tasks."""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models.dashboard import Dashboard

from .panels import board, graph, single

OUTCOMES = ("sent", "received", "started", "succeeded", "failed", "retried")


def _outcome(outcome: str) -> timeseries.Panel:
    return graph(
        f"Tasks {outcome}",
        "ops",
        (f"sum by (task) (rate(refnet_celery_tasks_{outcome}_total[5m]))", "{{task}}"),
    ).span(8)


def build() -> Dashboard:
    return board(
        "refnet-celery",
        "RefNet Celery",
        "Queues, workers, tasks and the beat schedule of RefNet's Celery workers.",
        [
            (
                "Queues and workers",
                [
                    graph(
                        "Queue length",
                        "short",
                        ("max by (queue) (refnet_celery_queue_length)", "{{queue}}"),
                        description="Messages waiting in each queue.",
                    ),
                    graph(
                        "Live workers",
                        "short",
                        ("max by (queue) (refnet_celery_workers)", "{{queue}}"),
                        description="Workers consuming each queue. Zero means nothing runs it.",
                    ),
                ],
            ),
            ("Tasks per second", [_outcome(outcome) for outcome in OUTCOMES]),
            (
                "Timings",
                [
                    graph(
                        "Task runtime p95",
                        "s",
                        (
                            "histogram_quantile(0.95, sum by (le, task)"
                            " (rate(refnet_celery_task_runtime_seconds_bucket[5m])))",
                            "{{task}}",
                        ),
                    ),
                    graph(
                        "Queue wait p95",
                        "s",
                        (
                            "histogram_quantile(0.95, sum by (le, queue)"
                            " (rate(refnet_celery_task_queue_wait_seconds_bucket[5m])))",
                            "{{queue}}",
                        ),
                        description="Time from sending a task to a worker starting it.",
                    ),
                ],
            ),
            (
                "Beat and failures",
                [
                    single(
                        "Since each entry last fired",
                        "s",
                        (
                            "time() - max by (entry)"
                            " (refnet_schedule_last_fired_timestamp_seconds)",
                            "{{entry}}",
                        ),
                    ),
                    single(
                        "Last run of each entry",
                        "short",
                        ("max by (entry) (refnet_schedule_last_run_ok)", "{{entry}}"),
                        ok_or_failing=True,
                    ),
                    single(
                        "Since beat last ticked",
                        "s",
                        ("time() - max(refnet_beat_tick_timestamp_seconds)", "beat"),
                        description="Beat records a tick on every loop; a growing age means "
                        "beat is stuck or down.",
                    ),
                    single(
                        "Failed tasks waiting",
                        "short",
                        ("max by (task) (refnet_failed_tasks)", "{{task}}"),
                        description="Tasks that failed for good and wait for a person.",
                    ),
                ],
            ),
        ],
    )
