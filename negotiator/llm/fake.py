"""A small OpenAI-compatible chat-completions server for tests and offline
trials (``manage.py llm_fake_server``): no model, answers scripted per call or
picked at random among the candidate ids the request's JSON Schema admits. It
records every request body so tests can read exactly what a model would see."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer: the message text (or a refusal), an HTTP status, a
    delay before answering, or a raw body that is not a chat completion."""

    content: str | None = None
    status: int = 200
    delay: float = 0.0
    refusal: str | None = None
    raw: bytes | None = None
    tokens_in: int = 120
    tokens_out: int = 30


Script = Callable[[dict[str, Any]], Reply]


def schema_of(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("response_format", {}).get("json_schema", {}).get("schema", {})


def candidate_ids(body: dict[str, Any]) -> list[str]:
    """The ids a choice request admits (empty for other requests)."""
    prop = schema_of(body).get("properties", {}).get("candidate_id", {})
    return list(prop.get("enum", []))


def choice(candidate_id: str, message: str = "Here is our proposal.") -> Reply:
    return Reply(json.dumps({"candidate_id": candidate_id, "message": message}))


def random_choice(seed: int = 0) -> Script:
    """Picks uniformly among the admitted candidates (seeded: same calls, same picks)."""
    rng = random.Random(seed)

    def script(body: dict[str, Any]) -> Reply:
        ids = candidate_ids(body)
        if not ids:
            return Reply(json.dumps({"action": "unclear", "terms": {}, "note": ""}))
        picked = rng.choice(ids)
        return choice(picked, f"We propose option {picked}; we hope it works for you.")

    return script


def first_choice(body: dict[str, Any]) -> Reply:
    ids = candidate_ids(body)
    return choice(ids[0]) if ids else Reply("{}")


class FakeLLMServer:
    """Serve on 127.0.0.1 in a thread: ``with FakeLLMServer(script) as llm:``,
    then point LLM_BASE_URL at ``llm.base_url``."""

    def __init__(self, script: Script = first_choice, *, port: int = 0) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def record(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self.script(body)

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sent_text(self) -> str:
        """Every request body as one string: what a model would have read."""
        with self._lock:
            return "\n".join(json.dumps(b, ensure_ascii=False) for b in self.requests)


def completion_body(reply: Reply, model: str) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.refusal is not None:
        message = {"role": "assistant", "content": None, "refusal": reply.refusal}
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": reply.tokens_in,
                "completion_tokens": reply.tokens_out,
                "total_tokens": reply.tokens_in + reply.tokens_out,
            },
        }
    ).encode()


def _handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            if not self.path.endswith("/chat/completions"):
                self._send(404, b'{"error": "not found"}')
                return
            reply = server.record(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.raw is not None:
                self._send(reply.status, reply.raw)
                return
            self._send(reply.status, completion_body(reply, str(body.get("model", "fake"))))

        def _send(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler
