"""The OpenAI-compatible flow, written once: request, SSE stream, usage, errors.

OpenRouter and any custom endpoint (the user's `sheikh`, `custom_provider_x`) are this class with
a few hooks overridden. The key is sent only to the configured URL's host.

Requests go straight to an `httpx.HTTPTransport` (httpx's public transport API), not through an
`httpx.Client`: we use none of the client's redirects, auth flows or event hooks, and its cookie
jar would carry one visitor's cookies into another visitor's requests. Skipping the client saves
about 150 µs of CPU per request (bench/router_overhead.py). Proxies from the environment are
still honoured, per provider host.
"""

from __future__ import annotations

import functools
import json
import re
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

from core.errors import ErrorKind, ProviderError
from core.llm.keys import redact
from core.llm.netguard import BlockedURL, GuardedTransport
from core.llm.providers.base import (
    ChatRequest,
    Completion,
    ModelInfo,
    Provider,
    answer_error,
    body_retry_after,
    completion_from_body,
    error_code,
    error_message,
    generation_options,
    http_error,
    parse_retry_after,
    usage_numbers,
)

if TYPE_CHECKING:
    from core.llm.config import ProviderConfig


class OpenAICompatibleProvider(Provider):
    """Any OpenAI-compatible endpoint named in the config: a section with a `url` and a name that is
    not a built-in provider's. Any key shape and any model name that is not a URL."""

    kind = "openai_compatible"
    display_name = "OpenAI-compatible endpoint"

    def __init__(self, config: ProviderConfig):
        super().__init__(config)
        self.chat_url = self._chat_url()
        self.host = urlparse(self.chat_url).netloc
        self._chat_target = httpx.URL(self.chat_url)        # parsed once, not on every request
        self._transport: httpx.HTTPTransport | None = None
        self._transport_lock = threading.Lock()

    # ---------------------------------------------------------------- hooks

    @classmethod
    def configured_url(cls, url: str | None, path: str, warnings: list[str]) -> str | None:
        if cls.default_base_url is None:       # a custom endpoint: its chat-completions URL, as configured
            return chat_completions_url(url) if url else None
        return (url or cls.default_base_url).rstrip("/").removesuffix("/chat/completions")

    def _chat_url(self) -> str:
        if self.default_base_url is None:
            return self.config.base_url or ""
        base = (self.config.base_url or self.default_base_url).rstrip("/").removesuffix("/chat/completions")
        return base + "/chat/completions"

    def models_url(self) -> str:
        return self.chat_url.removesuffix("/chat/completions") + "/models"

    def headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def payload(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        """The JSON body; raises ProviderError(BAD_REQUEST) for a model name that cannot be sent."""
        body: dict[str, Any] = {**generation_options(request), "messages": request.messages, "stream": stream}
        if (model := self.validate_model(request.model)) is not None:
            body["model"] = model         # no model: the endpoint's default (never `"model": null`)
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    # ---------------------------------------------------------------- transport

    @property
    def transport(self) -> httpx.HTTPTransport:
        """One connection pool per provider; it holds no key (keys go in per-request headers)."""
        if self._transport is None:
            with self._transport_lock:
                if self._transport is None and self.config.options.get("guarded"):
                    # A visitor's endpoint: every connection is checked against SSRF targets.
                    self._transport = GuardedTransport()
                elif self._transport is None:
                    proxy = environment_proxy(self.chat_url)
                    try:
                        self._transport = httpx.HTTPTransport(
                            verify=_ssl_context(), proxy=proxy,
                            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
                    except (ImportError, ValueError) as e:      # socks5:// without socksio, ftp://…
                        scheme = urlparse(proxy or "").scheme or "?"   # the URL may hold a password
                        raise ProviderError(ErrorKind.BAD_REQUEST, f"{self.name}: the {scheme}:// proxy set in "
                                            f"the environment cannot be used ({type(e).__name__}). Fix "
                                            "HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, or add this host to "
                                            "NO_PROXY.") from None
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def send(self, method: str, url: httpx.URL | str, key: str | None, timeout: float,
             body: dict[str, Any] | None = None, stream: bool = False) -> httpx.Response:
        """One request on this provider's pool. Unless `stream`, the body is read and the connection
        released before returning; a streamed response must be closed by the caller."""
        request = httpx.Request(method, url, json=body, headers={**BASE_HEADERS, **self.headers(key)},
                                extensions={"timeout": self._timeout(timeout)})
        response = self.transport.handle_request(request)
        if not stream:
            try:
                response.read()
            finally:
                response.close()
        return response

    def _timeout(self, timeout: float) -> dict[str, float | None]:
        return _timeout(round(timeout, 1))

    def _transport_error(self, e: Exception, key: str | None, streaming: bool = False) -> ProviderError:
        if isinstance(e, httpx.TimeoutException):
            return ProviderError(ErrorKind.TIMEOUT, f"{self.name}: no answer in time ({type(e).__name__})")
        if streaming and isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError)):
            return ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: the stream was cut off")
        return ProviderError(ErrorKind.UNAVAILABLE,
                             f"{self.name}: cannot reach {self.host} ({type(e).__name__}: "
                             f"{redact(str(e), [key], limit=120)})")

    def _raise_for_status(self, response: httpx.Response, key: str | None) -> None:
        if response.status_code < 400 and response.status_code not in (301, 302, 303, 307, 308):
            return
        try:
            text = response.text
        except httpx.ResponseNotRead:
            text = ""
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        raise http_error(self.name, response.status_code, body, text, response.headers.get("retry-after"), key,
                         self.error_kind(response.status_code, body))

    def _answer_failure(self, found: dict[str, Any], key: str | None, where: str, default: ErrorKind,
                        retry_after: str | None = None, usage: Any = None) -> ProviderError:
        """A failure a 2xx answer carried (`answer_error`): its kind from its code or type, its words, the
        wait it asks for, and the usage billed for it."""
        code = error_code(found)
        kind = self.error_kind(code, found) or default
        detail = redact(error_message(found), [key], limit=300)
        tokens_in, tokens_out, cost = usage_numbers(usage)
        return ProviderError(kind, f"{self.name}: {where}" + (f" (code {code})" if code else "")
                             + (f": {detail}" if detail else ""), status=code,
                             retry_after=body_retry_after(found) or parse_retry_after(retry_after),
                             tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)

    # ---------------------------------------------------------------- calls

    def chat(self, request: ChatRequest, key: str | None, timeout: float) -> Completion:
        try:
            response = self.send("POST", self._chat_target, key, timeout, self.payload(request, False))
        except httpx.HTTPError as e:
            raise self._transport_error(e, key) from None
        except BlockedURL as e:
            raise ProviderError(ErrorKind.BAD_REQUEST, f"{self.name}: {e}") from None
        self._raise_for_status(response, key)
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(ErrorKind.BAD_RESPONSE,
                                f"{self.name}: answered HTTP {response.status_code} with a body that is not "
                                "JSON", status=response.status_code) from None
        if (found := answer_error(body)) is not None:       # a 200 that says the generation failed
            raise self._answer_failure(found, key, "the answer is an error", ErrorKind.BAD_RESPONSE,
                                       response.headers.get("retry-after"), body.get("usage"))
        return completion_from_body(body, self.name)

    def stream(self, request: ChatRequest, key: str | None, timeout: float) -> Iterator[str | Completion]:
        try:
            response = self.send("POST", self._chat_target, key, timeout, self.payload(request, True), stream=True)
            try:
                if response.status_code >= 300:
                    response.read()
                    self._raise_for_status(response, key)
                yield from self._read_sse(response, key)
            finally:
                response.close()
        except httpx.HTTPError as e:
            raise self._transport_error(e, key, streaming=True) from None
        except BlockedURL as e:
            raise ProviderError(ErrorKind.BAD_REQUEST, f"{self.name}: {e}") from None

    def _read_sse(self, response: httpx.Response, key: str | None) -> Iterator[str | Completion]:
        final = Completion(text="")
        parts: list[str] = []
        tool_calls: dict[int, dict[str, Any]] = {}
        done = False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue                      # SSE comments (": OPENROUTER PROCESSING") and blank lines
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: sent a stream chunk that is not "
                                                            "JSON") from None
            if not isinstance(chunk, dict):
                raise ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: sent a stream chunk that is not "
                                                            "a JSON object")
            final.model = chunk.get("model") or final.model
            if isinstance(chunk.get("provider"), str):
                final.upstream = chunk["provider"]
            usage = chunk.get("usage")
            if usage:
                final.tokens_in, final.tokens_out, final.cost_usd = usage_numbers(usage)
            if (found := answer_error(chunk)) is not None:
                # An error chunk in a 200 stream (OpenRouter, TGI): its code and type say what failed, and
                # the usage sent so far is what the failed generation cost.
                raise self._answer_failure(found, key, "error in the stream", ErrorKind.STREAM_ERROR,
                                           response.headers.get("retry-after"),
                                           {"prompt_tokens": final.tokens_in, "completion_tokens": final.tokens_out,
                                            "cost": final.cost_usd})
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    parts.append(text)
                    yield text
                for call in delta.get("tool_calls") or []:
                    _merge_tool_call(tool_calls, call)
                if choice.get("finish_reason"):
                    final.finish_reason = choice["finish_reason"]
        if not done and final.finish_reason is None:
            raise ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: the stream ended before it was complete")
        final.text = "".join(parts)
        final.tool_calls = [tool_calls[i] for i in sorted(tool_calls)] or None
        yield final

    def list_models(self, key: str | None, timeout: float = 10.0) -> list[ModelInfo]:
        try:
            response = self.send("GET", self.models_url(), key, timeout)
            self._raise_for_status(response, key)
            data = response.json().get("data", [])
        except httpx.HTTPError as e:
            raise self._transport_error(e, key) from None
        except BlockedURL as e:
            raise ProviderError(ErrorKind.BAD_REQUEST, f"{self.name}: {e}") from None
        except (ValueError, AttributeError):
            raise ProviderError(ErrorKind.BAD_RESPONSE, f"{self.name}: the model list is not valid JSON") from None
        return [self._model_info(m) for m in data if isinstance(m, dict) and m.get("id")]

    def _model_info(self, entry: dict[str, Any]) -> ModelInfo:
        return ModelInfo(entry["id"], context_length=entry.get("context_length"))


