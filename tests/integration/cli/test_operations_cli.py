"""`refnet health` and `refnet tasks failed|retry` as an operator runs them: exit codes, the
table printed, what is stored, and what a retried task does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import redis

from refnet.core.config import settings_from
from refnet.core.errors import InvalidInput, TransientError
from refnet.db.queries.operations import list_findings, record_fired, register_entries
from refnet.db.session import dispose_engines, session_scope
from refnet.worker import failures
from tests.support.api import clean_environment
from tests.support.workers import REFNET

QUEUES = ("crawler", "summarizer", "generator", "maintenance")
ENTRIES = (
    "recrawl",
    "summary_sweep",
    "regenerate",
    "backup_database",
    "backup_vault",
    "retention",
    "health",
    "statistics",
)
INDEX_NOTE = "RefNet Index.md"


def refnet(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **clean_environment(),
        "REFNET_DATA_DIR": str(workdir / "data"),
        "VAULT_DIR": str(workdir / "vault"),
        "COLUMNS": "300",
        **env,
    }
    return subprocess.run(
        [REFNET, *args],
        env=environment,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def health_table(output: str) -> dict[str, tuple[str, str]]:
    """The printed table: part → (state, detail)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 5 and cells[1] and cells[1] != "part":
            rows[cells[1]] = (cells[2], cells[3])
    return rows


def problems(output: str) -> set[str]:
    return {part for part, (state, _) in health_table(output).items() if state == "PROBLEM"}


def embedded_url(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'data' / 'refnet.sqlite3').resolve()}"


def record(url: str, task_name: str, kwargs: dict[str, object], exc: Exception) -> None:
    """A failure as a worker records it when a task fails for good."""
    with settings_from({"DATABASE_URL": url}):
        failures.record(
            task_id=f"task-{task_name}-{len(str(kwargs))}",
            task_name=task_name,
            queue=task_name.split(".")[1],
            kwargs=kwargs,
            exc=exc,
            retries=8,
        )
    dispose_engines()


# --- refnet health ----------------------------------------------------------------------------
def test_health_on_a_fresh_install_asks_for_backups_then_is_all_ok(tmp_path: Path) -> None:
    first = refnet(tmp_path, "health")
    assert first.returncode == 1, first.stdout + first.stderr
    table = health_table(first.stdout)
    # The embedded default has no workers and no beat to check.
    assert set(table) == {
        "database",
        "disk_data",
        "disk_vault",
        "backup_database",
        "backup_vault",
        "failed_tasks",
    }
    assert table["database"][0] == "ok"
    assert table["backup_database"] == (
        "PROBLEM",
        f"no database backup in {tmp_path / 'data' / 'backups'} yet",
    )
    assert problems(first.stdout) == {"backup_database", "backup_vault"}
    assert table["failed_tasks"] == ("ok", "none waiting")

    assert refnet(tmp_path, "generate").returncode == 0
    created = refnet(tmp_path, "backup", "create", "--kind", "all")
    assert created.returncode == 0, created.stdout + created.stderr

    second = refnet(tmp_path, "health")
    assert second.returncode == 0, second.stdout + second.stderr
    assert problems(second.stdout) == set()
    assert health_table(second.stdout)["backup_vault"][1].startswith("last good ")


def test_without_a_vault_only_its_backup_is_missing(tmp_path: Path) -> None:
    """`backup create --kind all` skips a vault not written yet, and health keeps saying so."""
    assert refnet(tmp_path, "db", "upgrade").returncode == 0
    created = refnet(tmp_path, "backup", "create", "--kind", "all")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "nothing to back up there" in created.stdout
    checked = refnet(tmp_path, "health")
    assert checked.returncode == 1
    assert problems(checked.stdout) == {"backup_vault"}


def test_health_names_a_volume_short_of_space(tmp_path: Path) -> None:
    checked = refnet(tmp_path, "health", HEALTH__MIN_FREE_MB=str(10**9))
    assert checked.returncode == 1
    table = health_table(checked.stdout)
    assert table["disk_data"][0] == "PROBLEM"
    assert "below HEALTH__MIN_FREE_MB=1000000000" in table["disk_data"][1]
    assert {"disk_data", "disk_vault"} <= problems(checked.stdout)


def test_health_refuses_a_bad_schedule_naming_the_variable(tmp_path: Path) -> None:
    checked = refnet(tmp_path, "health", SCHEDULE__RECRAWL__TIMING="sometimes")
    assert checked.returncode == 2
    assert "SCHEDULE__RECRAWL__TIMING" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_health_on_the_stack_names_missing_workers_and_beat(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    record(pg_url, "refnet.crawler.crawl_seeds", {"job_id": 4}, TransientError("S2 is down"))
    with session_scope(pg_url) as session:
        register_entries(session=session, entries={"health": "refnet.maintenance.check_health"})
        record_fired(
            session=session,
            entry="health",
            task_name="refnet.maintenance.check_health",
        )
    stack = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "SCHEDULE__RECRAWL__ENABLED": "false"}

    checked = refnet(tmp_path, "health", **stack)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    table = health_table(checked.stdout)
    assert table["database"][0] == "ok"
    assert table["redis"] == ("ok", "reachable")
    for queue in QUEUES:
        assert table[f"worker_{queue}"] == ("PROBLEM", f"no live worker consumes {queue} (depth 0)")
    never_fired = set(ENTRIES) - {"recrawl", "health"}
    for entry in never_fired:
        assert table[f"beat_{entry}"] == (
            "PROBLEM",
            "not scheduled by any beat: is `refnet beat` running?",
        )
    assert "beat_recrawl" not in table  # disabled: nothing to expect of it
    assert table["beat_health"][0] == "ok"
    assert table["beat_health"][1].startswith("last fired ")
    assert table["failed_tasks"][0] == "PROBLEM"
    assert (
        "1 failed task(s) wait for a person (refnet.crawler.crawl_seeds)"
        in table["failed_tasks"][1]
    )
    assert problems(checked.stdout) == (
        {f"worker_{queue}" for queue in QUEUES}
        | {f"beat_{entry}" for entry in never_fired}
        | {"backup_database", "backup_vault", "failed_tasks"}
    )

    with session_scope(pg_url) as session:
        stored = {finding.part: finding for finding in list_findings(session=session)}
    assert set(stored) == set(table)
    assert stored["worker_crawler"].ok is False
    assert stored["worker_crawler"].detail == "no live worker consumes crawler (depth 0)"
    assert stored["database"].ok is True


