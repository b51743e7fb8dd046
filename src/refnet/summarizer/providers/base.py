"""What every summary provider shares: its input, its raw answer, the parsed fields, and the
free, deterministic parser from one to the other.

A provider's `answer()` is the one call that may cost money; the service stores the returned
`ProviderAnswer` verbatim before calling `parse_answer`, so a parse failure never pays twice.

Rules `parse_answer` enforces:
- A truncated answer (the model hit its output token limit) is a `PermanentError` saying so,
  even when a JSON object can be salvaged: its last fields would be cut.
- The JSON object may be bare, inside a ```json fence, or surrounded by prose or a
  `<think>` block (local models do all three). Keys match loosely ("TL;DR", "keyPoints").
  `tldr`, `summary`, `key_points` and `keywords` are all required.
- `tldr` becomes one line of at most 300 characters (cut on a word boundary, with "…").
- `key_points` (lists or bulleted text) are trimmed, de-bulleted, deduplicated, at most 7.
- `keywords` (lists or comma-separated text) are trimmed, deduplicated case-insensitively,
  at most 10 (the model's first ones: its ranking).
- Fewer than the asked-for 3 key points / 5 keywords is accepted, one of each is the minimum:
  an abstract- or TL;DR-only input may not hold five distinct keywords, this function cannot
  tell a tiny input from a terse model, and rejecting an answer already paid for would spend
  money again on the same prompt for no better result. None at all is a `PermanentError`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import structlog

from refnet.core.errors import PermanentError, TransientError
from refnet.core.metrics import LLM_COST, LLM_REQUESTS, LLM_TOKENS
from refnet.sources.http_retry import parse_retry_after
from refnet.summarizer.pricing import estimated_dollars

SUPPORTED_LANGUAGES = ("en", "ja")
INPUT_KINDS = ("pdf", "abstract", "tldr")
TLDR_MAX_CHARS = 300
MAX_KEY_POINTS = 7
MAX_KEYWORDS = 10
MAX_KEYWORD_CHARS = 80
_FIELDS = {"tldr": "tldr", "summary": "summary", "keypoints": "key_points", "keywords": "keywords"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•・●▪]|\(?\d{1,2}[.)])\s+")
_KEYWORD_SEPARATORS = re.compile(r"[,;\n\u3001\uff0c\uff1b]")  # also ideographic commas
_MASKED_SECRET = re.compile(r"\S*\*{3,}\S*")


@dataclass(frozen=True, slots=True)
class SummaryInput:
    title: str
    text: str  # what to summarize: prioritized PDF text, or the abstract, or the TL;DR
    input_kind: str  # "pdf" | "abstract" | "tldr"
    language: str  # "en" | "ja"


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """What a (possibly paid) call returned; stored verbatim before parsing."""

    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool  # the model stopped at its token limit


@dataclass(frozen=True, slots=True)
class SummaryFields:
    tldr: str
    summary: str
    key_points: list[str]
    keywords: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RefusedAnswer(PermanentError):
    """The model answered, and was paid, but declined to summarize."""

    def __init__(self, message: str, answer: ProviderAnswer) -> None:
        super().__init__(message)
        self.answer = answer


class SummaryProvider(Protocol):
    name: str  # "anthropic" | "openai" | "extractive"
    model: str
    paid: bool  # False for extractive

    def answer(self, item: SummaryInput) -> ProviderAnswer:
        """The one call that may cost money."""
        ...


def parse_answer(answer: ProviderAnswer) -> SummaryFields:
    """The summary fields in `answer`; `PermanentError` with a readable reason if unusable."""
    if answer.truncated:
        raise PermanentError(
            "the answer was truncated at the model's output token limit "
            f"({answer.output_tokens} tokens); raise max_tokens or shorten the input"
        )
    found = _json_object(answer.text)
    fields = {re.sub(r"[^a-z]", "", str(key).lower()): value for key, value in found.items()}
    missing = [name for key, name in _FIELDS.items() if key not in fields]
    if missing:
        got = ", ".join(str(key) for key in found) or "nothing"
        raise PermanentError(f"the answer lacks {', '.join(missing)} (it has: {got})")
    return SummaryFields(
        tldr=_tldr(fields["tldr"]),
        summary=_summary(fields["summary"]),
        key_points=_key_points(fields["keypoints"]),
        keywords=_keywords(fields["keywords"]),
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int = TLDR_MAX_CHARS) -> str:
    """`text` cut to at most `limit` characters, on a word boundary when there is one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:\u3001\uff0c") + "…"


