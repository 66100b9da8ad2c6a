"""The seed's REST API as JSON: providers, Spaces, build workflows, tasks.

    GET  /api/providers                       status and cooldowns, as the Providers page shows them
    POST /api/providers/route                 which provider and model a prompt would go to (nothing is sent)
    GET|POST /api/spaces                      the token owner's Spaces; create one        spaces-read | -write
    GET|DELETE /api/spaces/{owner}/{name}     runtime state; delete                       spaces-read | -write
    POST /api/spaces/{owner}/{name}/restart|pause                                         spaces-write
    POST /api/workflows, GET /api/workflows/{id}   build a Space from an idea; its steps  spaces-write | -read
    GET  /api/tasks/{id}                      a manager task this caller started
    /mcp                                      the MCP server (mcp_route.py), with these callers and scopes

Hub calls use the caller's own HF token (an `hf_…` bearer) or else the console's shared one, so they need a
token with the scope (hosted: never the owner's token, as for visitors); mutating routes need `spaces-write`.
A Space id is checked before anything is sent (400 naming the broken rule). Build runs and tasks are seen
only by the caller that started them (the operator token sees all); anyone else gets 404, as for an id
that does not exist.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.app.gateway.auth import Caller
from core.app.gateway.common import endpoint, json_body, ok
from core.app.gateway.errors import ApiError
from core.app.tasks import NotYourTask
from core.app.views.build import build_token, session_agent
from core.app.views.spaces import HubToken, choose_hub_token, session_clients
from core.build.workflow import WorkflowError
from core.hub.names import InvalidRepoIdError, validate_repo_id

if TYPE_CHECKING:
    from core.app.services import Services


# --------------------------------------------------------------------------- providers

async def providers(request: Request, svc: Services, caller: Caller) -> Response:
    statuses = await run_in_threadpool(svc.router.status, caller.keys)
    return ok({"providers": [asdict(s) for s in statuses], "demo": svc.router.is_demo(caller.keys)})


async def route_plan(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("chat")
    body = await json_body(request)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(400, "`prompt` (a non-empty string) is required.", code="invalid_prompt")
    provider = body.get("provider") if isinstance(body.get("provider"), str) else None
    caller.check_provider(provider, svc)

    def plan() -> dict[str, Any]:
        label = svc.manager.classify(prompt, caller.keys)
        route = svc.manager.route(label.label.value, caller.keys)
        model = body.get("model") if isinstance(body.get("model"), str) else route["models"] or None
        candidates = svc.router.plan(model=model, provider=provider, prefer=route["prefer"] or None,
                                     keys=caller.keys, overrides=caller.overrides(svc), use_shared=caller.use_shared)
        return {"classification": label.as_dict(),
                "candidates": [{"provider": c.name, "model": c.model, "key_source": c.key_source, "note": c.note}
                               for c in candidates]}

    return ok(await run_in_threadpool(plan))


# --------------------------------------------------------------------------- spaces

def _hub_token(svc: Services, caller: Caller) -> HubToken:
    """The HF token this caller's Hub calls use: its own `hf_…` bearer, else the console's shared one."""
    token = choose_hub_token(svc.config.providers if svc.config else [], caller.keys, hosted=svc.hosted)
    if token.value is None:
        where = ("a hosted console never lends its own token" if svc.hosted else
                 "this console has none configured (a `huggingface` provider with a `token`, or `HF_TOKEN`)")
        raise ApiError(401, f"No Hugging Face token for this request: {where}. Send your own `hf_…` token as "
                            "the bearer to act on your Spaces.", "authentication_error", "hub_token_missing")
    return token


def _spaces(svc: Services, caller: Caller):
    ctx = caller.context(svc)
    return session_clients(ctx.cache, endpoint=svc.hub_endpoint, token=_hub_token(svc, caller), router_url=None,
                           store=svc.store, session=caller.identity, max_upload_bytes=svc.policy.max_upload_bytes)


def _space_id(request: Request) -> str:
    """`owner/name` from the path, checked against the Hub's naming rules before anything is sent."""
    given = f"{request.path_params['owner']}/{request.path_params['name']}"
    try:
        return validate_repo_id(given, kind="space")
    except InvalidRepoIdError as exc:
        raise ApiError(400, str(exc), code="invalid_name") from None