# --- refnet tasks failed | retry --------------------------------------------------------------
def test_no_failed_tasks_is_said_so(tmp_path: Path, database_url: str) -> None:
    listed = refnet(tmp_path, "tasks", "failed", DATABASE_URL=database_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "No failed tasks."


def test_a_failed_task_is_listed_with_its_reason(tmp_path: Path, database_url: str) -> None:
    record(
        database_url,
        "refnet.crawler.crawl_seeds",
        {"job_id": 41},
        TransientError("Semantic Scholar answered 429"),
    )
    listed = refnet(tmp_path, "tasks", "failed", DATABASE_URL=database_url)
    assert listed.returncode == 0, listed.stderr
    assert "refnet.crawler.crawl_seeds" in listed.stdout
    assert "job_id=41" in listed.stdout
    assert "gave up after 8 retries: Semantic Scholar answered 429" in listed.stdout


def test_retry_needs_ids_or_all(tmp_path: Path) -> None:
    neither = refnet(tmp_path, "tasks", "retry")
    assert neither.returncode == 2
    assert "give failure ids, or --all" in neither.stderr
    both = refnet(tmp_path, "tasks", "retry", "1", "--all")
    assert both.returncode == 2


def test_retrying_an_unknown_failure_says_it_is_not_waiting(tmp_path: Path) -> None:
    retried = refnet(tmp_path, "tasks", "retry", "999")
    assert retried.returncode == 1
    assert "not waiting for a retry" in retried.stderr
    assert "999" in retried.stderr


def test_retry_on_the_embedded_default_runs_the_task_here(tmp_path: Path) -> None:
    assert refnet(tmp_path, "db", "upgrade").returncode == 0
    record(embedded_url(tmp_path), "refnet.generator.generate_vault", {}, OSError("disk full"))
    assert not (tmp_path / "vault" / INDEX_NOTE).exists()

    retried = refnet(tmp_path, "tasks", "retry", "--all")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "Sent 1 task(s) again." in retried.stdout
    assert (tmp_path / "vault" / INDEX_NOTE).is_file()

    assert refnet(tmp_path, "tasks", "failed").stdout.strip() == "No failed tasks."
    everything = refnet(tmp_path, "tasks", "failed", "--all").stdout
    assert "refnet.generator.generate_vault" in everything
    assert "retried" in everything
    assert "OSError: disk full" in everything

    again = refnet(tmp_path, "tasks", "retry", "1")
    assert again.returncode == 1
    assert "re-driven already" in again.stderr


def test_a_retry_that_fails_again_is_kept_and_the_others_still_run(tmp_path: Path) -> None:
    """In-process the retried task runs now: if it fails again, the failure stays listed with
    the new reason, and the tasks retried after it still run."""
    assert refnet(tmp_path, "db", "upgrade").returncode == 0
    url = embedded_url(tmp_path)
    record(url, "refnet.crawler.crawl_seeds", {"job_id": "abc"}, InvalidInput("hand-written"))
    record(url, "refnet.generator.generate_vault", {}, OSError("disk full"))

    retried = refnet(tmp_path, "tasks", "retry", "--all")
    assert retried.returncode == 2, retried.stdout + retried.stderr
    assert "job_id" in retried.stderr
    assert (tmp_path / "vault" / INDEX_NOTE).is_file()  # the vault task after it still ran

    waiting = refnet(tmp_path, "tasks", "failed").stdout
    assert "refnet.crawler.crawl_seeds" in waiting
    assert "malformed arguments for refnet.crawler.crawl_seeds" in waiting
    assert "generate_vault" not in waiting


def test_retry_on_the_stack_queues_the_task_for_its_worker(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    record(pg_url, "refnet.crawler.crawl_seeds", {"job_id": 7}, TransientError("S2 is down"))
    stack = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    retried = refnet(tmp_path, "tasks", "retry", "--all", **stack)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "Sent 1 task(s) again." in retried.stdout

    client = redis.Redis.from_url(redis_url)
    try:
        queued = [json.loads(raw) for raw in client.lrange("crawler", 0, -1)]
    finally:
        client.close()
    assert [message["headers"]["task"] for message in queued] == ["refnet.crawler.crawl_seeds"]
    assert json.loads(queued[0]["headers"]["kwargsrepr"].replace("'", '"')) == {"job_id": 7}
    assert refnet(tmp_path, "tasks", "failed", **stack).stdout.strip() == "No failed tasks."
