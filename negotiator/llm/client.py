"""One call to an OpenAI-compatible ``/chat/completions`` endpoint with a JSON
Schema response format, over httpx: timeouts, retries, token counts, latency.
Hosted APIs and local servers (llama.cpp server, vLLM, Ollama) speak it alike."""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from negotiator.llm.config import LLMSettings

# Answers worth trying again: the server is busy or briefly broken.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LLMUnavailable(Exception):
    """The call produced no usable reply; ``reason`` is a short code for the audit
    trail (timeout, http_error, connection_error, bad_reply, refusal)."""

    def __init__(self, reason: str, detail: str = "", *, latency_ms: int = 0) -> None:
        self.reason = reason
        self.detail = detail
        self.latency_ms = latency_ms
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: int


def chat_request(
    config: LLMSettings, messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any], name: str
) -> dict[str, Any]:
    """The request body: the messages, temperature 0, and the reply's JSON Schema."""
    return {
        "model": config.model,
        "messages": [dict(m) for m in messages],
        "temperature": 0,
        "max_tokens": 400,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": dict(schema)},
        },
    }


def chat_complete(config: LLMSettings, body: Mapping[str, Any]) -> Completion:
    """Post ``body``; retry timeouts, lost connections and busy answers up to
    ``config.retries`` times. Raises LLMUnavailable when nothing usable came."""
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    started = time.monotonic()
    failure = LLMUnavailable("connection_error")
    with httpx.Client(timeout=config.timeout, headers=headers, verify=_tls()) as client:
        for _attempt in range(config.retries + 1):
            try:
                response = client.post(f"{config.base_url}/chat/completions", json=dict(body))
            except httpx.TimeoutException as exc:
                failure = LLMUnavailable("timeout", str(exc) or "no answer in time")
                continue
            except httpx.HTTPError as exc:
                failure = LLMUnavailable("connection_error", str(exc))
                continue
            if response.status_code in RETRY_STATUSES:
                failure = LLMUnavailable("http_error", f"HTTP {response.status_code}")
                continue
            latency = int((time.monotonic() - started) * 1000)
            if response.status_code != 200:
                raise LLMUnavailable(
                    "http_error", f"HTTP {response.status_code}", latency_ms=latency
                )
            return _completion(response, config.model, latency)
    failure.latency_ms = int((time.monotonic() - started) * 1000)
    raise failure


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one reads the CA bundle (slow)."""
    return ssl.create_default_context()


def _completion(response: httpx.Response, model: str, latency: int) -> Completion:
    try:
        data = response.json()
        choice = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMUnavailable("bad_reply", "not a chat completion", latency_ms=latency) from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    if choice.get("refusal"):
        raise LLMUnavailable("refusal", str(choice["refusal"])[:200], latency_ms=latency)
    content = choice.get("content")
    if not isinstance(content, str):
        raise LLMUnavailable("bad_reply", "the reply has no text", latency_ms=latency)
    return Completion(
        text=content,
        model=str(data.get("model") or model)[:200],
        tokens_in=_count(usage.get("prompt_tokens")),
        tokens_out=_count(usage.get("completion_tokens")),
        latency_ms=latency,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and 0 <= value < 10_000_000 else 0
