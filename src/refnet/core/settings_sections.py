"""Nested settings sections (`SECTION__FIELD` in the environment).

Lists in the API section can be written as comma-separated text (`a,b`) or as a JSON list
(`["a", "b"]`); every value is checked on load and a bad one is refused with the name of the
variable to fix. `Settings` in `refnet.core.config` gathers the sections.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any, Literal

import limits
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

RATE_LIMIT_EXAMPLE = '"100/minute" (or several, e.g. "10/second;1000/hour")'


def split_list(value: Any, variable: str) -> Any:
    """`a, b` or `["a", "b"]` as a list; an empty value as an empty list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{variable} is not a JSON list ({exc.msg}); write it as a,b or as a JSON list"
            ) from None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise ValueError(f"{variable} must be a list of strings")
        return [v.strip() for v in parsed if v.strip()]
    return [part.strip() for part in text.split(",") if part.strip()]


def check_networks(values: list[str], variable: str) -> list[str]:
    """Each value an IP address or a CIDR network; normalized (`10.1.2.3/8` → `10.0.0.0/8`)."""
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ValueError(
                f"{variable}: {value!r} is not an IP address or CIDR network "
                "(e.g. 10.0.0.0/8, 192.168.1.7 or ::1/128)"
            ) from None
    return networks


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
    # Hosts or CIDR networks that may be fetched although private (e.g. "127.0.0.0/8"),
    # comma-separated or a JSON list.
    allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("allowlist", mode="before")
    @classmethod
    def _comma_or_json_list(cls, value: Any) -> Any:
        return split_list(value, "PDF__ALLOWLIST")


class ApiSettings(BaseModel):
    """The HTTP API's perimeter: which origins, hosts, proxies and networks it trusts."""

    # Browser origins allowed by CORS (`https://app.example.org`); empty: no cross-origin use.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host headers served; anything else is refused (Host-header attacks). `*` is refused in
    # production.
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"]
    )
    # Reverse proxies whose X-Forwarded-For is believed; from anyone else it is ignored.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Client networks that may read /metrics.
    metrics_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"]
    )
    # With Redis: how long an answer of paper detail, search or graph is kept for the next
    # asker; any change to paper data made through RefNet retires it at once (0: no cache).
    response_cache_seconds: int = Field(default=300, ge=0, le=86_400)

    @field_validator(
        "cors_origins", "trusted_hosts", "trusted_proxies", "metrics_networks", mode="before"
    )
    @classmethod
    def _comma_or_json_list(cls, value: Any, info: ValidationInfo) -> Any:
        return split_list(value, f"API__{str(info.field_name).upper()}")

    @field_validator("trusted_proxies", "metrics_networks")
    @classmethod
    def _networks(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return check_networks(value, f"API__{str(info.field_name).upper()}")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(
                    f"API__CORS_ORIGINS: {origin!r} is not an origin; "
                    "write scheme and host, e.g. https://app.example.org"
                )
        return [origin.rstrip("/") for origin in value]


class AuthSettings(BaseModel):
    """Tokens, lockout after failed logins, and the password policy."""

    issuer: str = Field(default="refnet", min_length=1)
    audience: str = Field(default="refnet-api", min_length=1)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=365)
    # Failed logins within `lockout_minutes` before further attempts are refused, per user
    # name and per client address.
    max_failed_logins: int = Field(default=5, ge=1)
    max_failed_logins_per_client: int = Field(default=20, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    min_password_length: int = Field(default=12, ge=8, le=128)


class RateLimitSettings(BaseModel):
    """Request rates per user (else per client address), in `limits` notation."""

    login: str = "10/minute"
    read: str = "1200/minute"
    write: str = "60/minute"
    crawl: str = "10/minute"

    @field_validator("login", "read", "write", "crawl")
    @classmethod
    def _a_rate(cls, value: str, info: ValidationInfo) -> str:
        variable = f"RATE_LIMIT__{str(info.field_name).upper()}"
        try:
            parsed = limits.parse_many(value)
        except ValueError:
            parsed = []
        if not parsed or any(item.amount < 1 for item in parsed):
            raise ValueError(
                f"{variable}={value!r} is not a rate limit; write e.g. {RATE_LIMIT_EXAMPLE}"
            )
        return value.strip()

    def items(self, name: Literal["login", "read", "write", "crawl"]) -> list[limits.RateLimitItem]:
        """The parsed limits of one class of requests."""
        return list(limits.parse_many(getattr(self, name)))
