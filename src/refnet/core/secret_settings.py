"""Secrets in settings: which fields are secret, `NAME_FILE` files, and what production refuses.

Every secret field can also be read from the file named by `NAME_FILE` (Docker secrets).
`ENVIRONMENT=production` refuses a placeholder or a too-short value for each of
`PRODUCTION_SECRET_LENGTHS`; the check names the variable, never its value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic_settings import PydanticBaseSettingsSource

from refnet.core.errors import InvalidInput

# Every secret can also be read from the file named by `NAME_FILE` (Docker secrets).
SECRET_FIELDS = (
    "semantic_scholar_api_key",
    "anthropic_api_key",
    "openai_api_key",
    "jwt_secret",
    "jwt_previous_secrets",
    "database_password",
    "redis_password",
    "refnet_bootstrap_admin_password",
    "flower_password",
)
PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "password", "xxx", "todo"}
PLACEHOLDER_WORDS = (
    "changethis",
    "changeme",
    "change-me",
    "replaceme",
    "replace-me",
    "placeholder",
)
MIN_SECRET_LENGTH = 16
# HS256 keys: at least as long as the hash (RFC 7518 §3.2).
MIN_JWT_SECRET_LENGTH = 32
# Minimum length of each secret that ENVIRONMENT=production checks. The bootstrap admin's
# password is checked by the password policy instead.
PRODUCTION_SECRET_LENGTHS = {
    "semantic_scholar_api_key": MIN_SECRET_LENGTH,
    "anthropic_api_key": MIN_SECRET_LENGTH,
    "openai_api_key": MIN_SECRET_LENGTH,
    "jwt_secret": MIN_JWT_SECRET_LENGTH,
    "jwt_previous_secrets": MIN_JWT_SECRET_LENGTH,
    "database_password": MIN_SECRET_LENGTH,
    "redis_password": MIN_SECRET_LENGTH,
    "flower_password": MIN_SECRET_LENGTH,
}


def is_placeholder(value: str) -> bool:
    """A value someone forgot to replace: a known placeholder, or one character repeated."""
    lowered = value.strip().lower()
    return (
        lowered in PLACEHOLDER_SECRETS
        or any(word in lowered for word in PLACEHOLDER_WORDS)
        or len(set(lowered)) <= 2
    )


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


def url_password(url: str | None) -> str | None:
    """The password inside a PostgreSQL URL, if any."""
    if not url or not url.startswith("postgresql"):
        return None
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:  # a URL SQLAlchemy refuses is reported where it is used
        return None


def redis_url_with_password(url: str, password: str) -> str:
    """A redis:// or rediss:// URL with `password` merged in, unless it carries one already
    (`redis://:PASSWORD@host:6379/0`, Redis' default user)."""
    parts = urlsplit(url)
    if parts.password is not None or parts.scheme not in ("redis", "rediss"):
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_password(url: str, password: str) -> str:
    """The URL with `password` merged in, unless it carries one already."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.password is not None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
