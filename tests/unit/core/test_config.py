"""Settings from the environment, `.env` files and `NAME_FILE` secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from refnet.core.config import PUBLIC_S2_API_URL, RATE_WITH_KEY, RATE_WITHOUT_KEY, Settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.is_embedded
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'refnet.sqlite3'}"
    assert settings.semantic_scholar_api_url == PUBLIC_S2_API_URL
    assert settings.vault_dir == Path("vault")
    assert settings.crawl.max_depth == 2 and settings.crawl.max_papers == 500


def test_standard_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/refnet")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("REFNET_DATA_DIR", "/srv/refnet")
    monkeypatch.setenv("CRAWL__MAX_PAPERS", "42")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+psycopg://u@db/refnet"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.data_dir == Path("/srv/refnet")
    assert settings.crawl.max_papers == 42


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SEMANTIC_SCHOLAR_API_URL=http://127.0.0.1:9/graph/v1\n")
    assert Settings().semantic_scholar_api_url == "http://127.0.0.1:9/graph/v1"


def test_secret_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "s2_key"
    secret.write_text("k3y-from-a-docker-secret\n")
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY_FILE", str(secret))
    settings = Settings()
    assert settings.semantic_scholar_api_key is not None
    assert settings.semantic_scholar_api_key.get_secret_value() == "k3y-from-a-docker-secret"
    assert "k3y" not in repr(settings)


def test_key_sets_the_rate_to_one_request_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().semantic_scholar_rate_per_second == RATE_WITHOUT_KEY
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "a-real-looking-key-123456")
    assert Settings().semantic_scholar_rate_per_second == RATE_WITH_KEY


def test_production_refuses_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "changethis")
    with pytest.raises(ValidationError, match="SEMANTIC_SCHOLAR_API_KEY"):
        Settings()


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "staging-ish")
    with pytest.raises(ValidationError):
        Settings()


def test_the_redis_password_comes_from_a_file_into_both_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "redis_password"
    secret.write_text("r3dis/p@ss-from-a-secret\n")
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://redis:6379/1")
    settings = Settings()
    assert settings.redis_url == "redis://:r3dis%2Fp%40ss-from-a-secret@redis:6379/0"
    assert settings.broker_url == "redis://:r3dis%2Fp%40ss-from-a-secret@redis:6379/1"
    assert "r3dis" not in repr(settings)


def test_a_redis_url_with_its_own_password_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", "the-secret-from-elsewhere")
    monkeypatch.setenv("REDIS_URL", "redis://:in-the-url@redis:6379/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@rabbit:5672//")
    settings = Settings()
    assert settings.redis_url == "redis://:in-the-url@redis:6379/0"
    assert settings.broker_url == "amqp://guest:guest@rabbit:5672//"


def test_production_refuses_a_short_redis_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("REDIS_PASSWORD", "short")
    with pytest.raises(ValidationError, match="REDIS_PASSWORD"):
        Settings()


@pytest.mark.parametrize(
    "written", ["127.0.0.0/8, pdfs.lab.internal", '["127.0.0.0/8", "pdfs.lab.internal"]']
)
def test_the_pdf_allowlist_is_comma_separated_or_json(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("PDF__ALLOWLIST", written)
    assert Settings().pdf.allowlist == ["127.0.0.0/8", "pdfs.lab.internal"]
