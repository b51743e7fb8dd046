"""Settings: one typed object read from the environment, `.env` and `NAME_FILE` secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from refnet.core.errors import InvalidInput

PUBLIC_S2_API_URL = "https://api.semanticscholar.org/graph/v1"
# Rates the public API grants: 1 request/s with a key; the keyless pool is shared and often
# answers 429, so we ask far less of it.
RATE_WITH_KEY = 1.0
RATE_WITHOUT_KEY = 0.3
SECRET_FIELDS = ("semantic_scholar_api_key", "anthropic_api_key", "openai_api_key")
PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "password", "xxx", "todo"}
MIN_SECRET_LENGTH = 16


class CrawlSettings(BaseModel):
    """Defaults for a crawl; each can be overridden per crawl on the command line."""

    max_depth: int = Field(default=2, ge=0, le=5)
    max_papers: int = Field(default=500, ge=1)
    max_citations_per_paper: int = Field(default=1000, ge=0, le=9999)
    max_references_per_paper: int = Field(default=1000, ge=0)


class SummarizerSettings(BaseModel):
    provider: Literal["extractive", "anthropic", "openai"] = "extractive"
    model: str | None = None  # each provider has a default
    language: Literal["en", "ja"] = "en"
    daily_token_budget: int = Field(default=2_000_000, ge=0)  # LLM tokens per UTC day
    max_input_chars: int = Field(default=60_000, ge=1_000)
    max_tokens: int = Field(default=1024, ge=64)
    timeout: float = Field(default=60.0, gt=0)
    fetch_pdfs: bool = True
    papers_per_task: int = Field(default=20, ge=1)
    # Claims of one summary before a passing failure (provider or PDF host down) fails it; the
    # pending sweep (`refnet summarize --pending`) gives failed summaries as many attempts again.
    max_attempts: int = Field(default=5, ge=1)
    # Seconds before the first retry of such a paper, doubling with every attempt (at most 30 min).
    retry_delay: float = Field(default=30.0, ge=0)


class PdfSettings(BaseModel):
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    timeout: float = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    max_pages: int = Field(default=40, ge=1)
    # Reading one PDF happens in a child process with these limits.
    extract_timeout: float = Field(default=60.0, gt=0)
    extract_memory_mb: int = Field(default=1024, ge=64)
    # Passing failures (timeouts, 429, 5xx) before the abstract is summarized instead; the PDF is
    # tried again this many hours later, then twice as late each time.
    attempts: int = Field(default=3, ge=1)
    retry_later_hours: float = Field(default=24.0, gt=0)
    # Hosts or CIDR networks that may be fetched although private (e.g. "127.0.0.0/8").
    allowlist: list[str] = Field(default_factory=list)


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads `NAME_FILE` (a path, as Docker secrets provide) for every secret field."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            path = os.environ.get(f"{name.upper()}_FILE")
            if path:
                try:
                    values[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise InvalidInput(f"{name.upper()}_FILE={path} cannot be read: {exc}") from exc
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # an error about one setting must never print the others
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("data"), validation_alias="REFNET_DATA_DIR")
    database_url: str | None = None
    redis_url: str | None = None
    vault_dir: Path = Path("vault")

    semantic_scholar_api_url: str = PUBLIC_S2_API_URL
    semantic_scholar_api_key: SecretStr | None = None
    semantic_scholar_rate: float | None = Field(default=None, gt=0)
    semantic_scholar_timeout: float = Field(default=30.0, gt=0)
    semantic_scholar_max_retries: int = Field(default=6, ge=0)
    # Longest a caller waits for the shared rate limiter (or a Retry-After) in place; past it,
    # a worker's task is re-queued with that countdown instead of holding the worker.
    semantic_scholar_max_wait: float = Field(default=60.0, ge=1)

    crawl: CrawlSettings = CrawlSettings()
    summarizer: SummarizerSettings = SummarizerSettings()
    pdf: PdfSettings = PdfSettings()

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    # Unset: the Redis at REDIS_URL; neither set: tasks run in-process (embedded).
    celery_broker_url: str | None = None

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (
            init_settings,
            env_settings,
            FileSecretsSource(settings_cls),
            dotenv_settings,
        )

    @field_validator("database_url")
    @classmethod
    def _a_database_refnet_runs_on(cls, url: str | None) -> str | None:
        """PostgreSQL (through psycopg, whatever driver the URL names) or SQLite."""
        if not url or not url.strip():
            return None
        scheme, separator, rest = url.strip().partition("://")
        if not separator:
            raise ValueError(
                "is not a URL; use postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:///PATH"
            )
        if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
            return f"postgresql+psycopg://{rest}"
        if scheme in ("sqlite", "sqlite+pysqlite"):
            return f"sqlite://{rest}"
        raise ValueError(f"names {scheme!r}; RefNet runs on PostgreSQL (postgresql://…) or SQLite")

    @model_validator(mode="after")
    def _pdf_attempts_leave_room_for_the_abstract(self) -> Settings:
        if self.pdf.attempts >= self.summarizer.max_attempts:
            raise ValueError(
                f"PDF__ATTEMPTS ({self.pdf.attempts}) must be below SUMMARIZER__MAX_ATTEMPTS "
                f"({self.summarizer.max_attempts}), or a paper whose PDF host is down fails "
                "before it can be summarized from its abstract"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        for name in SECRET_FIELDS:
            secret = getattr(self, name)
            if secret is None:
                continue
            value = secret.get_secret_value()
            if value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name.upper()} is a placeholder or shorter than {MIN_SECRET_LENGTH} "
                    "characters; set a real secret for ENVIRONMENT=production"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under the data dir when it is unset."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'refnet.sqlite3').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    @property
    def broker_url(self) -> str | None:
        return self.celery_broker_url or self.redis_url

    @property
    def pdf_cache_dir(self) -> Path:
        return self.data_dir / "pdfs"

    @property
    def semantic_scholar_rate_per_second(self) -> float:
        if self.semantic_scholar_rate is not None:
            return self.semantic_scholar_rate
        return RATE_WITH_KEY if self.semantic_scholar_api_key else RATE_WITHOUT_KEY


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


@contextmanager
def settings_from(environment: Mapping[str, str | None]) -> Iterator[Settings]:
    """Settings read with these environment variables set (None: unset), restored afterwards."""
    saved = {name: os.environ.get(name) for name in environment}
    _set_environment(environment)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        _set_environment(saved)
        get_settings.cache_clear()


def _set_environment(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def describe_settings_errors(exc: ValidationError) -> str:
    """One line per bad setting, named as the environment variable, without its value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "__".join(str(part) for part in error["loc"]).upper()
        lines.append(f"  {name or 'settings'}: {error['msg']}")
    return "\n".join(lines)
