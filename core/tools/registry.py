"""One registry of tools, shared by the Chat agent and our MCP server: the Hub tools, and remote MCP tools.

A `Tool` is a name, a description, a JSON-schema for its arguments, a handler and a `mutating` flag
(an agent should ask the user before a mutating call). `ToolRegistry.call` checks the arguments against
the schema with `jsonschema`, fills top-level defaults and returns plain JSON values.

    tools = build_hub_tools(HubClient(endpoint, token), SpaceManager(...))
    tools.call("search_models", {"query": "llama", "task": "text-generation", "limit": 5})
    tools.openai_tools()   # for chat-completions `tools=`;  tools.mcp_tools() for an MCP `tools/list`

A failed check names the argument and says what is wrong in plain words (`arguments.limit: must be at
most 50`), because the agent loop sends it back to the model to fix its call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from typing import Any

from jsonschema import Draft202012Validator, SchemaError, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import extend, validator_for

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
    mutating: bool = False          # changes something the user owns: the agent asks first
    spends_credit: bool = False     # costs money (a model request) though it changes nothing owned

    @property
    def title(self) -> str:
        """A title for people (MCP's `title`): the name in words, e.g. "Search models", "Notes: add"."""
        return self.name.replace(".", ": ").replace("_", " ").capitalize()

    @property
    def read_only(self) -> bool:
        """What MCP's `readOnlyHint` says: the call neither changes anything nor spends anything."""
        return not (self.mutating or self.spends_credit)

    def openai_schema(self) -> JSON:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def mcp_schema(self) -> JSON:
        return {"name": self.name, "description": self.description, "inputSchema": self.parameters,
                "annotations": {"readOnlyHint": self.read_only, "destructiveHint": self.mutating}}


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
        problem = schema_problem(tool.parameters)
        if problem:
            raise ValueError(f"Tool {tool.name!r}: parameters are not valid JSON Schema ({problem}).")
        self._tools[tool.name] = tool
        return tool

    def extend(self, tools: Iterable[Tool]) -> list[str]:
        """Register several tools, e.g. a remote MCP server's; returns the names added."""
        return [self.register(tool).name for tool in tools]

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
    """Check `arguments` against an object `schema` (JSON Schema, by `jsonschema`); return a copy with
    top-level defaults filled in. The first problem is raised as a `ToolArgumentError` in plain words.

    >>> validate_arguments({"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}, {})
    {'n': 3}

    The schema itself was checked when its tool was registered.
    """
    validator = _strict(validator_for(schema, default=Draft202012Validator))(schema)
    problem = best_match(validator.iter_errors(arguments))
    if problem is not None:
        raise _argument_error(problem)
    filled = dict(arguments)
    for key, spec in (schema.get("properties") or {}).items():
        if key not in filled and isinstance(spec, Mapping) and "default" in spec:
            filled[key] = spec["default"]
    return filled


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why `schema` is not valid JSON Schema (for its draft, 2020-12 by default), or None."""
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


@cache
def _strict(validator_class: type) -> type:
    """The draft's validator, except that 1.0 is not an integer: a page number must be 1, not 1.0."""
    checker = validator_class.TYPE_CHECKER.redefine("integer", lambda _, value: _TYPES["integer"](value))
    return extend(validator_class, type_checker=checker)


def _argument_error(error: ValidationError) -> ToolArgumentError:
    """A jsonschema error in the words the model reads back, naming the argument (`arguments.tags[1]`)."""
    path = "arguments" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    kind, limit, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        names = [limit] if isinstance(limit, str) else list(limit)
        return ToolArgumentError(f"expected {' or '.join(names)}, got {_type_name(value)}", path=path)
    if kind == "required":
        missing = next((k for k in limit if isinstance(value, Mapping) and k not in value), limit[0])
        return ToolArgumentError("is required", path=f"{path}.{missing}")
    if kind == "additionalProperties":
        known = list(error.schema.get("properties") or {})
        extra = next((k for k in value if k not in known), "")
        return ToolArgumentError(f"unknown argument; expected {', '.join(known) or 'none'}", path=f"{path}.{extra}")
    words = {
        "enum": lambda: f"must be one of {', '.join(map(repr, limit))}",
        "const": lambda: f"must be {limit!r}",
        "minimum": lambda: f"must be at least {limit}",
        "maximum": lambda: f"must be at most {limit}",
        "exclusiveMinimum": lambda: f"must be more than {limit}",
        "exclusiveMaximum": lambda: f"must be less than {limit}",
        "minLength": lambda: f"must have at least {limit} characters",
        "maxLength": lambda: f"must have at most {limit} characters",
        "minItems": lambda: f"must have at least {limit} items",
        "maxItems": lambda: f"must have at most {limit} items",
        "pattern": lambda: f"must match the pattern {limit!r}",
    }.get(kind)
    return ToolArgumentError(words() if words else error.message, path=path)


def _type_name(value: Any) -> str:
    return next((n for n, test in _TYPES.items() if test(value)), type(value).__name__)


# --------------------------------------------------------------------------- the Hub tools


def _object(properties: JSON, required: Iterable[str] = ()) -> JSON:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_QUERY = {"type": "string", "maxLength": 200, "description": "Words to search for."}
_PAGE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1, "description": "Page number, from 1."}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "default": AGENT_PAGE_SIZE, "description": "Results per page."}
_REPO_SORT = {"type": "string", "enum": list(REPO_SORTS), "default": "downloads",
              "description": "Order of the results."}
