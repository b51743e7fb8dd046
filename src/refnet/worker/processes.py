"""The processes RefNet ships (the deployment runs exactly these), and the start-up check that a
worker or beat runs before it takes work: every scheduled task is registered, and every queue a
task can be routed to has a worker among the shipped processes.
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import Celery

from refnet.worker.queues import DEFAULT_QUEUE, QueueName
from refnet.worker.schedule import SCHEDULED_TASKS

WORKER_PROCESSES: dict[str, tuple[str, ...]] = {
    f"worker-{queue.value}": ("refnet", "worker", "--queue", queue.value) for queue in QueueName
}
SHIPPED_PROCESSES: dict[str, tuple[str, ...]] = {
    "api": ("refnet", "serve", "--host", "0.0.0.0", "--port", "8000"),
    **WORKER_PROCESSES,
    "beat": ("refnet", "beat"),
    "flower": ("refnet", "flower"),
}


def served_queues(commands: Iterable[tuple[str, ...]]) -> set[str]:
    served = set()
    for command in commands:
        if command[1:2] == ("worker",) and "--queue" in command:
            served.add(command[command.index("--queue") + 1])
    return served


def startup_problems(
    app: Celery, commands: Iterable[tuple[str, ...]] = SHIPPED_PROCESSES.values()
) -> list[str]:
    """What would leave work undone: empty when the app and the processes fit together."""
    problems = [
        f"scheduled task {name} is not registered (is its module in TASK_MODULES?)"
        for name in sorted(SCHEDULED_TASKS - set(app.tasks))
    ]
    ours = sorted(name for name in app.tasks if name.startswith("refnet."))
    routed = {app.amqp.router.route({}, name)["queue"].name for name in ours}
    routed.add(DEFAULT_QUEUE.value)
    served = served_queues(commands)
    problems += [
        f"queue {queue} receives tasks but no shipped process runs `refnet worker --queue {queue}`"
        for queue in sorted(routed - served)
    ]
    return problems
