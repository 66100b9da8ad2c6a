"""POST /v1/chat/completions and GET /v1/models, in OpenAI's wire format, through the console's router.

    client = OpenAI(base_url="http://127.0.0.1:8501/v1", api_key="sos_…")
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])

`model`: `auto` (or none) lets the manager classify the prompt and pick the tier's models;
`provider/model` pins a configured provider (`openrouter/openai/gpt-4o-mini`); a bare provider name
uses its default model; anything else is a model id for the router's usual order. Tools and the other
OpenAI options pass through. A stream is relayed chunk by chunk as the provider sends it (never
buffered), then a usage chunk and `data: [DONE]`.

With `auto`, a prompt the manager labels COMPLEX (and no tools) becomes a manager task, as in Chat: it is
in the task queue under the caller's identity, may pause for a quick request and resume, and the caller
waits for its answer (streamed as the task writes it). The `x-spaces-os-task` response header names the
task, so `GET /api/tasks/{id}` reads it, also after a timeout or a dropped connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.agent.classifier import Label
from core.agent.manager import ACTIVE, FINAL, Task
from core.app.gateway import metrics
from core.app.gateway.auth import Caller
from core.app.gateway.common import endpoint, ok, parse_json_body
from core.app.gateway.errors import ApiError, api_error, provider_failure
from core.errors import SpacesOSError

if TYPE_CHECKING:
    from core.app.services import Services

PASSTHROUGH = ("tools", "tool_choice", "response_format", "stop", "seed", "top_p", "max_tokens", "temperature")
DIRECT_ONLY = ("tools", "tool_choice")      # a task's answer is text: tool calls are answered directly
TASK_HEADER = "x-spaces-os-task"
TASK_POLL_S = 0.25                          # a streamed task's new text is sent at least this often


@dataclass
class RoutedRequest:
    messages: list[dict[str, Any]]
    kwargs: dict[str, Any]              # for Router.chat / Router.stream
    label: str | None = None
    as_task: bool = False               # `auto` and COMPLEX: answered by a manager task


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
        last = messages[-1]
        as_task = (label == Label.COMPLEX.value and last.get("role") == "user" and isinstance(last.get("content"), str)
                   and not any(body.get(k) for k in DIRECT_ONLY))
        return RoutedRequest(messages, kwargs, label, as_task)
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
    body, routed, answer = request.state.prepared          # _admit_plan_answer, run with authentication
    if routed.as_task:
        task_id = await run_in_threadpool(submit_task, svc, caller, routed)
        if body.get("stream"):
            return StreamingResponse(_task_events(svc, task_id, routed.label), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                              TASK_HEADER: task_id})
        task = await run_in_threadpool(svc.manager.wait, task_id, task_wait_s(svc))
        if task.status != "done":
            raise task_error(svc, task)
        return ok(await run_in_threadpool(task_completion, svc, task, routed.label), headers={TASK_HEADER: task_id})
    if isinstance(answer, OpenedStream):
        return StreamingResponse(_events(answer.stream, answer.chunks, answer.first, routed.label),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return ok(completion_body(answer, routed.label))


@dataclass
class OpenedStream:
    stream: Any                         # the router's stream
    chunks: Iterator[str]
    first: str | None                   # its first chunk (None: it ended without text)


def _admit_plan_answer(raw: bytes, svc: Services, caller: Caller) -> tuple[dict[str, Any], RoutedRequest, Any]:
    """The body, the token's budget, the plan, and the answer (or a stream's first chunk), in the worker-thread
    trip that authenticated the caller (endpoint's `prepare`): one trip for the whole request."""
    body = parse_json_body(raw)
    caller.admit_chat(svc)
    routed = plan_request(body, svc, caller)
    if routed.as_task:
        return body, routed, None
    if body.get("stream"):
        return body, routed, _open_stream(svc, routed)
    try:
        result = svc.router.chat(routed.messages, **routed.kwargs)
    except SpacesOSError as exc:
        metrics.observe_attempts(getattr(exc, "attempts", []))
        raise
    metrics.observe_attempts(result.attempts)
    return body, routed, result


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _open_stream(svc: Services, routed: RoutedRequest) -> OpenedStream:
    stream = svc.router.stream(routed.messages, **routed.kwargs)
    chunks = iter(stream)
    # Fail over before the first chunk: an error then is still a proper HTTP error with its status.
    try:
        first = next(chunks, None)
    except SpacesOSError as exc:
        metrics.observe_attempts(stream.attempts)
        raise api_error(exc) from None
    return OpenedStream(stream, chunks, first)


def _events(stream, chunks: Iterator[str], first: str | None, label: str | None) -> Iterator[bytes]:
    """SSE frames, one per provider chunk as it arrives (Starlette iterates this in a thread)."""
    chunk_id, created = f"chatcmpl-{stream.request_id}", int(time.time())

    def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                     "model": _model_name(stream.provider, stream.model),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    try:
        opening = frame({"role": "assistant", "content": ""})
        if first is not None:
            yield opening + frame({"content": first})       # one write: the first text leaves with the role
            for text in chunks:
                yield frame({"content": text})
        else:
            yield opening
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


# --------------------------------------------------------------------------- COMPLEX: a manager task

def submit_task(svc: Services, caller: Caller, routed: RoutedRequest) -> str:
    """Queue the request as a manager task of this caller (its identity, keys and providers); its id."""
    kw = routed.kwargs
    options = {k: kw[k] for k in PASSTHROUGH if k in kw}
    try:
        task = svc.manager.submit(routed.messages[-1]["content"], session=caller.identity, keys=caller.keys,
                                  history=routed.messages[:-1], overrides=kw["overrides"], options=options)
    except SpacesOSError as exc:
        if type(exc) is SpacesOSError:      # too many unfinished tasks, for this caller or the console
            raise ApiError(429, str(exc), "rate_limit_error", "too_many_tasks") from None
        raise
    return task.id


def task_wait_s(svc: Services) -> float:
    """How long a caller waits for its task: two request deadlines (it may be paused for a quick one)."""
    return 2 * svc.router.settings.deadline


def _task_usage(svc: Services, task_id: str) -> list[dict[str, Any]]:
    svc.store.flush()           # the task's last usage rows may still be in the background writer
    return svc.store.usage_rows(task_id=task_id)


def task_completion(svc: Services, task: Task, label: str | None) -> dict[str, Any]:
    """A finished task as an OpenAI chat completion, with its usage summed over its attempts."""
    rows = _task_usage(svc, task.id)
    metrics.observe_attempts(SimpleNamespace(**r) for r in rows)
    answered = [r for r in rows if r["outcome"] == "ok"]
    tin, tout = sum(r["tokens_in"] or 0 for r in answered), sum(r["tokens_out"] or 0 for r in answered)
    costs = [r["cost_usd"] for r in answered if r["cost_usd"] is not None]
    return {
        "id": f"chatcmpl-{task.id}", "object": "chat.completion", "created": int(task.created_at),
        "model": _model_name(task.provider, task.model),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": task.result or ""},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout,
                  "cost": sum(costs) if costs else None},
        "spaces_os": {"provider": task.provider, "key_source": answered[-1]["key_source"] if answered else None,
                      "label": label, "task_id": task.id,
                      "attempts": [{"provider": r["provider"], "model": r["model"], "outcome": r["outcome"],
                                    "http_status": r["http_status"], "latency_ms": r["latency_ms"]} for r in rows]},
    }


