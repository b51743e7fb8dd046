"""Secrets out of log lines, whatever logged them.

`SecretScrubber` is a structlog processor that runs on every event, ours and the standard
library's (Celery, SQLAlchemy, uvicorn), after the exception is rendered to text and before the
line is written. It replaces with `[redacted]`:

- the value of any field whose name says it is a secret (`password`, `access_token`, `api_key`,
  `Authorization`, `set-cookie`, …), in nested dicts and lists too;
- inside every text: a URL's password (`scheme://user:[redacted]@host`), `Bearer <token>`,
  JWT-shaped strings, `name=value` or `name: value` where the name says secret (`x-api-key: …`,
  `password=…`, `Authorization: Basic …`, a cookie header to the end of its line), and the exact
  values of the secrets this process loaded (`secrets_in(settings)`).

Each text pattern runs only on a text that holds one of its telltale words, so a line with
nothing to redact costs a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from refnet.core.secret_settings import SECRET_FIELDS, url_password

if TYPE_CHECKING:
    from refnet.core.config import Settings

REDACTED = "[redacted]"
# Shorter values would redact common words; production refuses secrets this short anyway.
MIN_KNOWN_SECRET_LENGTH = 8

# A name is secret when it ends with one of these words (`access_token`, `X-Api-Key`), not when
# it merely contains one: `input_tokens` and `token_type` are not secrets.
_SECRET_WORD = (
    r"passwords?|passwd|secrets?|token|api[_-]?key|authorization|cookies?|credentials?"
    r"|private[_-]?key"
)
_SECRET_NAME = re.compile(rf"(?:^|_)(?:{_SECRET_WORD})$")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Each pattern, with the words one of which a text must hold for it to match. Written in
# lowercase: they are matched against the lowercased text. What `keep` matches stays; the rest
# of the match is redacted.
_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    # scheme://user:PASSWORD@host: the password alone.
    (("://",), r"(?P<keep>://[^\s/@:]*:)[^\s/@]+(?=@)"),
    # A cookie header holds several values: all of them, to the end of the line.
    (("cookie",), r"(?P<keep>cookie[\"']?\s*[:=]\s*)[^\r\n]+"),
    # name=VALUE, name: VALUE, 'name': 'VALUE' (a header, a query string, a printed dict): a
    # quoted value to its closing quote, else to the next space or delimiter.
    (
        ("pass", "secret", "token", "key", "auth", "cookie", "credential"),
        rf"(?P<keep>(?:{_SECRET_WORD})[\"']?\s*[:=]\s*(?P<quote>[\"'])?)"
        r"(?(quote)[^\"'\r\n]*|(?:(?:bearer|basic)\s+)?[^\s\"',;&)}\]]+)",
    ),
    (("bearer",), r"(?P<keep>bearer\s+)[a-z0-9\-._~+/]+=*"),
    # A JWT: base64url JSON ('{"' is "eyJ"), a dot, the claims, a dot, the signature.
    (("eyj",), r"(?P<keep>)eyj[a-z0-9_-]{10,}\.[a-z0-9_-]{2,}\.[a-z0-9_-]*"),
)
_MARKERS = tuple(word for words, _ in _RULES for word in words)


class SecretScrubber:
    """The structlog processor; `known` are the exact secret values this process holds.

    Python's `re` scans an alternation of many patterns slowly (about 0.1 µs a character), so
    each pattern runs alone, and only on a text that holds one of its words (`in` is fast)."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        values = {v.lower() for v in known if len(v) >= MIN_KNOWN_SECRET_LENGTH}
        rules: list[tuple[tuple[str, ...], re.Pattern[str]]] = [
            (words, re.compile(pattern)) for words, pattern in _RULES
        ]
        if values:
            literal = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
            rules.append((tuple(values), re.compile(f"(?P<keep>)(?:{literal})")))
        self._rules = tuple(rules)
        self._markers = (*_MARKERS, *values)

    def __call__(
        self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event_dict.items():
            event_dict[key] = REDACTED if is_secret_name(key) else self.scrub(value)
        return event_dict

    def scrub(self, value: Any) -> Any:
        """`value` with every secret in it redacted; texts, dicts and lists at any depth."""
        if isinstance(value, str):
            return self._scrub_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {
                key: REDACTED if is_secret_name(str(key)) else self.scrub(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(item) for item in value]
        # As the renderers would show it (JSON and console both fall back to repr).
        return self.scrub(repr(value))

    def _scrub_text(self, text: str) -> str:
        lowered = text.lower()
        for marker in self._markers:
            if marker in lowered:
                break
        else:
            return text
        if len(lowered) != len(text):  # "İ" lowercases to two characters: keep the offsets
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        spans = sorted(
            (match.start(), match.end("keep"), match.end())
            for words, pattern in self._rules
            if any(word in lowered for word in words)
            for match in pattern.finditer(lowered)
        )
        parts, done = [], 0
        for start, kept, end in spans:
            if start < done:  # inside the last redaction: widen it
                done = max(done, end)
                continue
            parts += [text[done:kept], REDACTED]
            done = end
        return "".join([*parts, text[done:]])


@lru_cache(maxsize=1024)
def is_secret_name(name: str) -> bool:
    """`password`, `jwt_secret`, `accessToken`, `X-Api-Key`, `Set-Cookie`: yes;
    `input_tokens`, `token_type`: no."""
    words = _CAMEL_HUMP.sub("_", name).lower().replace("-", "_").replace(".", "_")
    return _SECRET_NAME.search(words) is not None


def secrets_in(settings: Settings) -> list[str]:
    """Every secret value `settings` holds: the secret fields (or their `_FILE`s) and the
    passwords inside the database, Redis and broker URLs."""
    found: list[str] = []
    for name in SECRET_FIELDS:
        value = getattr(settings, name)
        for secret in value if isinstance(value, list) else [value]:
            if isinstance(secret, SecretStr):
                found.append(secret.get_secret_value())
    for url in (settings.database_url, settings.redis_url, settings.celery_broker_url):
        password = _password_in(url)
        if password:
            found.append(password)
    return found


def _password_in(url: str | None) -> str | None:
    if not url:
        return None
    if url.startswith("postgresql"):
        return url_password(url)
    try:
        return urlsplit(url).password
    except ValueError:  # a URL that does not parse is reported where it is used
        return None