async def list_spaces(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-read")
    _, spaces = _spaces(svc, caller)
    return ok({"spaces": await run_in_threadpool(spaces.list_my_spaces)})


async def create_space(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-write")
    body = await json_body(request)
    name, sdk, private = body.get("name"), body.get("sdk", "docker-streamlit"), body.get("private", True)
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "`name` (the new Space's name, e.g. `my-app` or `owner/my-app`) is required.",
                       code="invalid_name")
    if not isinstance(sdk, str) or not isinstance(private, bool):
        raise ApiError(400, "`sdk` must be a string and `private` true or false.", code="invalid_value")
    _, spaces = _spaces(svc, caller)
    result = await run_in_threadpool(lambda: spaces.create_space(name, sdk=sdk, private=private))
    return ok(_plain(result), status=201)


async def get_space(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-read")
    space_id = _space_id(request)
    _, spaces = _spaces(svc, caller)
    return ok(_plain(await run_in_threadpool(spaces.runtime, space_id)))


async def delete_space(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-write")
    space_id = _space_id(request)
    _, spaces = _spaces(svc, caller)
    await run_in_threadpool(lambda: spaces.delete(space_id, confirm=space_id))
    return ok({"deleted": space_id})


def _space_action(action: str):
    async def act(request: Request, svc: Services, caller: Caller) -> Response:
        caller.require("spaces-write")
        space_id = _space_id(request)
        _, spaces = _spaces(svc, caller)
        return ok(_plain(await run_in_threadpool(getattr(spaces, action), space_id)))
    return act


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value


# --------------------------------------------------------------------------- workflows and tasks

def _build_agent(svc: Services, caller: Caller):
    """The caller's build agent, made as the Spaces page makes a visitor's: its own HF token deploys, else the
    shared one (never when hosted: then, as without any token, a run is a dry run writing under builds/)."""
    token = choose_hub_token(svc.config.providers if svc.config else [], caller.keys, hosted=svc.hosted)
    usable, _ = build_token(token, hosted=svc.hosted)
    return session_agent(caller.context(svc).cache, router=svc.router, store=svc.store, endpoint=svc.hub_endpoint,
                         token=usable, keys=caller.keys, session=caller.identity, hosted=svc.hosted,
                         allow_preview=svc.hosted_settings.allow_preview,
                         max_upload_bytes=svc.policy.max_upload_bytes)


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"No {what} with that id for this caller.", "not_found_error", "not_found")


async def start_workflow(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-write")
    body = await json_body(request)
    idea, sdk, private = body.get("idea"), body.get("sdk"), body.get("private", True)
    if not isinstance(idea, str) or not isinstance(sdk, str | None) or not isinstance(private, bool):
        raise ApiError(400, "`idea` must be a sentence, `sdk` a string and `private` true or false.",
                       code="invalid_value")
    agent = _build_agent(svc, caller)
    run_id = await run_in_threadpool(lambda: agent.start(idea, sdk=sdk, private=private))
    threading.Thread(target=agent.run, args=(run_id,), name=f"workflow-{run_id}", daemon=True).start()
    return ok({"id": run_id, "status": "running", "dry_run": agent.spaces is None}, status=202)


async def get_workflow(request: Request, svc: Services, caller: Caller) -> Response:
    caller.require("spaces-read")
    run_id = request.path_params["run_id"]
    row = await run_in_threadpool(svc.store.get_workflow_run, run_id)
    if row is None or not caller.context(svc).owns(row["session"]):
        raise _not_found("workflow run")      # another caller's run is as absent as an unknown id
    agent = _build_agent(svc, caller)
    try:
        state = await run_in_threadpool(agent.status, run_id)
    except WorkflowError:
        raise _not_found("workflow run") from None
    return ok(asdict(state))


async def get_task(request: Request, svc: Services, caller: Caller) -> Response:
    try:
        task = await run_in_threadpool(svc.tasks.get, caller.context(svc), request.path_params["task_id"])
    except (NotYourTask, LookupError):
        raise _not_found("task") from None
    return ok({k: v for k, v in asdict(task).items() if k != "session"})


def rest_routes() -> list[BaseRoute]:
    space = "/api/spaces/{owner}/{name}"
    return [
        Route("/api/providers", endpoint("providers", providers), methods=["GET"]),
        Route("/api/providers/route", endpoint("providers_route", route_plan), methods=["POST"]),
        Route("/api/spaces", endpoint("spaces_list", list_spaces), methods=["GET"]),
        Route("/api/spaces", endpoint("spaces_create", create_space), methods=["POST"]),
        Route(space, endpoint("space_get", get_space), methods=["GET"]),
        Route(space, endpoint("space_delete", delete_space), methods=["DELETE"]),
        Route(space + "/restart", endpoint("space_restart", _space_action("restart")), methods=["POST"]),
        Route(space + "/pause", endpoint("space_pause", _space_action("pause")), methods=["POST"]),
        Route("/api/workflows", endpoint("workflow_start", start_workflow), methods=["POST"]),
        Route("/api/workflows/{run_id}", endpoint("workflow_get", get_workflow), methods=["GET"]),
        Route("/api/tasks/{task_id}", endpoint("task_get", get_task), methods=["GET"]),
    ]
