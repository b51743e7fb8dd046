"""`refnet worker` sizes itself from its queue's settings (WORKERS__<QUEUE>__*), as the running
worker reports it to the broker."""

from __future__ import annotations

from pathlib import Path

from tests.support.workers import REFNET, running_workers


def test_a_worker_takes_its_queues_settings(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REFNET_DATA_DIR": str(tmp_path / "data"),
        "WORKERS__MAINTENANCE__CONCURRENCY": "3",
        "WORKERS__MAINTENANCE__PREFETCH": "2",
        "WORKERS__MAINTENANCE__MAX_TASKS_PER_CHILD": "7",
        "WORKERS__MAINTENANCE__TIME_LIMIT": "120",
        "WORKERS__CRAWLER__CONCURRENCY": "5",  # another queue's: not this worker's
    }
    with running_workers([[REFNET, "worker", "--queue", "maintenance"]], env, tmp_path) as app:
        [stats] = (app.control.inspect(timeout=2.0).stats() or {}).values()
        [queues] = (app.control.inspect(timeout=2.0).active_queues() or {}).values()
    pool = stats["pool"]
    assert pool["max-concurrency"] == 3
    assert len(pool["processes"]) == 3
    assert stats["prefetch_count"] == 3 * 2
    assert pool["max-tasks-per-child"] == 7
    assert pool["timeouts"] == [108, 120]  # the soft limit leaves a tenth to hand work on
    assert [queue["name"] for queue in queues] == ["maintenance"]
