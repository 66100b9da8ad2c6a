"""GET /api/openapi.json: the API's OpenAPI 3.1 document, written once here beside the routes it describes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_ERROR = {"description": "An error in OpenAI's shape", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_SPACE_PARAMS = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"}}
                 for n in ("owner", "name")]


def _op(summary: str, *, body: dict | None = None, params: list | None = None, ok: str = "200",
        errors: tuple[str, ...] = ("400", "401", "403", "429", "502")) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {ok: _JSON, **{e: _ERROR for e in errors}},
                          "security": [{}, {"bearer": []}]}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


_MESSAGE = {"type": "object", "required": ["role", "content"], "properties": {
    "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}
_CHAT = {"type": "object", "required": ["messages"], "properties": {
    "model": {"type": "string", "description": "auto, provider/model, a provider name or a model id"},
    "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
    "stream": {"type": "boolean"}, "max_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2}, "tools": {"type": "array"}}}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Spaces OS API", "version": "1.0.0",
             "description": "OpenAI-compatible chat through the console's router, and its REST API. The same "
                            "port also serves `/mcp`, the console's MCP server over Streamable HTTP (JSON-RPC, "
                            "not REST, so not listed here), with the same bearer tokens and scopes."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message", "type", "code"], "properties": {
                "message": {"type": "string"}, "type": {"type": "string"},
                "code": {"type": ["string", "null"]}, "param": {"type": ["string", "null"]}}}}}},
    },
    "paths": {
        "/v1/chat/completions": {"post": _op("Chat completion (OpenAI wire format)", body=_CHAT, ok="200",
                                             errors=("400", "401", "402", "403", "409", "429", "502", "504"))},
        "/v1/models": {"get": _op("Models of the configured providers", errors=("401",))},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _JSON}}},
        "/api/providers": {"get": _op("Provider status and cooldowns", errors=("401",))},
        "/api/providers/route": {"post": _op("Where a prompt would be routed (nothing is sent)", body={
            "type": "object", "required": ["prompt"], "properties": {
                "prompt": {"type": "string", "minLength": 1}, "model": {"type": "string"},
                "provider": {"type": "string"}}})},
        "/api/spaces": {
            "get": _op("Your Spaces", errors=("401", "403", "429", "502")),
            "post": _op("Create a Space", ok="201", body={"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "sdk": {"type": "string"}, "private": {"type": "boolean"}}},
                errors=("400", "401", "402", "403", "409", "429", "502"))},
        "/api/spaces/{owner}/{name}": {
            "get": _op("A Space's runtime state", params=_SPACE_PARAMS, errors=("400", "401", "403", "404", "502")),
            "delete": _op("Delete a Space", params=_SPACE_PARAMS, errors=("400", "401", "403", "404", "502"))},
        "/api/spaces/{owner}/{name}/restart": {"post": _op("Restart a Space", params=_SPACE_PARAMS,
                                                           errors=("400", "401", "403", "404", "502"))},
        "/api/spaces/{owner}/{name}/pause": {"post": _op("Pause a Space", params=_SPACE_PARAMS,
                                                         errors=("400", "401", "403", "404", "502"))},
        "/api/workflows": {"post": _op("Build a Space from an idea", ok="202", body={
            "type": "object", "required": ["idea"], "properties": {
                "idea": {"type": "string", "minLength": 1}, "sdk": {"type": "string"}, "private": {"type": "boolean"}}})},
        "/api/workflows/{run_id}": {"get": _op("A build run's steps and status", errors=("401", "403", "404"), params=[
            {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/api/tasks/{task_id}": {"get": _op("A manager task", errors=("401", "404"), params=[
            {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}])},
    },
}

# `model: auto` and a COMPLEX prompt: the answer comes from a manager task, named in this header.
DOCUMENT["paths"]["/v1/chat/completions"]["post"]["responses"]["200"] = {**_JSON, "headers": {"x-spaces-os-task": {
    "description": "The manager task that answered (GET /api/tasks/{id})", "schema": {"type": "string"}}}}


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)


def openapi_routes() -> list[Route]:
    return [Route("/api/openapi.json", openapi, methods=["GET"])]
