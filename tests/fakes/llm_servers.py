"""Fake LLM APIs: real HTTP servers on 127.0.0.1 that speak the vendors' wire formats.

    with FakeAnthropic(api_key="test-key") as fake:
        fake.script("429", "529")  # the next two requests fail, the third is answered
        provider = AnthropicProvider(api_key="test-key", model="m", base_url=fake.base_url)
        provider.answer(item)
    assert fake.request_count == 3 and fake.last_body["model"] == "m"

`FakeAnthropic` serves `POST /v1/messages` (base URL without `/v1`, as the SDK appends it);
`FakeOpenAI` serves `POST /v1/chat/completions` (base URL ends in `/v1`, like Ollama's).
Success bodies follow the Messages / Chat Completions response shapes; the answer is
`answer_text` if set, else a valid JSON summary made from the request's "Title:" line (in
Japanese when the system prompt asks for Japanese). Usage is counted as characters / 4.

Faults, consumed one per request from `script(...)`, then `persistent_fault` for every request:
"429" (retry-after-ms and retry-after headers), "500", "503", "529" (Anthropic's
overloaded_error), "401", "quota" (OpenAI's insufficient_quota 429), "timeout" (stall
`stall_seconds`, longer than the client's timeout), "truncated" (cut JSON with stop_reason
max_tokens / finish_reason length), "refusal". Error bodies are the vendors' shapes:
`{"type": "error", "error": {"type", "message"}}` and `{"error": {"message", "type", "code"}}`.
A required `api_key` answers 401 to any other key, as the real APIs do.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, cast

from .loopback import LoopbackServer, OwnedHTTPServer, request_body


@dataclass(frozen=True)
class Fault:
    kind: str
    retry_after: float | None = 0.01  # seconds; sent as retry-after-ms and retry-after
    message: str | None = None  # replaces the vendor's usual error message


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def summary_json(title: str, *, japanese: bool = False) -> str:
    """A valid answer: the JSON object the prompt asks for."""
    if japanese:
        fields: dict[str, Any] = {
            "tldr": f"「{title}」は検索と生成を組み合わせた新しい手法を提案する。",
            "summary": f"本論文「{title}」は、外部知識を検索して生成に用いる手法を示す。"
            "実験では複数のベンチマークで精度が向上した。",
            "key_points": ["検索と生成を統合する", "知識集約型タスクで精度が向上", "再学習は不要"],
            "keywords": ["検索拡張生成", "言語モデル", "質問応答", "知識集約型", "ベンチマーク"],
        }
    else:
        fields = {
            "tldr": f"{title} combines retrieval with generation and improves accuracy.",
            "summary": f"The paper {title} retrieves passages and conditions a generator on "
            "them.\n\nIt reports gains on several knowledge-intensive benchmarks.",
            "key_points": [
                "Retrieval and generation are trained jointly",
                "Gains on open-domain question answering",
                "The index can be swapped without retraining",
            ],
            "keywords": ["retrieval", "generation", "question answering", "dense index", "RAG"],
        }
    return json.dumps(fields, ensure_ascii=False)


def format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if seconds >= 1 else f"{seconds:.3f}"


def masked(key: str) -> str:
    """How OpenAI echoes a wrong key: the first 3 and last 4 characters."""
    return key[:3] + "*" * max(len(key) - 7, 3) + key[-4:]


class FakeLLMServer(LoopbackServer):
    """Lifecycle, scripting and recording shared by the two vendors' fakes."""

    path: ClassVar[str]
    prefix: ClassVar[str]

    def __init__(
        self,
        *,
        answer_text: str | None = None,
        api_key: str | None = None,
        stall_seconds: float = 2.0,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.latency = latency  # seconds each answer takes, as a real model's would
        self.answer_text = answer_text
        self.api_key = api_key
        self.stall_seconds = stall_seconds
        self.persistent_fault: Fault | None = None
        self.requests: list[Recorded] = []
        self.last_usage: tuple[int, int] | None = None
        self._script: collections.deque[Fault] = collections.deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}"

    # -- scripting and inspection ------------------------------------------------------------

    def script(self, *faults: str | Fault) -> None:
        """Fail the next requests, one fault each, in order."""
        with self._lock:
            self._script.extend(f if isinstance(f, Fault) else Fault(f) for f in faults)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def scripted_faults_left(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def last_body(self) -> dict[str, Any]:
        return self.requests[-1].body

    @property
    def last_headers(self) -> dict[str, str]:
        return self.requests[-1].headers

    @property
    def last_prompt(self) -> str:
        """Every text the last request sent (system and messages), joined."""
        return "\n".join(self.prompt_texts(self.last_body))

    # -- serving ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        body = json.loads(raw or b"{}")
        with self._lock:
            self.requests.append(Recorded(path, headers, body))
            fault = self._script.popleft() if self._script else self.persistent_fault
        if method != "POST" or path.split("?")[0] != self.path:
            return self.error(404, "not_found_error", None, f"no route for {method} {path}")
        key = self.key_sent(headers) or ""
        if self.api_key is not None and key != self.api_key:
            return self.fault(Fault("401"), key)
        kind = fault.kind if fault is not None else None
        if fault is not None and kind not in ("timeout", "truncated", "refusal"):
            return self.fault(fault, key)
        if kind == "timeout":
            self.stall(self.stall_seconds)
        elif self.latency:
            self.stall(self.latency)
        return self.answer(body, kind)

    def answer(self, body: dict[str, Any], kind: str | None) -> Reply:
        prompt = "\n".join(self.prompt_texts(body))
        title = re.search(r"^Title: (.+)$", prompt, re.MULTILINE)
        text = self.answer_text or summary_json(
            title.group(1) if title else "Untitled", japanese="Japanese" in prompt
        )
        usage = (max(1, len(prompt) // 4), max(1, len(text) // 4))
        if kind == "truncated":
            text, usage = text[: len(text) // 2], (usage[0], int(body["max_tokens"]))
        with self._lock:
            self.last_usage = usage
        return self.success(body, text, kind, usage)

    def fault(self, fault: Fault, key: str) -> Reply:
        status, kind, code, message = self.FAULTS[fault.kind]
        if fault.kind == "401":
            return self.error(status, kind, code, fault.message or message.format(masked(key)))
        headers = {}
        if fault.retry_after is not None:
            headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
            headers["retry-after"] = format_retry_after(fault.retry_after)
        return self.error(status, kind, code, fault.message or message, headers)

    def error(
        self,
        status: int,
        kind: str,
        code: str | None,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        request_id = f"req_fake{next(self._ids):06d}"
        body = self.error_body(kind, code, message, request_id)
        return Reply(status, body, {self.request_id_header: request_id, **(headers or {})})

    def next_id(self) -> int:
        return next(self._ids)

    # -- vendor hooks ----------------------------------------------------------------------

    FAULTS: ClassVar[dict[str, tuple[int, str, str | None, str]]]  # status, type, code, message
    request_id_header: ClassVar[str]

    def prompt_texts(self, body: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def key_sent(self, headers: dict[str, str]) -> str | None:
        raise NotImplementedError

    def error_body(
        self, kind: str, code: str | None, message: str, request_id: str
    ) -> dict[str, Any]:
        raise NotImplementedError

    def success(
        self, body: dict[str, Any], text: str, kind: str | None, usage: tuple[int, int]
    ) -> Reply:
        raise NotImplementedError


def _block_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [part.get("text", "") for part in content if isinstance(part, dict)]
    return []


class FakeAnthropic(FakeLLMServer):
    """The Anthropic Messages API (`POST /v1/messages`)."""

    path = "/v1/messages"
    prefix = ""
    request_id_header = "request-id"
    FAULTS: ClassVar[dict[str, tuple[int, str, str | None, str]]] = {
        "401": (401, "authentication_error", None, "invalid x-api-key"),
        "429": (429, "rate_limit_error", None, "Number of request tokens has exceeded your "
                "per-minute rate limit; please try again later."),
        "500": (500, "api_error", None, "Internal server error"),
        "503": (503, "api_error", None, "Service unavailable"),
        "529": (529, "overloaded_error", None, "Overloaded"),
    }  # fmt: skip

    def prompt_texts(self, body: dict[str, Any]) -> list[str]:
        texts = _block_texts(body.get("system"))
        for message in body.get("messages") or []:
            texts += _block_texts(message.get("content"))
        return texts

    def key_sent(self, headers: dict[str, str]) -> str | None:
        bearer = headers.get("authorization", "")  # this SDK sends the key as a bearer token
        return headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)

    def error_body(
        self, kind: str, code: str | None, message: str, request_id: str
    ) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request_id,
        }

    def success(
        self, body: dict[str, Any], text: str, kind: str | None, usage: tuple[int, int]
    ) -> Reply:
        stop_reason = {"truncated": "max_tokens", "refusal": "refusal"}.get(kind or "", "end_turn")
        message: dict[str, Any] = {
            "id": f"msg_fake{self.next_id():06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [] if kind == "refusal" else [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
        }
        if kind == "refusal":
            message["stop_details"] = {
                "type": "refusal",
                "category": "cyber",
                "explanation": "The request could enable cyber harm.",
            }
        return Reply(200, message, {"request-id": f"req_fake{self.next_id():06d}"})


class FakeOpenAI(FakeLLMServer):
    """The OpenAI Chat Completions API (`POST /v1/chat/completions`)."""

    path = "/v1/chat/completions"
    prefix = "/v1"
    request_id_header = "x-request-id"
    FAULTS: ClassVar[dict[str, tuple[int, str, str | None, str]]] = {
        "401": (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: "
                "{}. You can find your API key at https://platform.openai.com/account/api-keys."),
        "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests per "
                "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20ms."),
        "quota": (429, "insufficient_quota", "insufficient_quota", "You exceeded your current "
                  "quota, please check your plan and billing details."),
        "500": (500, "server_error", None, "The server had an error while processing your "
                "request. Sorry about that!"),
        "503": (503, "server_error", None, "The server is overloaded or not ready yet."),
    }  # fmt: skip

    def __init__(self, *, reject_response_format: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reject_response_format = reject_response_format  # as some local servers do

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if self.reject_response_format and b'"response_format"' in raw:
            with self._lock:
                self.requests.append(Recorded(path, headers, json.loads(raw)))
            return self.error(
                400, "invalid_request_error", None, "response_format is not supported"
            )
        return super().handle(method, path, headers, raw)

    def prompt_texts(self, body: dict[str, Any]) -> list[str]:
        return [t for m in body.get("messages") or [] for t in _block_texts(m.get("content"))]

    def key_sent(self, headers: dict[str, str]) -> str | None:
        bearer = headers.get("authorization", "")
        return bearer[7:] if bearer.startswith("Bearer ") else None

    def error_body(
        self, kind: str, code: str | None, message: str, request_id: str
    ) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def success(
        self, body: dict[str, Any], text: str, kind: str | None, usage: tuple[int, int]
    ) -> Reply:
        finish_reason = "length" if kind == "truncated" else "stop"
        refusal = "I'm sorry, but I can't help with that." if kind == "refusal" else None
        completion = {
            "id": f"chatcmpl-fake{self.next_id():06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None if refusal else text,
                        "refusal": refusal,
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": usage[0] + usage[1],
            },
        }
        return Reply(200, completion, {"x-request-id": f"req_{self.next_id():06d}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        raw = request_body(self)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = cast(OwnedHTTPServer, self.server).owner.handle(
            self.command, self.path, headers, raw
        )
        payload = json.dumps(reply.body, ensure_ascii=False).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a "timeout" fault)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


FakeLLMServer.handler_class = _Handler
