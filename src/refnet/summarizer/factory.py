"""A Summarizer configured from settings."""

from __future__ import annotations

from datetime import timedelta

from refnet.core.config import Settings
from refnet.summarizer.paper_text import PdfReading
from refnet.summarizer.pdf import PdfFetcher
from refnet.summarizer.providers import make_provider
from refnet.summarizer.service import Summarizer


def make_summarizer(
    settings: Settings, *, provider: str | None = None, fetch_pdfs: bool | None = None
) -> Summarizer:
    config = settings.summarizer
    anthropic_key, openai_key = settings.anthropic_api_key, settings.openai_api_key
    chosen = provider or config.provider
    summary_provider = make_provider(
        name=chosen,
        model=config.model if chosen == config.provider else None,
        anthropic_api_key=anthropic_key.get_secret_value() if anthropic_key else None,
        anthropic_base_url=settings.anthropic_base_url,
        openai_api_key=openai_key.get_secret_value() if openai_key else None,
        openai_base_url=settings.openai_base_url,
        timeout=config.timeout,
        max_tokens=config.max_tokens,
    )
    fetch = config.fetch_pdfs if fetch_pdfs is None else fetch_pdfs
    fetcher = (
        PdfFetcher(
            cache_dir=settings.pdf_cache_dir,
            max_bytes=settings.pdf.max_bytes,
            timeout=settings.pdf.timeout,
            max_redirects=settings.pdf.max_redirects,
            allowlist=settings.pdf.allowlist,
        )
        if fetch
        else None
    )
    return Summarizer(
        database_url=settings.effective_database_url,
        provider=summary_provider,
        language=config.language,
        fetcher=fetcher,
        reading=PdfReading(
            max_pages=settings.pdf.max_pages,
            timeout=settings.pdf.extract_timeout,
            memory_bytes=settings.pdf.extract_memory_mb * 1024 * 1024,
            attempts=settings.pdf.attempts,
            retry_later=timedelta(hours=settings.pdf.retry_later_hours),
        ),
        max_input_chars=config.max_input_chars,
        daily_token_budget=config.daily_token_budget,
        max_attempts=config.max_attempts,
        retry_delay=config.retry_delay,
    )
