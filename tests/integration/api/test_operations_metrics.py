"""`/metrics` carries what unattended operation recorded: beat entries' runs, failed tasks, the
last good backups and the health findings, read from the database and the backup directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from refnet.core.config import Settings
from refnet.db import migrate
from refnet.db.queries.operations import (
    record_failure,
    record_finished,
    record_fired,
    register_entries,
    store_findings,
)
from refnet.db.session import dispose_engines, get_engine, session_scope
from refnet.ops.backup import create_backup
from tests.conftest import PG_URL, empty_database
from tests.integration.api.conftest import workdir_of
from tests.support.api import ApiServer, api_server

ENTRY = "metrics_probe"


def samples(server: ApiServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(server.base_url + "/metrics", timeout=10)
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_show_schedule_failures_backups_and_health(api: ApiServer) -> None:
    url = api.database_url
    settings = Settings(database_url=url, data_dir=workdir_of(api) / "data")
    backups = settings.backup_dir
    try:
        with session_scope(url) as session:
            register_entries(session=session, entries={ENTRY: "refnet.maintenance.check_health"})
            record_fired(session=session, entry=ENTRY, task_name="t")
            record_finished(session=session, entry=ENTRY, outcome="failed", detail="boom")
            record_failure(
                session=session,
                task_id="metrics-probe-failure",
                task_name="refnet.test.metrics_probe",
                queue="maintenance",
                kwargs={},
                error_type="InvalidInput",
                reason="malformed",
                retries=0,
            )
            store_findings(session=session, findings=[("metrics_probe", False, "down")])
        made = create_backup(settings=settings, kind="database")

        found = samples(api)
        assert found[("refnet_operations_up", ())] == 1
        assert found[("refnet_schedule_fired_total", (("entry", ENTRY),))] == 1
        assert found[("refnet_schedule_completed_total", (("entry", ENTRY),))] == 1
        assert found[("refnet_schedule_last_run_ok", (("entry", ENTRY),))] == 0
        assert found[("refnet_failed_tasks", (("task", "refnet.test.metrics_probe"),))] == 1
        assert found[("refnet_health_check_ok", (("part", "metrics_probe"),))] == 0
        kind = (("kind", "database"),)
        assert found[("refnet_backup_last_success_timestamp_seconds", kind)] == (
            made.created_at.timestamp()
        )
        assert found[("refnet_backup_last_size_bytes", kind)] == made.size
        assert found[("refnet_backup_last_duration_seconds", kind)] == made.duration_seconds
    finally:
        with get_engine(url).begin() as connection:
            connection.execute(sa.text(f"DELETE FROM schedule_runs WHERE entry = '{ENTRY}'"))
            connection.execute(
                sa.text("DELETE FROM task_failures WHERE task_id = 'metrics-probe-failure'")
            )
            connection.execute(sa.text("DELETE FROM health_findings WHERE part = 'metrics_probe'"))
        shutil.rmtree(backups, ignore_errors=True)


def test_metrics_answer_while_the_database_is_down(tmp_path: Path) -> None:
    url = f"{PG_URL}_metrics_down"
    empty_database(url)
    migrate.upgrade(url)
    dispose_engines()
    name = make_url(url).database
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with api_server(tmp_path, {"DATABASE_URL": url}) as server:
            with admin.connect() as connection:
                connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": name},
                )
            found = samples(server)
        assert found[("refnet_operations_up", ())] == 0
        assert any(name == "refnet_http_requests_total" for name, _ in found)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