# Some gateways refuse a request without a User-Agent. No Accept-Encoding: LLM answers are small, and
# a compressed SSE stream can be held back by a buffering proxy.
BASE_HEADERS = {"User-Agent": "spaces-os"}


@functools.lru_cache(maxsize=256)
def _timeout(seconds: float) -> dict[str, float | None]:
    """The transport's per-request timeout extension (shared, so callers must not mutate it)."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0)).as_dict()


def environment_proxy(url: str) -> str | None:
    """The proxy that HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for this URL, unless NO_PROXY exempts
    its host: what httpx.Client(trust_env=True) would pick."""
    proxies = urllib.request.getproxies_environment()
    parsed = urlparse(url)
    if not parsed.hostname or urllib.request.proxy_bypass_environment(parsed.hostname, proxies):
        return None
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy or None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One CA-bundle load per process: httpx.Client() loads it again each time (20 ms, over 100 ms on
    a busy machine), which a provider's first request used to pay."""
    return httpx.create_ssl_context()


def chat_completions_url(url: str) -> str:
    """Turn a configured endpoint into its chat-completions URL: `…/v1` → `…/v1/chat/completions`, a bare
    host → `…/v1/chat/completions`, a URL already ending in `/chat/completions` or any other path as written."""
    stripped = url.rstrip("/")
    if stripped.endswith("/chat/completions"):
        return stripped
    path = urlparse(stripped).path
    if re.search(r"/v\d+$", path):
        return stripped + "/chat/completions"
    if path in ("", "/"):
        return stripped + "/v1/chat/completions"
    return stripped   # a full endpoint path such as .../api/v1/infer: used as written


def _merge_tool_call(acc: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    """Streamed tool calls arrive in pieces keyed by index; join the argument fragments."""
    index = delta.get("index", 0)
    call = acc.setdefault(index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
    call["id"] = delta.get("id") or call["id"]
    fn = delta.get("function") or {}
    call["function"]["name"] += fn.get("name") or ""
    call["function"]["arguments"] += fn.get("arguments") or ""
