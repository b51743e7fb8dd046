"""Tasks that fail for good on real workers: recorded once with a reason a person can read,
listed by `refnet tasks failed`, re-driven by `refnet tasks retry`; a paper deleted between
enqueue and run is no failure at all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import sqlalchemy as sa

from refnet.core.handoff import CRAWL_SEEDS, GENERATE_VAULT, SUMMARIZE_PAPERS
from refnet.db.queries.operations import FailureView, list_failures
from refnet.db.session import get_engine, session_scope
from tests.integration.generator.factory import make_paper
from tests.support.workers import REFNET, running_workers, wait_for, wait_idle


def failures(url: str, *, include_retried: bool = False) -> list[FailureView]:
    with session_scope(url) as session:
        return list(list_failures(session=session, include_retried=include_retried))


def refnet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFNET, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_failures_are_recorded_listed_and_retried(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    vault.write_text("not a directory")  # the operator's mistake, fixed below
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "REFNET_DATA_DIR": str(tmp_path / "data"),
        "VAULT_DIR": str(vault),
        "LOG_LEVEL": "INFO",
    }
    paper_id = make_paper(pg_url, title="Deleted before its summary ran")
    commands = [[REFNET, "worker", "--queue", q] for q in ("crawler", "summarizer", "generator")]
    with running_workers(commands, env, tmp_path) as app:
        app.send_task(CRAWL_SEEDS, kwargs={"job_id": "twelve"})
        app.send_task(CRAWL_SEEDS, kwargs={"job": 12})
        with get_engine(pg_url).begin() as connection:
            connection.execute(sa.text("DELETE FROM papers WHERE id = :id"), {"id": paper_id})
        app.send_task(SUMMARIZE_PAPERS, kwargs={"paper_ids": [paper_id]})
        app.send_task(GENERATE_VAULT)
        wait_for(lambda: len(failures(pg_url)) >= 3, seconds=60, what="failures", logs=tmp_path)
        wait_idle(app, redis_url, tmp_path)

        found = [(f.task_name, f.reason) for f in failures(pg_url)]
        reasons = "\n".join(reason for _, reason in found)
        assert "job_id: Input should be a valid integer" in reasons
        assert "missing a required argument: 'job_id'" in reasons
        # Asked for twice (by hand, and by the summary task's hand-off): two failed deliveries.
        generating = [reason for name, reason in found if name == GENERATE_VAULT]
        assert generating and all("VAULT_DIR" in r and "not a directory" in r for r in generating)
        assert len(found) == 2 + len(generating)
        assert SUMMARIZE_PAPERS not in {name for name, _ in found}  # a missing paper is skipped
        assert "Traceback" not in reasons

        listed = refnet(env, "tasks", "failed")
        assert listed.returncode == 0, listed.stderr
        assert "valid integer" in listed.stdout and GENERATE_VAULT in listed.stdout

        vault.unlink()
        ids = [str(f.id) for f in failures(pg_url) if f.task_name == GENERATE_VAULT]
        retried = refnet(env, "tasks", "retry", *ids)
        assert retried.returncode == 0, retried.stderr
        assert f"Sent {len(ids)} task(s) again." in retried.stdout
        wait_for(
            lambda: (vault / "RefNet Index.md").exists(),
            seconds=60,
            what="the vault",
            logs=tmp_path,
        )
        wait_idle(app, redis_url, tmp_path)

        again = refnet(env, "tasks", "retry", ids[0])
        assert again.returncode == 1 and "not waiting for a retry" in again.stderr
    assert len(failures(pg_url)) == 2  # the malformed ones still wait for a person
    assert len(failures(pg_url, include_retried=True)) == 2 + len(ids)