_PRODUCT = {"type": "string", "maxLength": 100, "description": "Only this product's docs, e.g. hub."}
_SPACE_ID = {"type": "string", "minLength": 3, "maxLength": 200, "description": "Space id, as 'owner/name'."}


def build_hub_tools(hub: HubClient, spaces: SpaceManager | None = None) -> ToolRegistry:
    """The Hub tools over one session's clients; the Space tools only when `spaces` is given."""
    registry = ToolRegistry([
        Tool("search_spaces", "Search Hugging Face Spaces by keyword, or by meaning with semantic=true. "
             "Returns id, title, sdk, likes, runtime stage and link for each.",
             _object({"query": _QUERY, "semantic": {"type": "boolean", "default": False,
                                                  "description": "Search by meaning instead of by keyword."},
                      "sdk": {"type": "string", "enum": list(SPACE_SDKS), "description": "Only Spaces on this SDK."},
                      "sort": {"type": "string", "enum": list(SPACE_SORTS), "default": "trending",
                               "description": "Order of the results (ignored with semantic=true)."},
                      "page": _PAGE, "limit": _LIMIT}),
             lambda query="", semantic=False, sdk=None, sort="trending", page=1, limit=AGENT_PAGE_SIZE:
             hub.search_spaces(query, semantic=semantic, sdk=sdk, sort=None if semantic else sort, page=page,
                               limit=limit)),
        Tool("search_models", "Search models on the Hub by keyword, task (pipeline tag such as text-generation), "
             "library (such as transformers) and inference provider ('all' for any).",
             _object({"query": _QUERY, "task": {"type": "string", "maxLength": 100,
                                                "description": "A pipeline tag, e.g. text-generation."},
                      "library": {"type": "string", "maxLength": 100, "description": "e.g. transformers, diffusers."},
                      "inference_provider": {"type": "string", "maxLength": 100,
                                             "description": "Only models this provider serves; 'all' for any."},
                      "sort": _REPO_SORT, "page": _PAGE, "limit": _LIMIT}),
             lambda query="", task=None, library=None, inference_provider=None, sort="downloads", page=1,
             limit=AGENT_PAGE_SIZE: hub.search_models(query, task=task, library=library,
                                                      inference_provider=inference_provider, sort=sort, page=page,
                                                      limit=limit)),
        Tool("search_datasets", "Search datasets on the Hub by keyword.",
             _object({"query": _QUERY, "sort": _REPO_SORT, "page": _PAGE, "limit": _LIMIT}),
             lambda query="", sort="downloads", page=1, limit=AGENT_PAGE_SIZE:
             hub.search_datasets(query, sort=sort, page=page, limit=limit)),
        Tool("search_papers", "Search research papers on Hugging Face Papers.",
             _object({"query": {**_QUERY, "minLength": 1}, "page": _PAGE, "limit": _LIMIT}, ["query"]),
             lambda query, page=1, limit=AGENT_PAGE_SIZE: hub.search_papers(query, page=page, limit=limit)),
        Tool("search_docs", "Search the Hugging Face documentation; optionally within one product "
             "(e.g. hub, transformers, huggingface_hub).",
             _object({"query": {**_QUERY, "minLength": 1}, "product": _PRODUCT,
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
             _object({"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50,
                                "description": "How many Spaces to list."}}),
             lambda limit=50: spaces.list_my_spaces(limit=limit)),
        Tool("space_logs", "The latest build logs (build=true) or run logs of a Space the user owns.",
             _object({"space_id": _SPACE_ID, "build": {"type": "boolean", "default": False,
                                                     "description": "The build logs instead of the run logs."},
                      "max_lines": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LINES, "default": 100,
                                    "description": "How many of the latest lines to return."}},
                     ["space_id"]),
             last_log_lines),
        Tool("restart_space", "Restart a Space (factory=true rebuilds it from scratch).",
             _object({"space_id": _SPACE_ID, "factory": {"type": "boolean", "default": False,
                                                       "description": "Rebuild from scratch."}}, ["space_id"]),
             lambda space_id, factory=False: spaces.restart(space_id, factory=factory), mutating=True),
        Tool("pause_space", "Pause a Space; it stays stopped until restarted.",
             _object({"space_id": _SPACE_ID}, ["space_id"]),
             lambda space_id: spaces.pause(space_id), mutating=True),
        Tool("delete_space", "Delete a Space for good. `confirm` must repeat the exact Space id; ask the user "
             "to type it.",
             _object({"space_id": _SPACE_ID, "confirm": {"type": "string", "maxLength": 200,
                                                      "description": "The Space id again, typed by the user."}},
                     ["space_id", "confirm"]),
             lambda space_id, confirm: spaces.delete(space_id, confirm=confirm) or {"deleted": space_id},
             mutating=True),
    ]
