"""Settings: one typed object read from the environment, `.env` and `NAME_FILE` secrets."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from refnet.core.secret_settings import (
    MIN_JWT_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRETS,
    PRODUCTION_SECRET_LENGTHS,
    SECRET_FIELDS,
    FileSecretsSource,
    is_placeholder,
    redis_url_with_password,
    url_password,
    with_password,
)
from refnet.core.settings_operations import (
    BackupSettings,
    DatabaseSettings,
    HealthSettings,
    MetricsSettings,
    ScheduleSettings,
    WorkerSettings,
)
from refnet.core.settings_sections import (
    ApiSettings,
    AuthSettings,
    CrawlSettings,
    PdfSettings,
    RateLimitSettings,
    SummarizerSettings,
)

__all__ = [
    "MIN_JWT_SECRET_LENGTH",
    "MIN_SECRET_LENGTH",
    "PLACEHOLDER_SECRETS",
    "SECRET_FIELDS",
    "ApiSettings",
    "AuthSettings",
    "BackupSettings",
    "CrawlSettings",
    "DatabaseSettings",
    "PdfSettings",
    "RateLimitSettings",
    "ScheduleSettings",
    "Settings",
    "SummarizerSettings",
    "describe_settings_errors",
    "describe_unparsable_setting",
    "get_settings",
    "settings_from",
]

PUBLIC_S2_API_URL = "https://api.semanticscholar.org/graph/v1"
# Rates the public API grants: 1 request/s with a key; the keyless pool is shared and often
# answers 429, so we ask far less of it.
RATE_WITH_KEY = 1.0
RATE_WITHOUT_KEY = 0.3


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
    redis_url: str | None = Field(default=None, repr=False)  # may hold REDIS_PASSWORD
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
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    workers: WorkerSettings = WorkerSettings()
    backup: BackupSettings = BackupSettings()
    db: DatabaseSettings = DatabaseSettings()
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()

    # Flower (`refnet flower`): basic auth; production refuses to start it without both.
    flower_user: str | None = None
    flower_password: SecretStr | None = None

    # Signs the API's tokens. Unset outside production: a random one kept under the data dir.
    jwt_secret: SecretStr | None = None
    # Former signing secrets, still accepted for verification while their tokens live out
    # (comma or newline separated).
    jwt_previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Merged into DATABASE_URL when that URL carries no password (PostgreSQL).
    database_password: SecretStr | None = None
    # Merged into REDIS_URL and a redis:// CELERY_BROKER_URL when they carry no password.
    redis_password: SecretStr | None = None
    # The first admin, created once when the database has no admin at all.
    refnet_bootstrap_admin: str | None = None
    refnet_bootstrap_admin_password: SecretStr | None = None

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    # Unset: the Redis at REDIS_URL; neither set: tasks run in-process (embedded).
    celery_broker_url: str | None = Field(default=None, repr=False)

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

    @field_validator("jwt_previous_secrets", mode="before")
    @classmethod
    def _secrets_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        return value

    # An empty value or secret file is no secret at all (Compose needs the file of an optional
    # key, such as SEMANTIC_SCHOLAR_API_KEY_FILE, to exist even when there is no key).
    @field_validator(
        "semantic_scholar_api_key",
        "anthropic_api_key",
        "openai_api_key",
        "jwt_secret",
        "database_password",
        "redis_password",
        "refnet_bootstrap_admin_password",
        "flower_password",
    )
    @classmethod
    def _empty_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("refnet_bootstrap_admin", "flower_user")
    @classmethod
    def _empty_name_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

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
    def _merge_redis_password(self) -> Settings:
        if self.redis_password is not None:
            password = self.redis_password.get_secret_value()
            if self.redis_url:
                self.redis_url = redis_url_with_password(self.redis_url, password)
            if self.celery_broker_url:
                self.celery_broker_url = redis_url_with_password(self.celery_broker_url, password)
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        """Outside development a placeholder, a short secret or a wildcard is a mistake; every
        one found is named (never shown) in one message."""
        if self.environment != "production":
            return self
        problems = [*self._weak_secrets(), *self._wildcards()]
        if problems:
            raise ValueError("; ".join(problems) + " (ENVIRONMENT=production)")
        return self

    def _weak_secrets(self) -> Iterator[str]:
        for name, minimum in PRODUCTION_SECRET_LENGTHS.items():
            value = getattr(self, name)
            for secret in value if isinstance(value, list) else [value]:
                if secret is None:
                    continue
                text = secret.get_secret_value()
                if is_placeholder(text) or len(text) < minimum:
                    yield (
                        f"{name.upper()} is a placeholder or shorter than {minimum} characters; "
                        "set a real, random secret"
                    )
                    break
        password = url_password(self.database_url)
        if password is not None and is_placeholder(password):
            yield "DATABASE_URL carries a placeholder password; set a real one"

    def _wildcards(self) -> Iterator[str]:
        for name in ("cors_origins", "trusted_hosts"):
            if "*" in getattr(self.api, name):
                yield f"API__{name.upper()} must list names, not '*'"

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL (with DATABASE_PASSWORD merged in when the URL has none), or the
        embedded SQLite file under the data dir when it is unset."""
        if self.database_url:
            if self.database_password is None or not self.database_url.startswith("postgresql"):
                return self.database_url
            return with_password(self.database_url, self.database_password.get_secret_value())
        return f"sqlite:///{(self.data_dir / 'refnet.sqlite3').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    @property
    def broker_url(self) -> str | None:
        return self.celery_broker_url or self.redis_url

    @property
    def backup_dir(self) -> Path:
        return self.backup.dir or self.data_dir / "backups"

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


def describe_unparsable_setting(exc: SettingsError) -> str:
    """A setting the environment gave as something other than the JSON it must be, named by
    its variables (pydantic-settings names only the field)."""
    found = re.search(r'field "(\w+)"', str(exc))
    name = found.group(1).upper() if found else "a setting"
    return (
        f"  {name} (or one of {name}__*): not valid JSON; a list or section setting takes "
        'JSON, e.g. ["a", "b"] or {"key": 1}'
    )


def describe_settings_errors(exc: ValidationError) -> str:
    """One line per bad setting, named as the environment variable, without its value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "__".join(str(part) for part in error["loc"]).upper()
        lines.append(f"  {name or 'settings'}: {error['msg']}")
    return "\n".join(lines)
