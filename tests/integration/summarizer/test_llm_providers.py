"""The LLM providers through the official SDKs, against fake vendor servers on loopback."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import structlog
from prometheus_client import REGISTRY

from refnet.core.errors import InvalidInput, PermanentError, TransientError
from refnet.core.metrics import LLM_OUTCOMES
from refnet.summarizer.providers import DEFAULT_MODELS, make_provider
from refnet.summarizer.providers.anthropic import AnthropicProvider
from refnet.summarizer.providers.base import SummaryInput, SummaryProvider, parse_answer
from refnet.summarizer.providers.openai_compat import OpenAICompatibleProvider
from tests.fakes.llm_servers import FakeAnthropic, FakeLLMServer, FakeOpenAI, Fault, masked

KEY = "sk-test-0123456789abcdef"
TITLE = "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks"
ABSTRACT = "Large pre-trained language models store factual knowledge in their parameters."


@dataclass(frozen=True)
class Vendor:
    name: str
    fake: Callable[..., FakeLLMServer]
    provider: Callable[..., SummaryProvider]


ANTHROPIC = Vendor(
    "anthropic",
    FakeAnthropic,
    lambda fake, **kw: AnthropicProvider(
        **{"api_key": KEY, "model": "claude-test", "base_url": fake.base_url, **kw}
    ),
)
OPENAI = Vendor(
    "openai",
    FakeOpenAI,
    lambda fake, **kw: OpenAICompatibleProvider(
        **{"api_key": KEY, "model": "gpt-test", "base_url": fake.base_url, **kw}
    ),
)
VENDORS = [pytest.param(ANTHROPIC, id="anthropic"), pytest.param(OPENAI, id="openai")]


def item(language: str = "en") -> SummaryInput:
    return SummaryInput(title=TITLE, text=ABSTRACT, input_kind="abstract", language=language)


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def fake(vendor: Vendor) -> Iterator[FakeLLMServer]:
    with vendor.fake(api_key=KEY) as server:
        yield server


def test_llm_good_answer_is_parsed_with_token_counts(vendor: Vendor, fake: FakeLLMServer) -> None:
    provider = vendor.provider(fake, max_tokens=777)

    answer = provider.answer(item())
    fields = parse_answer(answer)

    assert TITLE in fields.tldr
    assert 5 <= len(fields.keywords) <= 10
    assert (answer.input_tokens, answer.output_tokens) == fake.last_usage
    assert answer.truncated is False
    assert fake.last_body["model"] == provider.model
    assert fake.last_body["max_tokens"] == 777
    assert fake.last_headers["authorization"] == f"Bearer {KEY}"
    assert ABSTRACT in fake.last_prompt


@pytest.mark.parametrize("fault", ["429", "503", "500"])
def test_llm_transient_faults_are_retried_by_the_sdk(
    vendor: Vendor, fake: FakeLLMServer, fault: str
) -> None:
    fake.script(fault, fault)

    answer = vendor.provider(fake, max_retries=2).answer(item())

    assert parse_answer(answer).tldr
    assert fake.request_count == 3


def test_llm_anthropic_overloaded_529_is_retried() -> None:
    with FakeAnthropic() as fake:
        fake.script("529")

        answer = ANTHROPIC.provider(fake, max_retries=2).answer(item())

    assert parse_answer(answer).keywords
    assert fake.request_count == 2


def test_llm_persistent_429_is_a_transient_error_with_retry_after(
    vendor: Vendor, fake: FakeLLMServer
) -> None:
    fake.persistent_fault = Fault("429", retry_after=0.02)

    with pytest.raises(TransientError, match="429") as caught:
        vendor.provider(fake, max_retries=1).answer(item())

    assert caught.value.retry_after == pytest.approx(0.02)
    assert fake.request_count == 2  # the first try and one SDK retry


def test_llm_persistent_server_error_is_a_transient_error(
    vendor: Vendor, fake: FakeLLMServer
) -> None:
    fake.persistent_fault = Fault("500")

    with pytest.raises(TransientError, match="500"):
        vendor.provider(fake, max_retries=0).answer(item())


def test_llm_timeout_is_a_transient_error(vendor: Vendor, fake: FakeLLMServer) -> None:
    fake.stall_seconds = 3.0
    fake.script("timeout")

    with pytest.raises(TransientError, match="did not answer in time"):
        vendor.provider(fake, timeout=0.3, max_retries=0).answer(item())


def llm_requests(provider: str, outcome: str) -> float:
    labels = {"provider": provider, "outcome": outcome}
    return REGISTRY.get_sample_value("refnet_llm_requests_total", labels) or 0.0


def test_llm_calls_are_counted_by_outcome(vendor: Vendor, fake: FakeLLMServer) -> None:
    """What RefNetLlmFailing reads: answers, passing failures (timeouts, 5xx) and lasting ones."""
    before = {outcome: llm_requests(vendor.name, outcome) for outcome in LLM_OUTCOMES}
    provider = vendor.provider(fake, timeout=0.3, max_retries=0)
    fake.stall_seconds = 3.0
    fake.script("timeout", "500")
    for _ in range(2):
        with pytest.raises(TransientError):
            provider.answer(item())
    provider.answer(item())
    fake.script("401")
    with pytest.raises(PermanentError):
        provider.answer(item())

    after = {outcome: llm_requests(vendor.name, outcome) for outcome in LLM_OUTCOMES}
    assert {outcome: after[outcome] - before[outcome] for outcome in LLM_OUTCOMES} == {
        "ok": 1, "transient_error": 2, "permanent_error": 1,
    }  # fmt: skip


def test_llm_unreachable_server_is_a_transient_error(vendor: Vendor) -> None:
    with vendor.fake() as closed:
        provider = vendor.provider(closed, max_retries=0)
    # the server is stopped: its port refuses connections

    with pytest.raises(TransientError, match="could not connect"):
        provider.answer(item())


def test_llm_truncated_answer_is_flagged_and_not_parsed(
    vendor: Vendor, fake: FakeLLMServer
) -> None:
    fake.script("truncated")

    answer = vendor.provider(fake, max_tokens=64).answer(item())

    assert answer.truncated is True
    assert answer.output_tokens == 64
    with pytest.raises(PermanentError, match="truncated"):
        parse_answer(answer)


def test_llm_refusal_is_a_permanent_error(vendor: Vendor, fake: FakeLLMServer) -> None:
    fake.script("refusal")

    with pytest.raises(PermanentError, match="refused"):
        vendor.provider(fake).answer(item())
    assert fake.request_count == 1  # never retried


def test_llm_anthropic_refusal_names_the_policy_category() -> None:
    with FakeAnthropic() as fake:
        fake.script("refusal")
        with pytest.raises(PermanentError, match="policy category: cyber"):
            ANTHROPIC.provider(fake).answer(item())


def test_llm_wrong_key_is_a_permanent_error_without_the_key(vendor: Vendor) -> None:
    wrong = "sk-wrong-9876543210fedcba"
    with vendor.fake(api_key=KEY) as fake, pytest.raises(PermanentError, match="401") as caught:
        vendor.provider(fake, api_key=wrong).answer(item())

    message = str(caught.value)
    assert wrong not in message and masked(wrong) not in message and wrong[-4:] not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert fake.request_count == 1  # a 401 is not retried


def test_llm_key_echoed_by_a_server_is_redacted(vendor: Vendor, fake: FakeLLMServer) -> None:
    fake.script(Fault("401", message=f"key {KEY} is not valid here"))

    with pytest.raises(PermanentError) as caught:
        vendor.provider(fake).answer(item())

    assert KEY not in str(caught.value)
    assert "is not valid here" in str(caught.value)


def test_llm_japanese_instruction_reaches_the_server(vendor: Vendor, fake: FakeLLMServer) -> None:
    answer = vendor.provider(fake).answer(item(language="ja"))

    assert "Write every value in Japanese" in fake.last_prompt
    assert "検索拡張生成" in parse_answer(answer).keywords


def test_llm_answer_is_logged_without_prompt_or_key(vendor: Vendor, fake: FakeLLMServer) -> None:
    with structlog.testing.capture_logs() as logs:
        vendor.provider(fake).answer(item())

    event = next(log for log in logs if log["event"] == "llm_answer")
    assert event["provider"] == vendor.name
    assert (event["input_tokens"], event["output_tokens"]) == fake.last_usage
    assert not any(KEY in str(v) or ABSTRACT in str(v) for log in logs for v in log.values())


def test_llm_long_retry_after_fails_fast_for_the_task_to_reschedule(
    vendor: Vendor, fake: FakeLLMServer
) -> None:
    fake.persistent_fault = Fault("429", retry_after=3600)

    with pytest.raises(TransientError) as caught:
        vendor.provider(fake, max_retries=2).answer(item())

    assert caught.value.retry_after == pytest.approx(3600)
    assert fake.request_count == 1  # the SDK did not sleep an hour to retry


def test_llm_openai_requests_json_mode_by_default() -> None:
    with FakeOpenAI() as fake:
        OPENAI.provider(fake).answer(item())

    assert fake.last_body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in fake.last_body["messages"]] == ["system", "user"]


def test_llm_openai_local_server_without_key_or_json_mode() -> None:
    with FakeOpenAI(reject_response_format=True) as fake:
        provider = OPENAI.provider(fake, api_key=None, json_mode=False)

        fields = parse_answer(provider.answer(item()))

    assert fields.tldr
    assert "response_format" not in fake.last_body
    assert fake.last_headers["authorization"] == "Bearer not-needed"


def test_llm_openai_server_rejecting_json_mode_says_to_turn_it_off() -> None:
    fake = FakeOpenAI(reject_response_format=True)
    with fake, pytest.raises(PermanentError, match="turn it off"):
        OPENAI.provider(fake, api_key=None).answer(item())


def test_llm_openai_fenced_answer_with_prose_is_parsed() -> None:
    fenced = 'Here you go:\n```json\n{"tldr": "T.", "summary": "S.", "key_points": ["p"], '
    fenced += '"keywords": ["a", "b", "c", "d", "e"]}\n```\nDone.'
    with FakeOpenAI(answer_text=fenced) as fake:
        fields = parse_answer(OPENAI.provider(fake, json_mode=False).answer(item()))

    assert (fields.tldr, fields.keywords) == ("T.", ["a", "b", "c", "d", "e"])


def test_llm_openai_exhausted_quota_is_a_permanent_error() -> None:
    with FakeOpenAI() as fake:
        fake.persistent_fault = Fault("quota")
        with pytest.raises(PermanentError, match="quota"):
            OPENAI.provider(fake, max_retries=0).answer(item())


def test_llm_make_provider_builds_working_providers_with_default_models() -> None:
    with FakeAnthropic() as anthropic_fake, FakeOpenAI() as openai_fake:
        for name, fake in (("anthropic", anthropic_fake), ("openai", openai_fake)):
            provider = make_provider(
                name=name,
                model=None,
                anthropic_api_key=KEY,
                anthropic_base_url=anthropic_fake.base_url,
                openai_api_key=None,
                openai_base_url=openai_fake.base_url,
                timeout=5.0,
                max_tokens=500,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error", DeprecationWarning)  # no retired default model
                assert parse_answer(provider.answer(item())).tldr
            assert (provider.name, provider.paid) == (name, True)
            assert fake.last_body["model"] == DEFAULT_MODELS[name]
            assert fake.last_body["max_tokens"] == 500


def make(
    name: str, *, openai_base_url: str | None = None, anthropic_api_key: str | None = None
) -> SummaryProvider:
    return make_provider(
        name=name,
        model=None,
        anthropic_api_key=anthropic_api_key,
        anthropic_base_url=None,
        openai_api_key=None,
        openai_base_url=openai_base_url,
        timeout=5.0,
        max_tokens=100,
    )


def test_llm_make_provider_extractive_needs_no_key() -> None:
    provider = make("extractive")

    assert (provider.name, provider.model, provider.paid) == ("extractive", "textrank-v1", False)


def test_llm_make_provider_unknown_name_lists_the_choices() -> None:
    with pytest.raises(InvalidInput, match="anthropic, openai, extractive"):
        make("gemini")


def test_llm_make_provider_anthropic_without_key_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match="ANTHROPIC_API_KEY"):
        make("anthropic")


def test_llm_make_provider_openai_needs_a_key_or_a_local_server() -> None:
    with pytest.raises(InvalidInput, match=r"OPENAI_API_KEY.*OPENAI_BASE_URL"):
        make("openai")
    assert make("openai", openai_base_url="http://127.0.0.1:11434/v1").name == "openai"
