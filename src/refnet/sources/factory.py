"""Opening the source a crawl names: the live API, the bundled sample, or a snapshot file."""

from __future__ import annotations

from pathlib import Path

from refnet.core.config import Settings
from refnet.core.errors import InvalidInput
from refnet.sources.base import PaperSource
from refnet.sources.rate_limit import make_rate_limiter
from refnet.sources.semantic_scholar import SemanticScholarClient
from refnet.sources.snapshot import SnapshotSource

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "data" / "sample_papers.jsonl"
SOURCE_FORMS = (
    "'semantic_scholar' (the default), 'sample' (bundled offline sample) or 'snapshot:PATH'"
)


def open_source(spec: str | None, settings: Settings) -> PaperSource:
    if spec is None or spec == "semantic_scholar":
        key = settings.semantic_scholar_api_key
        return SemanticScholarClient(
            base_url=settings.semantic_scholar_api_url,
            api_key=key.get_secret_value() if key else None,
            rate_limiter=make_rate_limiter(
                rate_per_second=settings.semantic_scholar_rate_per_second,
                redis_url=settings.redis_url,
            ),
            timeout=settings.semantic_scholar_timeout,
            max_retries=settings.semantic_scholar_max_retries,
            max_wait=settings.semantic_scholar_max_wait,
        )
    if spec == "sample":
        return SnapshotSource(SAMPLE_PATH)
    if spec.startswith("snapshot:") and len(spec) > len("snapshot:"):
        return SnapshotSource(Path(spec.removeprefix("snapshot:")).expanduser().resolve())
    raise InvalidInput(f"unknown source {spec!r}; use {SOURCE_FORMS}")
