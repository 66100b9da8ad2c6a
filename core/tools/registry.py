"""One registry of Hub tools, shared by the Chat agent and a future MCP server.

A `Tool` is a name, a description, a JSON-schema for its arguments, a handler and a `mutating` flag
(an agent should ask the user before a mutating call). `ToolRegistry.call` checks the arguments against
the schema (the subset below, no extra dependency), fills defaults and returns plain JSON values.

    tools = build_hub_tools(HubClient(endpoint, token), SpaceManager(...))
    tools.call("search_models", {"query": "llama", "task": "text-generation", "limit": 5})
    tools.openai_tools()   # for chat-completions `tools=`;  tools.mcp_tools() for an MCP `tools/list`

Schema subset understood: `type` (one or a list), `properties`, `required`, `additionalProperties`
(false only), `enum`, `minimum`, `maximum`, `minLength`, `maxLength`, `items`, `default`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from core.errors import ToolError
from core.hub.client import MAX_PAGE, REPO_SORTS, SPACE_SDKS, SPACE_SORTS, HubClient, jsonable
from core.hub.errors import HubActionError
from core.hub.spaces import SpaceManager

JSON = dict[str, Any]
AGENT_PAGE_SIZE = 10      # small pages keep an agent's context short
MAX_LOG_LINES = 500


class ToolArgumentError(ToolError, ValueError):
    """The arguments do not match the tool's schema; `path` names the offending argument."""

    def __init__(self, message: str, *, path: str = "arguments"):
        self.path = path
        super().__init__(f"{path}: {message}")


class ToolNotFoundError(ToolError, LookupError):
    pass


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: JSON
    handler: Callable[..., Any] = field(repr=False)
    mutating: bool = False

    def openai_schema(self) -> JSON:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def mcp_schema(self) -> JSON:
        return {"name": self.name, "description": self.description, "inputSchema": self.parameters,
                "annotations": {"readOnlyHint": not self.mutating, "destructiveHint": self.mutating}}


class ToolRegistry:
    """Tools by name, in registration order."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise ValueError(f"A tool named {tool.name!r} is already registered.")
        if tool.parameters.get("type") != "object":
            raise ValueError(f"Tool {tool.name!r}: parameters must be a JSON schema of type 'object'.")
        self._tools[tool.name] = tool
        return tool

    def list(self, *, include_mutating: bool = True) -> list[Tool]:
        return [t for t in self._tools.values() if include_mutating or not t.mutating]

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolNotFoundError(f"No tool named {name!r}; available: {', '.join(self._tools)}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Validate `arguments`, run the tool, return its result as plain JSON values.

        Raises `ToolNotFoundError`, `ToolArgumentError` (nothing was run) or `HubActionError`.
        """
        tool = self.get(name)
        checked = validate_arguments(tool.parameters, {} if arguments is None else arguments)
        return jsonable(tool.handler(**checked))

    def call_safely(self, name: str, arguments: Mapping[str, Any] | None = None) -> JSON:
        """Like `call`, but failures come back as `{"ok": false, "error": {...}}` for an agent to read."""
        try:
            return {"ok": True, "result": self.call(name, arguments)}
        except HubActionError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except (ToolArgumentError, ToolNotFoundError) as exc:
            return {"ok": False, "error": {"kind": "invalid_input", "message": str(exc), "hint": "",
                                           "status": None, "retry_after": None}}

    def openai_tools(self, *, include_mutating: bool = True) -> list[JSON]:
        return [t.openai_schema() for t in self.list(include_mutating=include_mutating)]

    def mcp_tools(self, *, include_mutating: bool = True) -> list[JSON]:
        return [t.mcp_schema() for t in self.list(include_mutating=include_mutating)]


