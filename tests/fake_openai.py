"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests, scripted per request.

    server = FakeOpenAI().start()
    server.queue(Status(429, retry_after="1"), Reply("hello"))   # next two requests
    server.url          # http://127.0.0.1:PORT/v1
    server.requests     # every request seen: method, path, headers, json body

Behaviours: `Reply` (JSON or SSE, depending on the request's `stream`), `Status` (an error status
with an OpenAI/OpenRouter-style body), `NotJSON`, `Hang` (sleep past the client's timeout),
`StreamThenError` (chunks, then an error chunk), `Truncated` (chunks, then the connection closes
without [DONE]). With no script, the server is a deterministic "model" that answers
`model_answer(messages)` and continues a trailing partial assistant message exactly.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def model_answer(messages: list[dict]) -> str:
    """The fake model's full answer for a conversation: deterministic and long enough to interrupt."""
    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    words = [f"w{i}" for i in range(60)]
    return f"Answer to '{prompt[:40]}': " + " ".join(words) + "."


def split_words(text: str) -> list[str]:
    import re
    return re.findall(r"\S+\s*|\s+", text)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    text: str | None = None            # None: the fake model's answer (with continuation)
    tokens_in: int = 7
    tokens_out: int = 5
    cost: float | None = None
    model: str | None = None
    delay: float = 0.0                 # seconds before answering
    chunk_delay: float = 0.0           # seconds between SSE chunks
    tool_calls: list[dict] | None = None
    extra: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)     # extra response headers (e.g. Set-Cookie)


@dataclass
class Status:
    status: int
    message: str = "error"
    retry_after: str | None = None
    metadata: dict | None = None
    headers: dict = field(default_factory=dict)     # extra response headers (e.g. Location on a 307)


@dataclass
class NotJSON:
    status: int = 200
    body: str = "<html>Bad gateway from a proxy</html>"


@dataclass
class Hang:
    seconds: float = 5.0


@dataclass
class StreamThenError:
    chunks: int = 3
    message: str = "upstream provider died"


@dataclass
class Truncated:
    chunks: int = 3


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque = deque()
        self._lock = threading.Lock()
        self.default: Any = Reply()
        self.models = [{"id": "fake/small", "context_length": 8192}, {"id": "fake/large"}]
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- control

    def start(self) -> FakeOpenAI:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True      # else each keep-alive request waits ~40 ms for a delayed ACK

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._record(self, None)
                if self.path.rstrip("/").endswith("/models"):
                    outer._send_json(self, 200, {"object": "list", "data": outer.models})
                else:
                    outer._send_json(self, 404, {"error": {"code": 404, "message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = raw.decode(errors="replace")
                outer._record(self, body)
                behaviour = outer._next()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    outer._respond(self, body if isinstance(body, dict) else {}, behaviour)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *behaviours: Any) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.default = Reply()

    def _next(self) -> Any:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        with self._lock:
            self.requests.append(Recorded(handler.command, handler.path,
                                          {k.lower(): v for k, v in handler.headers.items()}, body))

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    # ---------------------------------------------------------------- responses

    @staticmethod
    def _send_json(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _answer_text(self, body: dict, reply: Reply) -> str:
        if reply.text is not None:
            return reply.text
        messages = body.get("messages") or []
        if messages and messages[-1].get("role") == "assistant":
            full = model_answer(messages[:-1])
            partial = messages[-1].get("content") or ""
            return full[len(partial):] if full.startswith(partial) else "[continuation mismatch]"
        return model_answer(messages)

    def _respond(self, h: BaseHTTPRequestHandler, body: dict, b: Any) -> None:
        stream = bool(body.get("stream"))
        if isinstance(b, Status):
            error = {"code": b.status, "message": b.message}
            if b.metadata:
                error["metadata"] = b.metadata
            headers = {**({"retry-after": b.retry_after} if b.retry_after else {}), **b.headers}
            self._send_json(h, b.status, {"error": error}, headers)
        elif isinstance(b, NotJSON):
            data = b.body.encode()
            h.send_response(b.status)
            h.send_header("content-type", "text/html")
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif isinstance(b, Hang):
            time.sleep(b.seconds)
            self._send_json(h, 200, _completion("too late", body.get("model"), 1, 1, None))
        elif isinstance(b, (StreamThenError, Truncated)):
            self._sse_start(h)
            text = split_words(model_answer(body.get("messages") or []))
            for piece in text[: b.chunks]:
                self._sse(h, _chunk(piece, body.get("model")))
            if isinstance(b, StreamThenError):
                self._sse(h, {"id": "x", "object": "chat.completion.chunk", "model": body.get("model"),
                              "error": {"code": 502, "message": b.message},
                              "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]})
                h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
            h.close_connection = True
        else:
            reply: Reply = b
            if reply.delay:
                time.sleep(reply.delay)
            text = self._answer_text(body, reply)
            model = reply.model or body.get("model")
            if not stream:
                payload = _completion(text, model, reply.tokens_in, reply.tokens_out, reply.cost, reply.tool_calls)
                payload.update(reply.extra)
                self._send_json(h, 200, payload, reply.headers)
                return
            self._sse_start(h)
            h.wfile.write(b": OPENROUTER PROCESSING\n\n")
            for piece in split_words(text):
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                self._sse(h, _chunk(piece, model))
            if reply.tool_calls:
                for i, call in enumerate(reply.tool_calls):
                    self._sse(h, {"id": "x", "object": "chat.completion.chunk", "model": model, "choices": [
                        {"index": 0, "delta": {"tool_calls": [{"index": i, **call}]}}]})
            self._sse(h, {"id": "x", "object": "chat.completion.chunk", "model": model,
                          "choices": [{"index": 0, "delta": {},
                                       "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
                          "usage": _usage(reply.tokens_in, reply.tokens_out, reply.cost)})
            h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
            h.close_connection = True

    @staticmethod
    def _sse_start(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()

    @staticmethod
    def _sse(h: BaseHTTPRequestHandler, payload: dict) -> None:
        h.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        h.wfile.flush()


def _usage(tokens_in: int, tokens_out: int, cost: float | None) -> dict:
    usage = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
    if cost is not None:
        usage["cost"] = cost
    return usage


def _completion(text: str, model: str | None, tokens_in: int, tokens_out: int, cost: float | None,
                tool_calls: list | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text if not tool_calls else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if tool_calls else "stop", "message": message}],
            "usage": _usage(tokens_in, tokens_out, cost)}


def _chunk(text: str, model: str | None) -> dict:
    return {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
