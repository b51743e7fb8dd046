"""What a process writes to stderr: JSON lines (or readable console lines), never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import structlog

from refnet.core.config import settings_from
from refnet.core.log_scrub import REDACTED, secrets_in
from refnet.core.logging import configure_logging

JWT_SECRET = "planted-jwt-secret-0123456789abcdef-xyz"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
DB_PASSWORD = "planted-db-password-123"
S2_KEY = "planted-s2-key-4567890"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    logging.captureWarnings(False)
    structlog.reset_defaults()


def written(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_every_line_is_one_json_object_with_a_utc_timestamp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", fmt="json")
    structlog.get_logger("refnet.test").info("paper_crawled", paper_id=7, references=3)
    logging.getLogger("celery.worker").warning("Task %s received", "refnet.crawler.crawl_seeds")

    lines = written(capsys)
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 2
    ours, celerys = entries
    assert ours["event"] == "paper_crawled" and ours["level"] == "info"
    assert ours["paper_id"] == 7 and ours["references"] == 3
    assert celerys["event"] == "Task refnet.crawler.crawl_seeds received"
    assert celerys["level"] == "warning" and celerys["logger"] == "celery.worker"
    for entry in entries:
        assert entry["timestamp"].endswith("Z")
        stamp = datetime.fromisoformat(entry["timestamp"])
        assert stamp.utcoffset() == timedelta(0)


def test_console_format_is_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", fmt="console")
    structlog.get_logger().info("paper_crawled", paper_id=7)
    logging.getLogger("sqlalchemy.pool").warning("pool overflow")

    ours, library = written(capsys)
    for line in (ours, library):
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    assert "paper_crawled" in ours and "paper_id=7" in ours and "info" in ours
    assert "pool overflow" in library and "sqlalchemy.pool" in library


def test_a_level_below_the_configured_one_is_not_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="WARNING")
    structlog.get_logger().info("paper_crawled")
    logging.getLogger("celery").info("hidden")
    structlog.get_logger().warning("crawl_paused")
    assert [json.loads(line)["event"] for line in written(capsys)] == ["crawl_paused"]


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_no_secret_reaches_a_line_whoever_logs_it(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="DEBUG", fmt=fmt, secrets=[JWT_SECRET, S2_KEY])
    log = structlog.get_logger()
    log.info("login", password="hunter2-long-enough", accessToken=ACCESS_TOKEN)
    log.info(
        "request_sent",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}", "x-api-key": S2_KEY},
        attempts=[{"refresh_token": "planted-refresh-0001"}],
    )
    log.info("settings_read", url=f"postgresql+psycopg://refnet:{DB_PASSWORD}@db:5432/refnet")
    log.info("signing", detail=f"with key {JWT_SECRET} for {ACCESS_TOKEN}")
    log.info("host_seen", note=f"İzmir mirror at https://mirror:{DB_PASSWORD}@example.org/")
    try:
        raise ValueError(f"could not connect to redis://:{DB_PASSWORD}@redis:6379/0")
    except ValueError:
        log.exception("broker_unavailable")
    library = logging.getLogger("httpx")
    library.warning("HTTP Request headers: x-api-key: %s; Authorization: Bearer %s", S2_KEY, "tk1")
    try:
        raise RuntimeError(f"signing key {JWT_SECRET} refused")
    except RuntimeError:
        logging.getLogger("celery.app.trace").exception("Task failed")

    text = capsys.readouterr().err
    for secret in (JWT_SECRET, ACCESS_TOKEN, DB_PASSWORD, S2_KEY, "hunter2", "planted-refresh"):
        assert secret not in text
    assert "tk1" not in text
    # What is not secret stays readable: the user, host and traceback around a redaction.
    assert f"'x-api-key': '{REDACTED}'" in text or f'"x-api-key": "{REDACTED}"' in text
    assert "postgresql+psycopg://refnet:[redacted]@db:5432/refnet" in text
    assert "ValueError: could not connect to redis://:[redacted]@redis:6379/0" in text
    assert "RuntimeError: signing key [redacted] refused" in text


def test_what_only_looks_like_a_secret_stays(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", secrets=["short"])  # too short to hunt for
    structlog.get_logger().info(
        "llm_answer",
        input_tokens=812,
        output_tokens=97,
        token_type="access",
        url="https://api.semanticscholar.org:443/graph/v1/paper/batch?fields=title",
        note="a short answer, refresh_token_reuse in the audit log",
    )
    entry = json.loads(written(capsys)[0])
    assert entry["input_tokens"] == 812 and entry["output_tokens"] == 97
    assert entry["token_type"] == "access"
    assert entry["url"] == "https://api.semanticscholar.org:443/graph/v1/paper/batch?fields=title"
    assert entry["note"] == "a short answer, refresh_token_reuse in the audit log"


def test_the_secrets_of_the_settings_are_listed_from_the_environment_and_files(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "openai_api_key"
    key_file.write_text("planted-openai-key-from-a-file\n")
    environment = {
        "DATABASE_URL": f"postgresql://refnet:{DB_PASSWORD}@db:5432/refnet",
        "REDIS_URL": "redis://:planted-redis-password@redis:6379/0",
        "JWT_SECRET": JWT_SECRET,
        "JWT_PREVIOUS_SECRETS": "planted-old-secret-one,planted-old-secret-two",
        "SEMANTIC_SCHOLAR_API_KEY": S2_KEY,
        "OPENAI_API_KEY_FILE": str(key_file),
        "FLOWER_PASSWORD": "planted-flower-password",
    }
    with settings_from(environment) as settings:
        found = set(secrets_in(settings))
    assert found == {
        DB_PASSWORD,
        "planted-redis-password",
        JWT_SECRET,
        "planted-old-secret-one",
        "planted-old-secret-two",
        S2_KEY,
        "planted-openai-key-from-a-file",
        "planted-flower-password",
    }