# --------------------------------------------------------------------------- validation


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def validate_arguments(schema: Mapping[str, Any], arguments: Any) -> dict[str, Any]:
    """Check `arguments` against an object `schema`; return a copy with top-level defaults filled in.

    >>> validate_arguments({"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}, {})
    {'n': 3}
    """
    _check(schema, arguments, "arguments")
    filled = dict(arguments)
    for key, spec in (schema.get("properties") or {}).items():
        if key not in filled and "default" in spec:
            filled[key] = spec["default"]
    return filled


def _check(schema: Mapping[str, Any], value: Any, path: str) -> None:
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_TYPES[n](value) for n in names):
            raise ToolArgumentError(f"expected {' or '.join(names)}, got {_type_name(value)}", path=path)
    if "enum" in schema and value not in schema["enum"]:
        raise ToolArgumentError(f"must be one of {', '.join(map(repr, schema['enum']))}", path=path)
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            raise ToolArgumentError(f"must be at least {schema['minimum']}", path=path)
        if "maximum" in schema and value > schema["maximum"]:
            raise ToolArgumentError(f"must be at most {schema['maximum']}", path=path)
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise ToolArgumentError(f"must have at least {schema['minLength']} characters", path=path)
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ToolArgumentError(f"must have at most {schema['maxLength']} characters", path=path)
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for key in schema.get("required", []):
            if key not in value:
                raise ToolArgumentError("is required", path=f"{path}.{key}")
        for key, item in value.items():
            if key in properties:
                _check(properties[key], item, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                raise ToolArgumentError(f"unknown argument; expected {', '.join(properties) or 'none'}",
                                        path=f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{i}]")


def _type_name(value: Any) -> str:
    return next((n for n, test in _TYPES.items() if test(value)), type(value).__name__)


# --------------------------------------------------------------------------- the Hub tools


def _object(properties: JSON, required: Iterable[str] = ()) -> JSON:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_QUERY = {"type": "string", "maxLength": 200, "description": "Words to search for."}
_PAGE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1, "description": "Page number, from 1."}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "default": AGENT_PAGE_SIZE, "description": "Results per page."}
_SPACE_ID = {"type": "string", "minLength": 3, "maxLength": 200, "description": "Space id, as 'owner/name'."}


