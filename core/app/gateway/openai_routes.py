"""POST /v1/chat/completions and GET /v1/models, in OpenAI's wire format, through the console's router.

    client = OpenAI(base_url="http://127.0.0.1:8501/v1", api_key="sos_…")
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])

`model`: `auto` (or none) lets the manager classify the prompt and pick the tier's models;
`provider/model` pins a configured provider (`openrouter/openai/gpt-4o-mini`); a bare provider name
uses its default model; anything else is a model id for the router's usual order. Tools and the other
OpenAI options pass through. A stream is relayed chunk by chunk as the provider sends it (never
buffered), then a usage chunk and `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.app.gateway import metrics
from core.app.gateway.auth import Caller
from core.app.gateway.common import endpoint, json_body, ok
from core.app.gateway.errors import ApiError, api_error
from core.errors import SpacesOSError

if TYPE_CHECKING:
    from core.app.services import Services

PASSTHROUGH = ("tools", "tool_choice", "response_format", "stop", "seed", "top_p", "max_tokens", "temperature")


@dataclass
class RoutedRequest:
    messages: list[dict[str, Any]]
    kwargs: dict[str, Any]              # for Router.chat / Router.stream
    label: str | None = None


def plan_request(body: dict[str, Any], svc: Services, caller: Caller) -> RoutedRequest:
    """The router call an OpenAI request asks for, with this caller's keys, limits and providers."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "`messages` must be a non-empty list of message objects.", code="invalid_messages")
    limit = svc.policy.max_message_chars
    size = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else len(json.dumps(m))
               for m in messages)
    if size > limit * max(1, len(messages)):
        raise ApiError(400, f"The messages hold {size:,} characters; the limit here is {limit:,} a message.",
                       code="context_length_exceeded")
    _check_options(body)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "`model` must be a string.", code="invalid_model")
    kwargs: dict[str, Any] = {k: body[k] for k in PASSTHROUGH if body.get(k) is not None}
    if body.get("max_completion_tokens") is not None and "max_tokens" not in kwargs:
        kwargs["max_tokens"] = body["max_completion_tokens"]
    kwargs.update(keys=caller.keys, session=caller.identity, overrides=caller.overrides(svc),
                  use_shared=caller.use_shared)
    label = None
    if not model or model == "auto":
        prompt = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""
        label = svc.manager.classify(str(prompt), caller.keys).label.value
        route = svc.manager.route(label, caller.keys)
        kwargs.update(model=route["models"] or None, prefer=route["prefer"] or None, label=label)
    else:
        head, _, rest = model.partition("/")
        if head in svc.router.providers:
            kwargs.update(provider=head, model=rest or None)
            caller.check_provider(head, svc)
        else:
            kwargs["model"] = model
    return RoutedRequest(messages, kwargs, label)


def _check_options(body: dict[str, Any]) -> None:
    """Refuse malformed options here, with a 400, before they reach a provider."""
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(
            isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)
            for t in tools)):
        raise ApiError(400, "`tools` must be a list of {type: function, function: {name, parameters}}.",
                       code="invalid_tools")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ApiError(400, f"`{name}` must be a positive integer.", code="invalid_value")
    value = body.get("temperature")
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
        raise ApiError(400, "`temperature` must be a number.", code="invalid_value")
    for m in body["messages"]:
        if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str | list | None):
            raise ApiError(400, "Each message needs a string `role` and a string (or parts list) `content`.",
                           code="invalid_messages")


def _model_name(provider: str | None, model: str | None) -> str:
    return f"{provider}/{model}" if provider and model else provider or model or "unknown"


def completion_body(result, label: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.text or None if result.tool_calls else
                               result.text}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "id": f"chatcmpl-{result.request_id}", "object": "chat.completion", "created": int(time.time()),
        "model": _model_name(result.provider, result.model),
        "choices": [{"index": 0, "message": message,
                     "finish_reason": result.finish_reason or ("tool_calls" if result.tool_calls else "stop")}],
        "usage": _usage(result.usage),
        "spaces_os": _facts(result.provider, result.key_source, result.attempts, label),
    }