def task_error(svc: Services, task: Task) -> ApiError:
    """Why a task gave no answer: still running past the wait, cancelled, or failed as its last attempt did."""
    headers = {TASK_HEADER: task.id}
    if task.status in ACTIVE:
        return ApiError(504, f"Task {task.id} is still {task.status} after {task_wait_s(svc):.0f} s. It goes on in "
                             f"the background: GET /api/tasks/{task.id} gives its answer once it is done.",
                        "timeout_error", "task_pending", headers)
    if task.status == "cancelled":
        return ApiError(409, f"Task {task.id} was cancelled before it finished.", "invalid_request_error",
                        "task_cancelled", headers)
    failed = [r for r in _task_usage(svc, task.id) if r["outcome"] != "ok"]
    return provider_failure(failed[-1]["outcome"] if failed else None, task.error or "The task failed.", headers)


def _task_events(svc: Services, task_id: str, label: str | None) -> Iterator[bytes]:
    """SSE frames of a task's text as it writes it (the manager saves it every half second), then the usage
    chunk. The task does not depend on this reader: a dropped connection leaves it running."""
    created = int(time.time())

    def frame(task: Task, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": f"chatcmpl-{task_id}", "object": "chat.completion.chunk", "created": created,
                     "model": _model_name(task.provider, task.model),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    deadline = time.monotonic() + task_wait_s(svc)
    task = svc.manager.get(task_id)
    yield frame(task, {"role": "assistant", "content": ""})
    sent = 0
    while True:
        task = svc.manager.wait(task_id, TASK_POLL_S)
        text = task.partial_text
        if len(text) > sent:
            yield frame(task, {"content": text[sent:]})
            sent = len(text)
        if task.status in FINAL or time.monotonic() >= deadline:
            break
    if task.status == "done":
        yield frame(task, {}, "stop")
        body = task_completion(svc, task, label)
        yield _sse({"id": body["id"], "object": "chat.completion.chunk", "created": created, "model": body["model"],
                    "choices": [], "usage": body["usage"], "spaces_os": body["spaces_os"]})
    else:
        yield _sse(task_error(svc, task).body())
    yield b"data: [DONE]\n\n"


async def list_models(request: Request, svc: Services, caller: Caller) -> Response:
    off = caller.switched_off(svc)
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
    return [Route("/v1/chat/completions", endpoint("chat_completions", chat_completions, _admit_plan_answer),
                  methods=["POST"]),
            Route("/v1/models", endpoint("models", list_models), methods=["GET"])]