def build_hub_tools(hub: HubClient, spaces: SpaceManager | None = None) -> ToolRegistry:
    """The Hub tools over one session's clients; the Space tools only when `spaces` is given."""
    registry = ToolRegistry([
        Tool("search_spaces", "Search Hugging Face Spaces by keyword, or by meaning with semantic=true. "
             "Returns id, title, sdk, likes, runtime stage and link for each.",
             _object({"query": _QUERY, "semantic": {"type": "boolean", "default": False},
                      "sdk": {"type": "string", "enum": list(SPACE_SDKS)},
                      "sort": {"type": "string", "enum": list(SPACE_SORTS), "default": "trending"},
                      "page": _PAGE, "limit": _LIMIT}),
             lambda query="", semantic=False, sdk=None, sort="trending", page=1, limit=AGENT_PAGE_SIZE:
             hub.search_spaces(query, semantic=semantic, sdk=sdk, sort=None if semantic else sort, page=page,
                               limit=limit)),
        Tool("search_models", "Search models on the Hub by keyword, task (pipeline tag such as text-generation), "
             "library (such as transformers) and inference provider ('all' for any).",
             _object({"query": _QUERY, "task": {"type": "string", "maxLength": 100},
                      "library": {"type": "string", "maxLength": 100},
                      "inference_provider": {"type": "string", "maxLength": 100},
                      "sort": {"type": "string", "enum": list(REPO_SORTS), "default": "downloads"},
                      "page": _PAGE, "limit": _LIMIT}),
             lambda query="", task=None, library=None, inference_provider=None, sort="downloads", page=1,
             limit=AGENT_PAGE_SIZE: hub.search_models(query, task=task, library=library,
                                                      inference_provider=inference_provider, sort=sort, page=page,
                                                      limit=limit)),
        Tool("search_datasets", "Search datasets on the Hub by keyword.",
             _object({"query": _QUERY, "sort": {"type": "string", "enum": list(REPO_SORTS), "default": "downloads"},
                      "page": _PAGE, "limit": _LIMIT}),
             lambda query="", sort="downloads", page=1, limit=AGENT_PAGE_SIZE:
             hub.search_datasets(query, sort=sort, page=page, limit=limit)),
        Tool("search_papers", "Search research papers on Hugging Face Papers.",
             _object({"query": {**_QUERY, "minLength": 1}, "page": _PAGE, "limit": _LIMIT}, ["query"]),
             lambda query, page=1, limit=AGENT_PAGE_SIZE: hub.search_papers(query, page=page, limit=limit)),
        Tool("search_docs", "Search the Hugging Face documentation; optionally within one product "
             "(e.g. hub, transformers, huggingface_hub).",
             _object({"query": {**_QUERY, "minLength": 1}, "product": {"type": "string", "maxLength": 100},
                      "limit": _LIMIT}, ["query"]),
             lambda query, product=None, limit=AGENT_PAGE_SIZE: hub.search_docs(query, product=product, limit=limit)),
        Tool("model_details", "Details of one model: card metadata, downloads, likes, tags, files, and the "
             "inference providers that serve it with prices in USD per 1M tokens.",
             _object({"repo_id": {"type": "string", "minLength": 3, "maxLength": 200,
                                  "description": "Model id, as 'owner/name'."}}, ["repo_id"]),
             lambda repo_id: hub.model_details(repo_id)),
        Tool("dataset_details", "Details of one dataset: card metadata, downloads, likes, tags and files.",
             _object({"repo_id": {"type": "string", "minLength": 3, "maxLength": 200,
                                  "description": "Dataset id, as 'owner/name'."}}, ["repo_id"]),
             lambda repo_id: hub.dataset_details(repo_id)),
        Tool("space_status", "Status of one Space: runtime stage, hardware, SDK, host, files and card metadata.",
             _object({"space_id": _SPACE_ID}, ["space_id"]),
             lambda space_id: hub.space_details(space_id)),
    ])
    if spaces is not None:
        for tool in _space_tools(spaces):
            registry.register(tool)
    return registry


def _space_tools(spaces: SpaceManager) -> list[Tool]:
    def last_log_lines(space_id: str, build: bool = False, max_lines: int = 100) -> JSON:
        lines = list(islice(spaces.logs(space_id, build=build, follow=False), 10_000))
        return {"space_id": space_id, "build": build, "lines": [line.rstrip("\n") for line in lines[-max_lines:]],
                "truncated": len(lines) > max_lines}

    return [
        Tool("my_spaces", "List the Spaces of the signed-in user with their runtime stage and hardware.",
             _object({"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}}),
             lambda limit=50: spaces.list_my_spaces(limit=limit)),
        Tool("space_logs", "The latest build logs (build=true) or run logs of a Space the user owns.",
             _object({"space_id": _SPACE_ID, "build": {"type": "boolean", "default": False},
                      "max_lines": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LINES, "default": 100}},
                     ["space_id"]),
             last_log_lines),
        Tool("restart_space", "Restart a Space (factory=true rebuilds it from scratch).",
             _object({"space_id": _SPACE_ID, "factory": {"type": "boolean", "default": False}}, ["space_id"]),
             lambda space_id, factory=False: spaces.restart(space_id, factory=factory), mutating=True),
        Tool("pause_space", "Pause a Space; it stays stopped until restarted.",
             _object({"space_id": _SPACE_ID}, ["space_id"]),
             lambda space_id: spaces.pause(space_id), mutating=True),
        Tool("delete_space", "Delete a Space for good. `confirm` must repeat the exact Space id; ask the user "
             "to type it.",
             _object({"space_id": _SPACE_ID, "confirm": {"type": "string", "maxLength": 200}},
                     ["space_id", "confirm"]),
             lambda space_id, confirm: spaces.delete(space_id, confirm=confirm) or {"deleted": space_id},
             mutating=True),
    ]
