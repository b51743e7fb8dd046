"""The one Celery application: named tasks, routing by name, policies, embedded vs stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from celery.exceptions import Retry

from refnet.core.backoff import task_retry_delay
from refnet.core.config import Settings
from refnet.core.errors import TransientError
from refnet.worker.celery_app import make_celery
from refnet.worker.policies import (
    MAX_RETRY_DELAY,
    TIME_LIMITS,
    VISIBILITY_TIMEOUT,
    RefNetTask,
)

SRC = Path(__file__).resolve().parents[3] / "src" / "refnet"
EXPECTED_QUEUES = {
    "refnet.crawler.crawl_seeds": "crawler",
    "refnet.summarizer.summarize_job": "summarizer",
    "refnet.summarizer.summarize_pending": "summarizer",
    "refnet.summarizer.summarize_papers": "summarizer",
    "refnet.generator.generate_vault": "generator",
    "refnet.crawler.recrawl_watched": "crawler",
    "refnet.maintenance.backup_database": "maintenance",
    "refnet.maintenance.backup_vault": "maintenance",
    "refnet.maintenance.prune_backups": "maintenance",
    "refnet.maintenance.check_health": "maintenance",
    "refnet.maintenance.report_statistics": "maintenance",
}
STACK = Settings(redis_url="redis://127.0.0.1:6379/15")


def test_every_task_has_a_stable_name_and_a_queue() -> None:
    app = make_celery(STACK)
    ours = {name for name in app.tasks if name.startswith("refnet.")}
    assert ours == set(EXPECTED_QUEUES)
    for name, queue in EXPECTED_QUEUES.items():
        route = app.amqp.router.route({}, name)
        assert route["queue"].name == queue, name


def test_unrouted_tasks_go_to_maintenance() -> None:
    app = make_celery(STACK)
    assert app.amqp.router.route({}, "refnet.maintenance.backup_database")["queue"].name == (
        "maintenance"
    )
    assert app.conf.task_default_queue == "maintenance"


def test_without_a_broker_tasks_run_in_process() -> None:
    assert make_celery(Settings()).conf.task_always_eager is True
    assert make_celery(Settings(redis_url="redis://h:6379/0")).conf.task_always_eager is False


def test_broker_url_prefers_celery_broker_url() -> None:
    settings = Settings(redis_url="redis://cache:6379/0", celery_broker_url="amqp://mq:5672//")
    assert make_celery(settings).conf.broker_url == "amqp://mq:5672//"


@pytest.mark.parametrize("name", sorted(EXPECTED_QUEUES))
def test_tasks_are_safe_to_redeliver_and_have_time_limits(name: str) -> None:
    """Long tasks carry limits of their own; the others get their worker's
    (WORKERS__<QUEUE>__TIME_LIMIT); the broker waits past all of them."""
    task = make_celery(STACK).tasks[name]
    assert isinstance(task, RefNetTask)
    assert task.acks_late and task.reject_on_worker_lost and task.max_retries
    queue_limit = STACK.workers.for_queue(EXPECTED_QUEUES[name]).time_limit
    if name in TIME_LIMITS:
        assert (task.soft_time_limit, task.time_limit) == TIME_LIMITS[name]
        assert task.soft_time_limit < task.time_limit
    else:
        assert task.time_limit is None
    longest = task.time_limit or queue_limit
    assert longest + MAX_RETRY_DELAY < VISIBILITY_TIMEOUT


def test_a_longer_worker_time_limit_raises_the_visibility_timeout() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/15", workers={"generator": {"time_limit": 8 * 3600}}
    )
    timeout = make_celery(settings).conf.broker_transport_options["visibility_timeout"]
    assert timeout > 8 * 3600 + MAX_RETRY_DELAY


def test_visibility_timeout_reaches_the_broker() -> None:
    app = make_celery(STACK)
    assert app.conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT


def test_retry_countdown_honours_retry_after_and_backs_off() -> None:
    assert task_retry_delay(0, 300.0) >= 300.0
    assert task_retry_delay(0, 5000.0) == MAX_RETRY_DELAY  # never beyond the broker's patience
    early = [task_retry_delay(0, None) for _ in range(50)]
    late = [task_retry_delay(6, None) for _ in range(50)]
    assert min(early) > 0 and max(early) <= 15
    assert min(late) > max(early)
    assert max(late) <= MAX_RETRY_DELAY


def test_a_transient_failure_on_a_worker_is_retried_after_its_retry_after() -> None:
    app = make_celery(Settings(celery_broker_url="memory://"))  # the retry is sent here

    @app.task(name="refnet.test.flaky", shared=False)
    def flaky() -> None:
        raise TransientError("Semantic Scholar asked us to wait", retry_after=600)

    flaky.push_request(is_eager=False, called_directly=False, retries=0, id="t1")
    try:
        with pytest.raises(Retry) as retried:
            flaky()
    finally:
        flaky.pop_request()
    assert retried.value.when >= 600  # the countdown, in seconds


def test_in_process_a_transient_failure_reaches_the_caller_as_itself() -> None:
    app = make_celery(Settings())

    @app.task(name="refnet.test.flaky_here", shared=False)
    def flaky_here() -> None:
        raise TransientError("down", retry_after=5)

    with pytest.raises(TransientError, match="down"):
        flaky_here.apply(throw=True)


LAYERS = {"core": 0, "db": 1, "sources": 2, "crawler": 3, "summarizer": 3, "generator": 3}
LAYERS |= {"security": 2, "ops": 2, "worker": 4, "api": 4, "cli": 5}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("refnet.")}


def test_imports_go_one_way() -> None:
    """core → db → sources → {crawler, summarizer, generator} → {worker, api} (DESIGN.md §2);
    components never import each other, and nothing below the workers imports Celery wiring."""
    for package, level in LAYERS.items():
        for path in (SRC / package).rglob("*.py"):
            for module in _imports(path):
                other = module.split(".")[1]
                if other not in LAYERS or other == package:
                    continue
                wrong = LAYERS[other] > level or (LAYERS[other] == level == 3)
                assert not wrong, f"{path.relative_to(SRC)} imports {module}"
