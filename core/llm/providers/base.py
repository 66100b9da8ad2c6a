"""The one interface every provider implements, and the shared error normalisation.

A provider never stores a key: the router passes the key for each call. Failures leave a provider
only as `ProviderError` with an `ErrorKind`, already redacted.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from core.errors import ErrorKind, ProviderError
from core.llm.keys import redact, register_key_shape
from core.llm.netguard import BlockedURL, check_name

if TYPE_CHECKING:      # config reads the provider classes' facts, so providers import it for types only
    from core.llm.config import ProviderConfig


@dataclass
class ChatRequest:
    messages: list[dict[str, Any]]
    model: str | None
    max_tokens: int | None = None
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # tools, response_format, OpenRouter routing…


# OpenAI-style generation options passed through to any provider that speaks the chat-completions API.
PASSTHROUGH_OPTIONS = ("tools", "tool_choice", "response_format", "stop", "seed", "top_p")


def generation_options(request: ChatRequest) -> dict[str, Any]:
    """model, max_tokens, temperature and the pass-through options of a request, as chat-completion fields.
    No model means the endpoint's own default: the field is left out, never sent as `null`."""
    options: dict[str, Any] = {"model": request.model} if request.model is not None else {}
    if request.max_tokens is not None:
        options["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        options["temperature"] = request.temperature
    options.update({name: request.extra[name] for name in PASSTHROUGH_OPTIONS if name in request.extra})
    return options


@dataclass
class Completion:
    text: str
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None          # as reported by the provider, if it does
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    upstream: str | None = None            # the provider behind an aggregator (OpenRouter's "provider")


@dataclass
class ModelInfo:
    id: str
    price_in: float | None = None      # USD per 1M tokens
    price_out: float | None = None
    context_length: int | None = None
    note: str = ""


@dataclass
class Health:
    ok: bool
    latency_ms: float
    kind: str | None = None
    message: str = ""


class Provider:
    """Base class: subclasses override the hooks that differ, and state their facts as class attributes.

    The facts are all the rest of the code knows about a provider: config reads `aliases`, `env_keys`,
    `default_base_url` and `default_models`; key checks read `key_prefix` and `key_shape`; model checks
    read `model_shape`. See NEW_PROVIDER.md."""

    kind = "base"
    label = ""                                  # shown next to answers; the demo provider sets "DEMO"
    display_name = ""                           # in messages: "Hugging Face", "OpenRouter"
    aliases: ClassVar[tuple[str, ...]] = ()     # other config section names meaning this provider ("hf")
    env_keys: ClassVar[tuple[str, ...]] = ()    # the shared key from the environment; the first one set wins
    default_base_url: str | None = None
    default_models: ClassVar[tuple[str, ...]] = ()
    key_prefix = ""                             # how this provider's keys start ("hf_"); shown to users
    key_shape: str | None = None                # a regex for a whole key, redacted everywhere it appears
    key_shape_required = False                  # refuse a key without `key_prefix` (else only others' shapes)
    model_shape: str | None = None              # a regex a model name must match, beyond `check_name`
    model_hint = "a model id"                   # the model name's shape in words, for the error
    uses_app_url = False                        # config puts this install's public URL in options["app_url"]

    _model_re: ClassVar[re.Pattern | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "key_shape" in cls.__dict__ and cls.key_shape:
            register_key_shape(cls.key_prefix, cls.key_shape)
        cls._model_re = re.compile(cls.model_shape) if cls.model_shape else None

    def __init__(self, config: ProviderConfig):
        self.config = config
        self.name = config.name
        self._checked_models: dict[str, str | None] = {}

    @classmethod
    def configured_url(cls, url: str | None, path: str, warnings: list[str]) -> str | None:
        """The base URL to store for this provider, from the config's `url` (already checked http(s))."""
        return url.rstrip("/") if url else cls.default_base_url

    @classmethod
    def model_problem(cls, name: str, configured_url: str | None = None) -> str | None:
        """Why `name` cannot be one of this provider's model names, in plain words, or None."""
        if configured_url and _endpoint(name) == _endpoint(configured_url):
            return None
        try:
            check_name(name, "a model name")
        except BlockedURL as e:
            return str(e)
        if cls._model_re is not None and not cls._model_re.fullmatch(name):
            return f"`{redact(name, limit=80)}` is not {cls.model_hint}."
        return None

    def validate_model(self, name: str | None) -> str | None:
        """The model name to send for `name`, or ProviderError(BAD_REQUEST) saying why it is not one.

        A model name is never an endpoint: a URL is refused, unless it is this provider's own configured
        URL, which means "its default model"."""
        if name is None:
            return None
        known = self._checked_models.get(name, False)
        if known is not False:
            return known
        if self.config.base_url and _endpoint(name) == _endpoint(self.config.base_url):
            checked = self.config.default_model
        elif problem := self.model_problem(name):
            raise ProviderError(ErrorKind.BAD_REQUEST, f"{self.name}: {problem}")
        else:
            checked = name
        if len(self._checked_models) < 256:
            self._checked_models[name] = checked
        return checked

    # The router calls these three; each raises ProviderError on failure.
    def chat(self, request: ChatRequest, key: str | None, timeout: float) -> Completion:
        raise NotImplementedError

    def stream(self, request: ChatRequest, key: str | None, timeout: float) -> Iterator[str | Completion]:
        """Yield text chunks, then exactly one final `Completion` (usage, model) as the last item."""
        raise NotImplementedError

    def list_models(self, key: str | None, timeout: float = 10.0) -> list[ModelInfo]:
        return [ModelInfo(m) for m in self.config.models]

    def error_kind(self, status: int | None, body: Any = None) -> ErrorKind | None:
        """The kind of a failure this provider reported with `status` (an HTTP status, or an error chunk's
        `code`) and its error body; None if neither says. A provider whose statuses mean something else
        overrides this (OpenRouter's 403)."""
        return kind_for_status(status, body)

    def health(self, key: str | None, timeout: float = 10.0) -> Health:
        """A cheap authenticated call; by default a one-token chat."""
        start = time.perf_counter()
        try:
            self.chat(ChatRequest([{"role": "user", "content": "ping"}], self.config.default_model,
                                  max_tokens=1), key, timeout)
        except ProviderError as e:
            return Health(False, (time.perf_counter() - start) * 1000, e.kind.value, str(e))
        return Health(True, (time.perf_counter() - start) * 1000)

    def accepts_key(self, key: str) -> str | None:
        """None if `key` can be used here, else why not (shown to the user)."""
        from core.llm.providers import key_problem  # the registry imports this module

        return key_problem(self.kind, key)

    def close(self) -> None:
        pass


def _endpoint(url: str) -> str:
    """A URL compared as an endpoint: `…/v1`, `…/v1/` and `…/v1/chat/completions` are the same one."""
    return url.strip().rstrip("/").removesuffix("/chat/completions").rstrip("/")


# ------------------------------------------------------------------ error normalisation

def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# OpenRouter's typed `error.metadata.error_type` (errors-and-debugging), where the status alone is vague.
ERROR_TYPE_KINDS = {
    "context_length_exceeded": ErrorKind.BAD_REQUEST, "max_tokens_exceeded": ErrorKind.BAD_REQUEST,
    "token_limit_exceeded": ErrorKind.BAD_REQUEST, "string_too_long": ErrorKind.BAD_REQUEST,
    "authentication": ErrorKind.AUTH, "payment_required": ErrorKind.PAYMENT,
    "rate_limit_exceeded": ErrorKind.RATE_LIMITED, "provider_overloaded": ErrorKind.UNAVAILABLE,
    "provider_unavailable": ErrorKind.UNAVAILABLE, "timeout": ErrorKind.TIMEOUT, "server": ErrorKind.UNAVAILABLE,
    # Text Generation Inference's top-level `error_type` (Hugging Face's hf-inference)
    "overloaded": ErrorKind.UNAVAILABLE, "validation": ErrorKind.BAD_REQUEST, "template_error": ErrorKind.BAD_REQUEST,
}


def error_type(body: Any) -> str | None:
    """OpenRouter's `error.metadata.error_type`, or TGI's top-level `error_type`."""
    typed = _error_field(body, "metadata", "error_type")
    if typed is None and isinstance(body, dict):
        typed = body.get("error_type")
    return typed if isinstance(typed, str) else None


def kind_for_status(status: int | None, body: Any = None) -> ErrorKind | None:
    """The kind for an HTTP status (or an error chunk's code) and its body; None if neither says."""
    typed = ERROR_TYPE_KINDS.get(error_type(body) or "")
    if typed is not None and status != 402:
        return typed
    if status is None:
        return None
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 402:
        reason = _error_field(body, "metadata", "reason")
        return ErrorKind.RATE_LIMITED if reason == "in_flight_budget_exhausted" else ErrorKind.PAYMENT
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 408:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    return ErrorKind.BAD_REQUEST


def _error_field(body: Any, *path: str) -> Any:
    node = body.get("error") if isinstance(body, dict) else None
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _words(node: Any, depth: int = 0) -> str:
    """The human words in an error node of any shape (a string, `{"message": …}`, `{"error": …}`, FastAPI's
    `{"detail": [{"msg": …}]}`), never a Python or JSON dump of it."""
    if isinstance(node, str):
        return node.strip()
    if depth > 4:
        return ""
    if isinstance(node, dict):
        for name in ("message", "error", "detail", "msg", "reason"):
            if words := _words(node.get(name), depth + 1):
                return words
        return ""
    if isinstance(node, list):
        return "; ".join(w for w in (_words(item, depth + 1) for item in node[:3]) if w)
    return ""


def error_message(body: Any, text: str = "") -> str:
    """The server's own words, from an OpenAI/OpenRouter/TGI-style body, or its text (uncut: redact, then
    cut). OpenRouter's upstream reason (`error.metadata.raw`) and moderation reasons are added."""
    if not isinstance(body, dict):
        return text.strip()
    words = _words(body.get("error")) or _words(body) or text.strip()
    metadata = _error_field(body, "metadata")
    if not isinstance(metadata, dict):
        return words
    raw = metadata.get("raw")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):      # upstream bodies are often JSON in a string
            raw = _words(json.loads(raw)) or raw
    raw = _words(raw)
    if raw and raw not in words:
        upstream = metadata.get("provider_name")
        words += f" ({upstream}: {raw})" if isinstance(upstream, str) and upstream else f" ({raw})"
    reasons = metadata.get("reasons")
    if isinstance(reasons, list) and reasons:
        words += " (reasons: " + ", ".join(str(r) for r in reasons[:5]) + ")"
    return words


def usage_numbers(usage: Any) -> tuple[int | None, int | None, float | None]:
    """(tokens in, tokens out, cost in USD) from an OpenAI-style `usage` object (OpenRouter adds `cost`)."""
    if not isinstance(usage, dict):
        return None, None, None
    cost = usage.get("cost")
    return (usage.get("prompt_tokens"), usage.get("completion_tokens"),
            float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None)


def answer_error(body: Any) -> dict[str, Any] | None:
    """The error a 2xx answer or stream chunk carries, as a body with an `error` (OpenRouter: a top-level
    `error`, a choice's `error`, or `finish_reason: "error"`); None when it carries none."""
    if not isinstance(body, dict):
        return None
    if body.get("error"):
        return body
    for choice in body.get("choices") or ():
        if isinstance(choice, dict) and choice.get("error"):
            return {"error": choice["error"]}
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            return {"error": {"message": "the model stopped with an error"}}
    return None


def error_code(body: Any) -> int | None:
    """An error body's numeric `error.code` (OpenRouter sends the HTTP status there), if any."""
    code = _error_field(body, "code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599 else None


def body_retry_after(body: Any) -> float | None:
    """Seconds to wait that an error body states (OpenRouter's `error.availability.retry_after`)."""
    value = _error_field(body, "availability", "retry_after")
    return max(0.0, float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def http_error(provider: str, status: int, body: Any, text: str, retry_after: str | None,
               key: str | None, kind: ErrorKind | None = None) -> ProviderError:
    kind = kind or kind_for_status(status, body) or ErrorKind.BAD_REQUEST
    detail = redact(error_message(body, text), [key], limit=300)
    return ProviderError(kind, f"{provider}: HTTP {status}" + (f": {detail}" if detail else ""),
                         status=status, retry_after=parse_retry_after(retry_after) or body_retry_after(body))


def completion_from_body(body: Any, provider: str) -> Completion:
    """Read a chat-completion JSON body; anything malformed is BAD_RESPONSE."""
    try:
        choice = body["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        tool_calls = message.get("tool_calls") or None
        if content is None and not tool_calls:
            raise KeyError("content")
        tokens_in, tokens_out, cost = usage_numbers(body.get("usage"))
        return Completion(
            text=content or "", model=body.get("model"), tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost,
            finish_reason=choice.get("finish_reason"), tool_calls=tool_calls,
            upstream=body.get("provider") if isinstance(body.get("provider"), str) else None,
        )
    except (KeyError, IndexError, TypeError, AttributeError) as e:
        raise ProviderError(ErrorKind.BAD_RESPONSE,
                            f"{provider}: answered 2xx without a valid completion ({type(e).__name__})") from None
