"""Real Celery workers for end-to-end tests: started as the docs show, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis
from celery import Celery

from refnet.core.config import Settings
from refnet.worker.celery_app import make_celery
from refnet.worker.queues import QueueName
from tests.fakes.llm_servers import FakeOpenAI

VENV_BIN = Path(sys.executable).parent
REFNET = str(VENV_BIN / "refnet")
CELERY = str(VENV_BIN / "celery")


def stack_environment(
    database_url: str, redis_url: str, workdir: Path, *, s2_url: str, **overrides: str
) -> dict[str, str]:
    """What an end-to-end test's API, workers and beat start with: its PostgreSQL and Redis,
    data and vault under `workdir`, the fake Semantic Scholar at `s2_url` unthrottled, no PDF
    downloads, INFO logs; then `overrides`."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REFNET_DATA_DIR": str(workdir / "data"),
        "VAULT_DIR": str(workdir / "vault"),
        "SEMANTIC_SCHOLAR_API_URL": s2_url,
        "SEMANTIC_SCHOLAR_RATE": "100",
        "SUMMARIZER__FETCH_PDFS": "false",
        "LOG_LEVEL": "INFO",
        **overrides,
    }


def summarizer_on(llm: FakeOpenAI) -> dict[str, str]:
    """Settings that summarize with a paid OpenAI-compatible provider: the fake `llm`, with the
    key it requires (any key when it requires none)."""
    return {
        "SUMMARIZER__PROVIDER": "openai",
        "SUMMARIZER__MODEL": "local-model",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": llm.api_key or "llm-test-key",
    }


@contextmanager
def running_processes(
    commands: Sequence[Sequence[str]], env: dict[str, str], logs: Path, *, name: str = "worker"
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `commands` with `env` (output to `logs/<name><i>.log`); stopped with SIGTERM (then
    SIGKILL) at the end."""
    environment = {**os.environ, **env}
    files = [open(logs / f"{name}{i}.log", "wb") for i in range(len(commands))]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            list(command), env=environment, cwd=logs, stdout=out, stderr=subprocess.STDOUT
        )
        for command, out in zip(commands, files, strict=True)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for out in files:
            out.close()


@contextmanager
def running_workers(
    commands: Sequence[Sequence[str]], env: dict[str, str], logs: Path
) -> Iterator[Celery]:
    """Start `commands` (one worker each, output to `logs/worker<i>.log`); yields an app that
    talks to them, once every one answers a ping."""
    with running_processes(commands, env, logs):
        app = make_celery(Settings(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"]))
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=1.0)) < len(commands):
            assert time.monotonic() < deadline, "workers did not start: " + tail(logs)
        yield app


def tail(logs: Path) -> str:
    found = sorted([*logs.glob("worker*.log"), *logs.glob("beat*.log")])
    return "\n".join(f"== {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in found)


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{tail(logs)}"
        time.sleep(0.5)


def wait_idle(app: Celery, redis_url: str, logs: Path) -> None:
    """Until every queue is empty and no worker runs, holds or waits to run a task (a retry
    with its countdown), twice in a row."""
    client = redis.Redis.from_url(redis_url)
    quiet = 0
    deadline = time.monotonic() + 60
    while quiet < 2:
        assert time.monotonic() < deadline, "workers never went idle\n" + tail(logs)
        queued = sum(int(client.llen(queue.value)) for queue in QueueName)
        inspect = app.control.inspect(timeout=1.0)
        held = [inspect.active(), inspect.reserved(), inspect.scheduled()]
        busy = queued or any(tasks for answer in held for tasks in (answer or {}).values())
        quiet = 0 if busy else quiet + 1
        time.sleep(0.3)
    client.close()