def redact(text: str, secret: str | None) -> str:
    """`text` without `secret` or anything that looks like a masked key ("sk-ab***yz")."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return _MASKED_SECRET.sub("[redacted]", text)


def error_detail(body: object) -> str:
    """The human message of an API error body (`{"error": {"message": …}}` or flatter)."""
    inner = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(inner, Mapping):
        inner = inner.get("message", "")
    return one_line(inner)[:500] if isinstance(inner, str) else ""


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds asked for by `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def _json_object(text: str) -> dict[str, Any]:
    cleaned = _THINK.sub("", text).strip()
    if not cleaned:
        raise PermanentError("the answer is empty")
    candidates = [match.group(1) for match in _FENCE.finditer(cleaned)] + [cleaned]
    fallback: dict[str, Any] | None = None
    for candidate in candidates:
        for found in _objects(candidate):
            if any(re.sub(r"[^a-z]", "", str(key).lower()) in _FIELDS for key in found):
                return found
            fallback = fallback if fallback is not None else found
    if fallback is not None:
        return fallback
    raise PermanentError(f"the answer holds no JSON object (it starts: {one_line(text)[:80]!r})")


def _objects(text: str) -> list[dict[str, Any]]:
    """JSON objects decodable from each "{" in `text`, outermost first."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            end = start + 1
        else:
            if isinstance(value, dict):
                found.append(value)
        start = text.find("{", max(end, start + 1))
    return found


def _text(value: object, field: str) -> str:
    if isinstance(value, list):
        value = "\n\n".join(str(part) for part in value if isinstance(part, str | int | float))
    if not isinstance(value, str) or not value.strip():
        raise PermanentError(f"the answer's {field} is empty or not text")
    return value.strip()


def _tldr(value: object) -> str:
    text = re.sub(r"^(?:tl;?dr)\s*[:\uff1a]\s*", "", one_line(_text(value, "tldr")), flags=re.I)
    return shorten(text.strip("\"'“”「」 ") or text)


def _summary(value: object) -> str:
    paragraphs = (one_line(part) for part in re.split(r"\n\s*\n", _text(value, "summary")))
    return "\n\n".join(part for part in paragraphs if part)


def _items(value: object, separators: re.Pattern[str]) -> list[str]:
    if isinstance(value, str):
        return separators.split(value)
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str | int | float)]
    return []


def _unique(items: list[str], limit: int) -> list[str]:
    seen: set[str] = set()
    kept = []
    for item in items:
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            kept.append(item)
    return kept[:limit]


def _key_points(value: object) -> list[str]:
    points = [one_line(_BULLET.sub("", item)) for item in _items(value, re.compile(r"\n"))]
    kept = _unique(points, MAX_KEY_POINTS)
    if not kept:
        raise PermanentError("the answer has no key points")
    return kept


def _keywords(value: object) -> list[str]:
    items = _items(value, _KEYWORD_SEPARATORS)
    words = [one_line(_BULLET.sub("", item)).strip(" #\"'“”「」.。") for item in items]
    kept = _unique([word for word in words if len(word) <= MAX_KEYWORD_CHARS], MAX_KEYWORDS)
    if not kept:
        raise PermanentError("the answer has no keywords")
    return kept


_log = structlog.get_logger("refnet.summarizer.providers")


def log_answer(
    provider: SummaryProvider,
    item: SummaryInput,
    answer: ProviderAnswer,
    *,
    started: float,
    **details: object,
) -> None:
    """One `llm_answer` event per paid call (sizes and timing, never the prompt or a key), and
    its tokens and estimated cost on the metrics."""
    LLM_REQUESTS.labels(provider.name, "ok").inc()
    LLM_TOKENS.labels(provider.name, "input").inc(answer.input_tokens)
    LLM_TOKENS.labels(provider.name, "output").inc(answer.output_tokens)
    LLM_COST.labels(provider.name).inc(
        estimated_dollars(
            provider.model, input_tokens=answer.input_tokens, output_tokens=answer.output_tokens
        )
    )
    _log.info(
        "llm_answer",
        provider=provider.name,
        model=provider.model,
        input_kind=item.input_kind,
        language=item.language,
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        truncated=answer.truncated,
        duration_ms=round((time.monotonic() - started) * 1000),
        **details,
    )


def log_failure(provider: SummaryProvider, exc: Exception, error: Exception) -> None:
    outcome = "transient_error" if isinstance(error, TransientError) else "permanent_error"
    LLM_REQUESTS.labels(provider.name, outcome).inc()
    _log.warning(
        "llm_call_failed",
        provider=provider.name,
        model=provider.model,
        error_type=type(exc).__name__,
        error=str(error),
    )
