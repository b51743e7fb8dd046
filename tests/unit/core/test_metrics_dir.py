"""The multiprocess directory at start: what a crashed run left is removed and never counted
again, what a running process of another role writes is kept, what RefNet did not make is left
alone, and a process always starts from an empty directory of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import prometheus_client.values
import pytest
from prometheus_client import CollectorRegistry, Counter, multiprocess
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

import refnet.core.metrics as metrics_module
from refnet.core.metrics import MULTIPROC_ENV, prepare_multiprocess_dir, render

TASK = "refnet.maintenance.report_statistics"
RECEIVED = "refnet_celery_tasks_received_total"
# A process that counts 7 tasks received in its own `worker-<pid>` directory, then exits.
CRASHED_WORKER = f"""
import os, pathlib, sys
own = pathlib.Path(sys.argv[1]) / f"worker-{{os.getpid()}}"
own.mkdir()
os.environ["{MULTIPROC_ENV}"] = str(own)
from refnet.core.metrics import TASKS_RECEIVED
TASKS_RECEIVED.labels("{TASK}", "maintenance").inc(7)
print(own, flush=True)
"""
# A running API process: 3 requests counted in its own `api-<pid>` directory, then it waits.
RUNNING_API = f"""
import os, pathlib, sys, time
own = pathlib.Path(sys.argv[1]) / f"api-{{os.getpid()}}"
own.mkdir()
os.environ["{MULTIPROC_ENV}"] = str(own)
from refnet.core.metrics import observe_request
for _ in range(3):
    observe_request("GET", "/api/papers", 200, 0.01)
print(own, flush=True)
time.sleep(120)
"""
# A worker's start, as far as metrics go: import, prepare its directory, count one task.
WORKER_START = f"""
import os
from refnet.core.metrics import TASKS_RECEIVED, prepare_multiprocess_dir
prepare_multiprocess_dir("worker")
TASKS_RECEIVED.labels("{TASK}", "maintenance").inc()
print(os.getpid(), flush=True)
"""


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR pointing at an empty base; afterwards the value store, the
    module's metrics and the environment are what they were, so other tests count in memory."""
    directory = tmp_path / "metrics"
    monkeypatch.setenv(MULTIPROC_ENV, str(directory))
    value_class = prometheus_client.values.ValueClass
    cleanups = len(prometheus_client.values._multi_process_cleanups)
    unlabelled = {
        metric: metric._value
        for metric in vars(metrics_module).values()
        if isinstance(metric, MetricWrapperBase) and hasattr(metric, "_value")
    }
    yield directory
    for cleanup in prometheus_client.values._multi_process_cleanups[cleanups:]:
        cleanup()  # closes the files of every store prepare_multiprocess_dir made
    del prometheus_client.values._multi_process_cleanups[cleanups:]
    prometheus_client.values.ValueClass = value_class
    for metric, value in unlabelled.items():
        metric._value = value


def run_python(script: str, *arguments: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def counted(directory: Path) -> dict[str, float]:
    """Sample name and labels -> value, as an exporter reading `directory` would serve them."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def received(exposition: bytes | str) -> float:
    """refnet_celery_tasks_received_total for the statistics task, summed over what is served."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == RECEIVED and sample.labels.get("task") == TASK
    )


def test_a_crashed_worker_directory_is_removed_and_not_counted(base: Path) -> None:
    base.mkdir()
    leftover = Path(run_python(CRASHED_WORKER, str(base)).strip())
    assert received_in(leftover) == 7  # real counter files, from a process that is gone

    own = prepare_multiprocess_dir("worker")

    assert not leftover.exists()
    assert sorted(base.iterdir()) == [own]
    Counter(RECEIVED[: -len("_total")], "", ["task", "queue"], registry=None).labels(
        TASK, "maintenance"
    ).inc()
    assert received(render()[0]) == 1  # this run's one task, not 1 + 7


def test_a_running_process_of_another_role_keeps_its_directory(base: Path) -> None:
    base.mkdir()
    api = subprocess.Popen(
        [sys.executable, "-c", RUNNING_API, str(base)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert api.stdout is not None
        theirs = Path(api.stdout.readline().strip())
        before = counted(theirs)

        own = prepare_multiprocess_dir("worker")

        assert api.poll() is None
        assert sorted(base.iterdir()) == sorted([theirs, own])
        assert counted(theirs) == before
        assert any(value == 3 for name, value in before.items() if "http_requests" in name)
    finally:
        api.kill()
        api.wait()


def test_a_directory_not_named_after_a_process_is_left_alone(base: Path) -> None:
    others = [base / "grafana-data", base / "worker-old", base / "notes"]
    for directory in others:
        directory.mkdir(parents=True)
        (directory / "keep.txt").write_text("not RefNet's\n")

    own = prepare_multiprocess_dir("worker")

    assert sorted(base.iterdir()) == sorted([*others, own])
    assert all((directory / "keep.txt").read_text() == "not RefNet's\n" for directory in others)


def test_a_directory_refnet_did_not_make_is_left_alone_though_it_ends_in_a_number(
    base: Path,
) -> None:
    """PROMETHEUS_MULTIPROC_DIR=/tmp is a common setting: /tmp/tmux-1000 or a dated backup
    directory there must survive a worker starting."""
    dated = base / "reports-20240101"  # above any pid_max: no process has this number
    dated.mkdir(parents=True)
    (dated / "january.csv").write_text("papers,42\n")

    prepare_multiprocess_dir("worker")

    assert (dated / "january.csv").read_text() == "papers,42\n"


def test_a_directory_left_under_this_process_number_is_emptied(base: Path) -> None:
    """In a container the worker has the same pid at every start: what the crashed run before it
    left under that number is not counted."""
    stale = base / f"worker-{os.getpid()}"
    stale.mkdir(parents=True)
    leftover = Path(run_python(CRASHED_WORKER, str(base)).strip())
    files = [file.rename(stale / file.name) for file in leftover.iterdir()]
    assert received_in(stale) == 7

    own = prepare_multiprocess_dir("worker")

    assert own == stale
    assert not any(file.exists() for file in files)
    assert received(render()[0]) == 0


def test_calling_again_empties_the_same_directory(base: Path) -> None:
    first = prepare_multiprocess_dir("worker")
    (first / "counter_99999999.db").write_bytes(b"stale")

    second = prepare_multiprocess_dir("worker")

    assert second == first
    assert sorted(base.iterdir()) == [first]
    assert not (first / "counter_99999999.db").exists()


def test_a_base_that_does_not_exist_yet_is_made(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR naming a directory not made yet (a fresh tmpfs, a new volume):
    the worker starts and makes it."""
    base = tmp_path / "not-yet"

    pid = run_python(WORKER_START, env={MULTIPROC_ENV: str(base)}).strip()

    assert received_in(base / f"worker-{pid}") == 1


def test_nothing_is_left_in_the_base_outside_the_process_directories(base: Path) -> None:
    """Every start of a worker leaves its figures in its own directory only: nothing piles up
    in the base that no sweep removes."""
    base.mkdir()
    pids = [run_python(WORKER_START, env={MULTIPROC_ENV: str(base)}).strip() for _ in range(2)]

    assert [path.name for path in base.iterdir()] == [f"worker-{pids[-1]}"]


def received_in(directory: Path) -> float:
    return sum(value for name, value in counted(directory).items() if name.startswith(RECEIVED))
