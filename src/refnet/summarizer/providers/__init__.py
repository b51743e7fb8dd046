"""Summary providers: Anthropic, any OpenAI-compatible server, and an offline extractive one.

`make_provider` builds the configured one. The SDK-backed modules are imported on demand, so
an extractive-only deployment never loads the vendor SDKs.
"""

from __future__ import annotations

from refnet.core.errors import InvalidInput
from refnet.summarizer.providers.base import SummaryProvider

PROVIDERS = ("anthropic", "openai", "extractive")
DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4o-mini",
    "extractive": "textrank-v1",
}


def make_provider(
    *,
    name: str,
    model: str | None,
    anthropic_api_key: str | None,
    anthropic_base_url: str | None,
    openai_api_key: str | None,
    openai_base_url: str | None,
    timeout: float,
    max_tokens: int,
    openai_json_mode: bool = True,
) -> SummaryProvider:
    """The provider called `name`, with `model` or the provider's default model."""
    chosen = model or DEFAULT_MODELS.get(name, "")
    if name == "anthropic":
        from refnet.summarizer.providers.anthropic import AnthropicProvider

        if not anthropic_api_key:
            raise InvalidInput(
                "the anthropic summary provider needs an API key: set ANTHROPIC_API_KEY "
                "(or ANTHROPIC_API_KEY_FILE), or choose the extractive provider"
            )
        return AnthropicProvider(
            api_key=anthropic_api_key,
            model=chosen,
            base_url=anthropic_base_url,
            max_tokens=max_tokens,
            timeout=timeout,
        )
    if name == "openai":
        from refnet.summarizer.providers.openai_compat import OpenAICompatibleProvider

        if not openai_api_key and not openai_base_url:
            raise InvalidInput(
                "the openai summary provider needs OPENAI_API_KEY for api.openai.com, or "
                "OPENAI_BASE_URL pointing at a local OpenAI-compatible server (Ollama, vLLM)"
            )
        return OpenAICompatibleProvider(
            api_key=openai_api_key,
            model=chosen,
            base_url=openai_base_url,
            max_tokens=max_tokens,
            timeout=timeout,
            json_mode=openai_json_mode,
        )
    if name == "extractive":
        from refnet.summarizer.providers.extractive import ExtractiveProvider

        return ExtractiveProvider(model=chosen)
    raise InvalidInput(f"unknown summary provider {name!r}; choose one of: {', '.join(PROVIDERS)}")