def _usage(usage) -> dict[str, Any]:
    tin, tout = usage.tokens_in or 0, usage.tokens_out or 0
    return {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout,
            "cost": usage.cost_usd}


def _facts(provider, key_source, attempts, label) -> dict[str, Any]:
    return {"provider": provider, "key_source": key_source, "label": label,
            "attempts": [{"provider": a.provider, "model": a.model, "outcome": a.outcome,
                          "http_status": a.http_status, "latency_ms": a.latency_ms} for a in attempts]}


async def chat_completions(request: Request, svc: Services, caller: Caller) -> Response:
    body = await json_body(request)
    await run_in_threadpool(caller.admit_chat, svc)
    routed = await run_in_threadpool(plan_request, body, svc, caller)
    if body.get("stream"):
        return await _stream(svc, routed)
    try:
        result = await run_in_threadpool(lambda: svc.router.chat(routed.messages, **routed.kwargs))
    except SpacesOSError as exc:
        metrics.observe_attempts(getattr(exc, "attempts", []))
        raise
    metrics.observe_attempts(result.attempts)
    return ok(completion_body(result, routed.label))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _stream(svc: Services, routed: RoutedRequest) -> Response:
    stream = svc.router.stream(routed.messages, **routed.kwargs)
    chunks = iter(stream)
    # Fail over before the first chunk: an error then is still a proper HTTP error with its status.
    try:
        first = await run_in_threadpool(next, chunks, None)
    except SpacesOSError as exc:
        metrics.observe_attempts(stream.attempts)
        raise api_error(exc) from None
    return StreamingResponse(_events(stream, chunks, first, routed.label), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _events(stream, chunks: Iterator[str], first: str | None, label: str | None) -> Iterator[bytes]:
    """SSE frames, one per provider chunk as it arrives (Starlette iterates this in a thread)."""
    chunk_id, created = f"chatcmpl-{stream.request_id}", int(time.time())

    def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                     "model": _model_name(stream.provider, stream.model),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    try:
        yield frame({"role": "assistant", "content": ""})
        if first is not None:
            yield frame({"content": first})
            for text in chunks:
                yield frame({"content": text})
        result = stream.result
        if result is not None and result.tool_calls:
            calls = [{"index": i, **call} for i, call in enumerate(result.tool_calls)]
            yield frame({"tool_calls": calls})
        finish = (result.finish_reason if result else None) or \
            ("tool_calls" if result is not None and result.tool_calls else "stop")
        yield frame({}, finish)
        if result is not None:
            yield _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                        "model": _model_name(result.provider, result.model), "choices": [],
                        "usage": _usage(result.usage), "spaces_os": _facts(result.provider, result.key_source,
                                                                           result.attempts, label)})
    except SpacesOSError as exc:      # broke after the first chunk: the partial text was delivered
        yield _sse(api_error(exc).body())
    finally:
        metrics.observe_attempts(stream.attempts)
        stream.close()
    yield b"data: [DONE]\n\n"


async def list_models(request: Request, svc: Services, caller: Caller) -> Response:
    off = caller.overrides(svc) or {}
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "spaces-os"}]
    usable = {s.name for s in svc.router.status(caller.keys) if s.usable and (s.kind != "demo" or
                                                                            svc.router.is_demo(caller.keys))}
    for name, provider in svc.router.providers.items():
        cfg = provider.config
        if name in off or name not in usable:
            continue
        for model in dict.fromkeys([*(cfg.models or []), *([cfg.default_model] if cfg.default_model else [])]):
            data.append({"id": f"{name}/{model}", "object": "model", "created": 0, "owned_by": name})
    return ok({"object": "list", "data": data})


def openai_routes() -> list[Route]:
    return [Route("/v1/chat/completions", endpoint("chat_completions", chat_completions), methods=["POST"]),
            Route("/v1/models", endpoint("models", list_models), methods=["GET"])]
